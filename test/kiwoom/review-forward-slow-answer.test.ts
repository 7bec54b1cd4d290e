// An upstream that answers an order and then never finishes the answer (a
// byte of whitespace now and then, as some gateways send to keep a connection
// open): each byte resets undici's idle body time-out, and an order is not
// aborted when its bot leaves, so nothing ended the call and the bot waited
// past its own request deadline for ever. upstream.answerTimeoutMs bounds the
// whole answer; the bot is told the order's fate is unknown.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';

let sim: Simulator;
let up: HostileUpstream;
let h: Harness;

t.before(async () => {
  sim = await startSimulator();
  up = await startHostileUpstream(sim.url);
  h = await startHarness({
    simulator: sim,
    config: {
      upstream: { url: up.url, headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000, answerTimeoutMs: 3_000 },
      limits: { requestTimeoutMs: 3_000, headersTimeoutMs: 2_000 },
    },
  });
});
t.teardown(async () => {
  await h.close();
  await up.close();
  await sim.close();
});

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

t.test('an order whose answer trickles for ever: the bot is answered, told its fate is unknown', async (t) => {
  const token = await h.token();
  const before = sim.requestLog().filter((r) => r.apiId === 'kt10000').length;
  up.answer = async (req, _body, res, pass) => {
    if (!req.url?.startsWith('/api/dostk/')) return false;
    await pass(); // Kiwoom placed it.
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'kt10000' });
    res.write('{');
    const drip = setInterval(() => res.write(' '), 200);
    res.on('close', () => clearInterval(drip));
    return true;
  };
  // A generous wait, ten times the bot's own request deadline: not a bound on the time taken.
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    h.call('kt10000', BUY, { token }),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), 30_000);
    }),
  ]);
  clearTimeout(timer);
  up.answer = undefined;
  t.ok(r, 'the bot got an answer');
  t.equal(sim.requestLog().filter((x) => x.apiId === 'kt10000').length - before, 1, 'sent exactly once');
  t.equal(r?.status, 502, r?.text ?? 'no answer');
  t.match(r?.json.return_msg, /KG5011:KG5002/, 'an order of unknown fate, the answer having timed out');
});
