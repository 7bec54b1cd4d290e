// A broken or hostile Kiwoom, over real sockets: what it sends back must not
// hand the bot the broker token or the app's keys, must reach the bot in
// Kiwoom's shape, and an order whose answer was lost must be reported as one
// whose fate is unknown, never as one that could not be sent.
import t from 'tap';
import path from 'node:path';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { fileTexts } from '../helpers/canary-scan.js';
import { readAuditRecords, recordsFor } from '../helpers/audit-sidecar-log.js';
import { startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { createKiwoomClient, neverWritten } from '../../proxy/kiwoom/client.js';
import { GuardError } from '../../proxy/common/errors.js';
import type { RequestContext } from '../../proxy/server/context.js';

const brokerTokens: string[] = [];
let sim: Simulator;
let up: HostileUpstream;
let h: Harness;
/** Request ids whose after-stages (the outcome record among them) have run. */
const settled = new Map<string, RequestContext>();

t.before(async () => {
  sim = await startSimulator({ onTokenIssued: (tok: Buffer) => brokerTokens.push(tok.toString('latin1')) });
  up = await startHostileUpstream(sim.url);
  h = await startHarness({ simulator: sim, config: { upstream: { url: up.url } }, onSettled: (ctx) => settled.set(ctx.id, ctx) });
});
t.teardown(async () => {
  await h.close();
  await up.close();
  await sim.close();
});
t.afterEach(() => {
  up.answer = undefined;
});

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };
const isTr = (url: string | undefined) => url?.startsWith('/api/dostk/') === true;

/** Every place a bot, an operator or an auditor reads, as text. */
async function readable(seen: string): Promise<[string, string][]> {
  return [['bot response', seen], ['logs', h.logs()], ...(await fileTexts(h.dataDir))];
}

t.test('an upstream that echoes the Authorization header: the broker token never reaches the bot', async (t) => {
  const token = await h.token();
  up.answer = async (req, _body, res) => {
    if (!isTr(req.url)) return false;
    // A debugging error page or a WAF that reflects the request it refused.
    const page = `<html><body>Bad gateway. Request headers: authorization: ${req.headers.authorization}</body></html>`;
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end(page);
    return true;
  };
  const html = await h.call('ka10001', { stk_cd: '005930' }, { token });
  up.answer = async (req, _body, res) => {
    if (!isTr(req.url)) return false;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001' });
    res.end(JSON.stringify({ return_code: 1, return_msg: `invalid header [${req.headers.authorization}]` }));
    return true;
  };
  const json = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.ok(brokerTokens.length >= 1, 'a broker token was issued');
  const seen = [html.text, JSON.stringify(html.headers), json.text, JSON.stringify(json.headers)].join('\n');
  let leaks = 0;
  for (const [place, text] of await readable(seen)) {
    for (const tok of brokerTokens) {
      if (text.includes(tok)) {
        leaks++;
        t.fail(`the broker token reached ${place}`);
      }
    }
  }
  t.equal(leaks, 0, 'the broker token is nowhere a bot, an operator or an auditor reads');
  t.equal(json.status, 502, `an answer holding the broker token is refused: ${json.text}`);
  t.match(json.json.return_msg, /KG5005/, 'as a malformed broker answer');
});

t.test('an upstream answering an HTML error page: the bot gets Kiwoom’s shape', async (t) => {
  const token = await h.token();
  up.answer = async (req, _body, res) => {
    if (!isTr(req.url)) return false;
    res.writeHead(503, { 'content-type': 'text/html' });
    res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
    return true;
  };
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  up.answer = async (req, _body, res) => {
    if (!isTr(req.url)) return false;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001' });
    res.end('');
    return true;
  };
  const empty = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.match(empty.json.return_msg, /KG5005/, `an empty 200 answer too: ${empty.text}`);
  t.match(String(r.headers['content-type']), /^application\/json/);
  t.type(r.json.return_code, 'number', `a JSON body with a return_code: ${r.text}`);
  t.equal(r.status, 502, 'as a malformed broker answer');
  t.match(r.json.return_msg, /KG5005:.*HTTP 503/, 'naming the code and the status Kiwoom answered');
  t.notMatch(r.text, /<html>/, 'the page itself is not passed on');
});

t.test('an order written whose answer is lost: reported as of unknown fate, sent once', async (t) => {
  const token = await h.token();
  const before = sim.requestLog().filter((r) => r.apiId === 'kt10000').length;
  up.answer = async (req, _body, res, pass) => {
    if (!isTr(req.url)) return false;
    await pass(); // Kiwoom placed it; the answer never comes back.
    res.socket?.destroy();
    return true;
  };
  const r = await h.call('kt10000', BUY, { token });
  t.equal(sim.requestLog().filter((x) => x.apiId === 'kt10000').length - before, 1, 'sent exactly once');
  t.equal(r.status, 502, r.text);
  t.match(r.json.return_msg, /KG5011/, `a code of its own, not "cannot connect": ${r.text}`);
  t.match(r.json.return_msg, /주문/, 'the message (Korean by default) speaks of the order');
});

t.test('a call that never found a connection is known not to have left', async (t) => {
  // A port nothing listens on: the connection is refused before a byte of the call is written.
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = createKiwoomClient({
    baseUrl: `http://127.0.0.1:${port}`,
    connections: 1,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
    answerTimeoutMs: 5_000,
    revokeTimeoutMs: 3_000,
    keepAliveTimeoutMs: 1_000,
    maxResponseBytes: 1 << 16,
    limits: {},
    sim: { ideal: false },
  });
  t.teardown(() => client.close());
  const err = await client.call({ apiId: 'kt10000', path: '/api/dostk/ordr', body: Buffer.from('{}'), token: Buffer.from('t') }).catch((e: unknown) => e);
  t.match(err, { code: 'KG5001', detail: 'ECONNREFUSED' });
  t.ok(neverWritten(err), 'a refused connection: never written');
  t.notOk(neverWritten(new GuardError('KG5001', 'UND_ERR_SOCKET')), 'a dropped connection may hide a written call');
});

t.test('an order Kiwoom answered with its own JSON error: passed on as it is', async (t) => {
  const token = await h.token();
  const before = sim.requestLog().filter((r) => r.apiId === 'kt10000').length;
  up.answer = async (req, _body, res) => {
    if (!isTr(req.url)) return false;
    res.writeHead(503, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(JSON.stringify({ return_code: 1, return_msg: 'maintenance' }));
    return true;
  };
  const r = await h.call('kt10000', BUY, { token });
  t.equal(sim.requestLog().filter((x) => x.apiId === 'kt10000').length - before, 0, 'the simulator never saw it');
  t.equal(r.status, 503, `Kiwoom's own JSON answer is passed on as it is: ${r.text}`);
  t.same(r.json, { return_code: 1, return_msg: 'maintenance' });
});

t.test('a token issue refused with a message that echoes the keys: the keys never reach the bot or the logs', async (t) => {
  await h.waitNoLiveTokens(20_000);
  up.answer = async (req, body, res) => {
    if (req.url !== '/oauth2/token') return false;
    const sent = JSON.parse(body.toString('utf8')) as Record<string, string>;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'au10001' });
    res.end(JSON.stringify({ return_code: 3, return_msg: `[8001:appkey ${sent.appkey} secretkey ${sent.secretkey} 검증에 실패했습니다]` }));
    return true;
  };
  const token = await h.token();
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(r.status, 502, r.text);
  t.match(r.json.return_msg, /KG5004/);
  let leaks = 0;
  for (const [place, text] of await readable(`${r.text}\n${JSON.stringify(r.headers)}`)) {
    for (const [name, secret] of [
      ['app key', CANARY.appKey],
      ['secret key', CANARY.secretKey],
    ]) {
      if (text.includes(secret!)) {
        leaks++;
        t.fail(`the ${name} reached ${place}`);
      }
    }
  }
  t.equal(leaks, 0, 'the keys Kiwoom echoed are nowhere a bot, an operator or an auditor reads');
  t.match(r.json.return_msg, /8001/, "Kiwoom's detail code is still named");
});

t.test('an answer with an outsized return_code: the placed order still has its outcome record', async (t) => {
  const token = await h.token();
  up.answer = async (req, _body, res, pass) => {
    if (!isTr(req.url)) return false;
    const placed = JSON.parse((await pass()).body.toString('utf8')) as Record<string, unknown>;
    // Kiwoom placed it; what comes back carries a return_code that is no number, just under the parsed-answer size.
    const shape = (pad: number) =>
      JSON.stringify({ ...placed, return_code: [...Array.from({ length: 15 }, () => 'x'.repeat(4000)), 'x'.repeat(pad)], ord_no: '9'.repeat(4000) });
    const body = shape(65_400 - shape(0).length);
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'kt10000' });
    res.end(body);
    return true;
  };
  const r = await h.call('kt10000', BUY, { token });
  const id = String(r.headers['x-kguard-request-id']);
  await waitFor(() => settled.has(id), 10_000, 'the after-stages');
  const records = recordsFor(await readAuditRecords(path.join(h.dataDir, 'audit')), id);
  const outcome = records.find((x) => x.type === 'call.outcome');
  t.ok(outcome, `the order's outcome is recorded (records: ${records.map((x) => x.type).join(', ')})`);
  t.equal(outcome?.data.ok, false, 'not recorded as OK');
  t.notOk(h.logs().includes('outcome audit record failed'), 'no outcome record was refused');
});

t.test('an order whose answer echoes the broker token: of unknown fate, its daily-cap charge kept', async (t) => {
  const token = await h.token();
  up.answer = async (req, _body, res, pass) => {
    if (!isTr(req.url)) return false;
    const placed = JSON.parse((await pass()).body.toString('utf8')) as Record<string, unknown>;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'kt10000' });
    res.end(JSON.stringify({ ...placed, return_msg: `${String(placed.return_msg)} (${req.headers.authorization})` }));
    return true;
  };
  const r = await h.call('kt10000', BUY, { token });
  const id = String(r.headers['x-kguard-request-id']);
  await waitFor(() => settled.has(id), 10_000, 'the after-stages');
  t.match(r.json.return_msg, /KG5011:KG5005/, `placed, but its answer could not be passed on: ${r.text}`);
  t.notOk(settled.get(id)?.outcome?.notPlaced, 'not taken for an order that never reached the book (its daily-cap charge stays)');
});
