// A realtime LOGIN with a forged or dead token was refused at once however often it came: a token brute force
// over the WebSocket cost one handshake per guess, while the same guesses over REST were held past
// limits.authFailureHold.afterFailures. A LOGIN's authentication failure now counts with the REST ones of its
// source (or of the bot id its token's signature names) and is held as they are, within the same caps; a good
// LOGIN from that address is not slowed. No wall clock: holdMs is a minute, and the tests wait for the gauge of
// held refusals. A forged LOGIN again on a logged-in socket counts too (its answer is held; the session goes on).
import t from 'tap';
import { Agent } from 'undici';
import { startHarness, waitFor } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

const h = await startHarness({
  sim: { wsQuoteIntervalMs: 0 } as never,
  allowed: ['kind:query', 'kind:realtime'],
  config: { limits: { authFailureHold: { afterFailures: 2, windowMs: 3_600_000, holdMs: 60_000, maxSources: 100 } } },
});
const other = new Agent({ localAddress: '127.0.0.2' });
t.teardown(async () => {
  await h.close();
  await other.close();
});

const heldNow = async (): Promise<number> => {
  const metric = h.sidecar.parts.registry.getSingleMetric('kguard_refusals_held');
  return metric ? ((await metric.get()).values[0]?.value ?? 0) : -1;
};
const forge = (token: string): string => `${token.slice(0, token.lastIndexOf('.'))}.AAAA`;

/** Sends a LOGIN and waits until the sidecar holds its refusal (the gauge rises past `before`) or answers it. */
async function heldLogin(token: string, before: number, localAddress?: string) {
  const s = await connectBot(h.sidecar.realtimeUrl, localAddress ? { localAddress } : {});
  s.send({ trnm: 'LOGIN', token });
  await waitFor(async () => s.frames.some((f) => f.trnm === 'LOGIN') || (await heldNow()) > before, 20_000, 'the LOGIN held or answered');
  return s;
}

t.test('forged LOGINs from one address: the first are refused at once, the next is held; a good LOGIN passes', async (t) => {
  const forged = forge(await h.token());
  for (let i = 1; i <= 2; i++) {
    const s = await connectBot(h.sidecar.realtimeUrl);
    const reply = await s.login(forged);
    t.match(String(reply.return_msg), /KG2002/, `forged LOGIN ${i} is refused at once (within afterFailures)`);
    await s.closed;
  }
  t.equal(await heldNow(), 0, 'neither was held');
  const third = await heldLogin(forged, 0);
  t.equal(third.frames.length, 0, 'the third forged LOGIN from that address is held: no answer yet');
  t.equal(await heldNow(), 1);

  const good = await connectBot(h.sidecar.realtimeUrl);
  t.equal((await good.login(await h.token())).return_code, 0, 'a valid LOGIN from the same address passes meanwhile');
  good.close();

  third.close();
  await third.closed;
  await waitFor(async () => (await heldNow()) === 0, 20_000, 'the hold given back');
  t.equal(await heldNow(), 0, 'a bot that hangs up frees its held place');
});

t.test("REST and WebSocket failures of one address count together: two forged calls, then the socket's LOGIN is held", async (t) => {
  const forged = forge(await h.token());
  for (let i = 1; i <= 2; i++) {
    const r = await h.call('ka10001', { stk_cd: '005930' }, { token: forged, dispatcher: other });
    t.match(r.json.return_msg, /KG2002/, `forged REST call ${i} from 127.0.0.2 is answered`);
  }
  const s = await heldLogin(forged, 0, '127.0.0.2');
  t.equal(s.frames.length, 0, 'the LOGIN after them from the same address is held');
  const slowed = await h.sidecar.parts.registry.getSingleMetric('kguard_auth_failures_slowed_total')!.get();
  t.ok((slowed.values[0]?.value ?? 0) >= 2, 'counted as slowed authentication failures');
  s.close();
  await s.closed;
  await waitFor(async () => (await heldNow()) === 0, 20_000, 'the hold given back');
});

t.test('forged LOGINs again on a logged-in socket are counted and held alike; the session is not ended by them', async (t) => {
  const s = await connectBot(h.sidecar.realtimeUrl, { localAddress: '127.0.0.3' });
  t.equal((await s.login(await h.token())).return_code, 0, 'logged in from 127.0.0.3');
  const forged = forge(await h.token());
  for (let i = 1; i <= 2; i++) t.match(String((await s.login(forged)).return_msg), /KG2002/, `forged LOGIN ${i} on the socket is refused at once`);
  const before = await heldNow();
  s.send({ trnm: 'LOGIN', token: forged });
  await waitFor(async () => s.frames.filter((f) => f.trnm === 'LOGIN').length > 3 || (await heldNow()) > before, 20_000, 'the third held or answered');
  t.equal(s.frames.filter((f) => f.trnm === 'LOGIN').length, 3, 'the third forged LOGIN on the socket is held: no answer yet');
  t.equal(s.ws.readyState, s.ws.OPEN, 'the session stays open');
  s.close();
  await s.closed;
});
