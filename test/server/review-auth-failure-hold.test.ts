// A flood of forged tokens (or a token brute force) from one address must not spin the event loop other
// tenants share: past limits.authFailureHold.afterFailures failures in windowMs from one source (or for one
// bot id), each further failure's answer is held holdMs. Other sources, and well-behaved bots on the same
// source, are not slowed. No wall clock: holdMs is a minute, so a held failure is answered only at shutdown.
import t from 'tap';
import { Agent } from 'undici';
import { startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';

const QUERY = { stk_cd: '005930' };

/**
 * Another signature: its first character changed. Not its last: an HS256 signature's last base64url character carries
 * two padding bits, so A, B, C and D decode to the same bytes, and a token ending in one of them (4 in 64) was
 * "forged" into one that verified (a CI run).
 */
function forge(token: string): string {
  const at = token.lastIndexOf('.') + 1;
  return `${token.slice(0, at)}${token[at] === 'A' ? 'Q' : 'A'}${token.slice(at + 1)}`;
}

function watched(h: Harness, token: string, dispatcher?: Agent) {
  const state = { done: false };
  const promise = h.call('ka10001', QUERY, { token, ...(dispatcher ? { dispatcher } : {}) }).then((r) => {
    state.done = true;
    return r;
  });
  return { state, promise };
}

t.test('forged tokens from one address: the first are answered, the rest held; other sources and good bots are not', async (t) => {
  const h = await startHarness({ config: { limits: { authFailureHold: { afterFailures: 3, windowMs: 3_600_000, holdMs: 60_000, maxSources: 100 } } } });
  let closed = false;
  const close = async () => {
    if (!closed) await h.close();
    closed = true;
  };
  const other = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(async () => {
    await close();
    await other.close();
  });
  const heldNow = async () => {
    const metric = h.sidecar.parts.registry.getSingleMetric('kguard_refusals_held');
    return metric ? ((await metric.get()).values[0]?.value ?? 0) : -1;
  };
  const token = await h.token();
  const forged = forge(token);

  for (let i = 1; i <= 3; i++) {
    const r = await h.call('ka10001', QUERY, { token: forged });
    t.match(r.json.return_msg, /KG2002/, `forged call ${i} is refused (and answered: it is within afterFailures)`);
  }
  const fourth = watched(h, forged);
  let answered = false;
  await Promise.race([fourth.promise.then(() => (answered = true)), waitFor(async () => answered || (await heldNow()) >= 1, 20_000, 'one held')]);
  t.equal(fourth.state.done, false, 'the fourth forged call from that address is held');

  const good = await h.call('ka10001', QUERY, { token });
  t.equal(good.json.return_code, 0, 'a valid token from the same address passes meanwhile');
  const elsewhere = await h.call('ka10001', QUERY, { token: forged, dispatcher: other });
  t.match(elsewhere.json.return_msg, /KG2002/, 'a forged call from another address is answered: its own count');
  t.equal(fourth.state.done, false, 'the held one is still held');

  await close();
  const r: CallResult = await fourth.promise;
  t.equal(r.status, 401, 'shutdown answers the held failure');
  t.match(r.json.return_msg, /KG2002/, 'as the authentication failure it is');
});
