// Unit tests per pipeline stage, on hand-made request contexts (the stages
// are plain functions). The whole pipeline over real sockets is tested by
// e2e, smuggling, bad-input, session-overlap and the other sidecar tests.
import t from 'tap';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GuardError } from '../../proxy/common/errors.js';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import type { BotRecord, SessionClaims } from '../../proxy/auth/index.js';
import type { Decision } from '../../proxy/policy/types.js';
import { callFacts } from '../../proxy/policy/facts.js';
import type { RequestContext } from '../../proxy/server/context.js';
import { allowlist } from '../../proxy/server/pipeline/allowlist.js';
import { approval } from '../../proxy/server/pipeline/approval.js';
import { durabilityFor } from '../../proxy/server/pipeline/audit-intent.js';
import { sessionFirst } from '../../proxy/server/pipeline/authenticate.js';
import { classify } from '../../proxy/server/pipeline/classify.js';
import { framing } from '../../proxy/server/pipeline/framing.js';
import { lockdown } from '../../proxy/server/pipeline/lockdown.js';
import { authenticated, judged, parsed } from '../../proxy/server/pipeline/need.js';
import { parse } from '../../proxy/server/pipeline/parse.js';
import { policyCall } from '../../proxy/server/pipeline/policy.js';
import { session } from '../../proxy/server/pipeline/session.js';
import { risk, riskInput } from '../../proxy/server/pipeline/risk.js';
import { dailyVolume } from '../../proxy/server/pipeline/after/daily-volume.js';
import { holdings } from '../../proxy/server/pipeline/after/holdings.js';
import type { ResponseContext } from '../../proxy/response/context.js';
import { createHoldings } from '../../proxy/response/holdings.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { answerOf, outcomeAudit, trailingReturnCode } from '../../proxy/server/pipeline/after/outcome.js';
import { buildPipelines } from '../../proxy/server/pipeline/index.js';

const BOT: BotRecord = { id: 'b1', owner: 'o', account: '1234', allowed: ['kind:query'], enabled: true, createdAt: '', updatedAt: '' } as unknown as BotRecord;
const CLAIMS = { botId: 'b1', jti: 'j', epoch: 0 } as unknown as SessionClaims;

function ctx(
  over: { method?: string; url?: string; headers?: Record<string, string>; rawHeaders?: string[] } = {},
  fields: Partial<RequestContext> = {},
): RequestContext {
  const headers = { 'content-type': 'application/json', ...over.headers };
  const req = {
    method: over.method ?? 'POST',
    url: over.url ?? '/api/dostk/stkinfo',
    headers,
    rawHeaders: over.rawHeaders ?? Object.entries(headers).flat(),
  } as unknown as IncomingMessage;
  return {
    id: 'r1',
    startedAt: 0,
    req,
    res: {} as ServerResponse,
    signal: new AbortController().signal,
    route: 'tr',
    sourceIp: '127.0.0.1',
    body: Buffer.alloc(0),
    intentional: false,
    upstreamMs: 0,
    trail: [],
    ...fields,
  };
}

const code = (err: unknown) => (err as GuardError).code;
const authed = (fields: Partial<RequestContext> = {}) => ({ claims: CLAIMS, bot: BOT, liveCheck: Promise.resolve(), ...fields });

t.test('framing: POST only, no ambiguous framing, JSON only', async (t) => {
  t.throws(() => framing(ctx({ method: 'GET' })), { code: 'KG1008' });
  t.throws(() => framing(ctx({ rawHeaders: ['Content-Length', '2', 'Transfer-Encoding', 'chunked', 'content-type', 'application/json'] })), { code: 'KG1003' });
  t.throws(() => framing(ctx({ headers: { 'content-type': 'text/plain' } })), { code: 'KG1011' });
  t.doesNotThrow(() => framing(ctx()));
});

t.test('classify: api-id from the catalogue, path must match, approval id shape checked', async (t) => {
  t.throws(() => classify(ctx()), { code: 'KG1006' }, 'no api-id');
  t.throws(() => classify(ctx({ headers: { 'api-id': 'kt99999' } })), { code: 'KG1004' });
  t.throws(() => classify(ctx({ headers: { 'api-id': 'au10001' } })), { code: 'KG1005' }, 'token issue is not a TR call');
  t.throws(() => classify(ctx({ url: '/api/dostk/ordr', headers: { 'api-id': 'ka10001' } })), { code: 'KG1005' }, 'wrong path for the api-id');
  const c = ctx({ headers: { 'api-id': 'ka10001', 'x-kguard-approval-id': 'bad id!', 'x-kguard-intentional': '1' } });
  classify(c);
  t.equal(c.entry?.apiId, 'ka10001');
  t.equal(c.approvalId, undefined, 'a malformed approval id is ignored');
  t.equal(c.intentional, true);
  const d = ctx({ headers: { 'api-id': 'ka10001', 'x-kguard-approval-id': 'abcdEFGH_1234' } });
  classify(d);
  t.equal(d.approvalId, 'abcdEFGH_1234');
});

t.test('parse and allowlist need a classified, authenticated call', async (t) => {
  const entry = lookupApi('ka10001')!;
  t.throws(() => parse(ctx({}, { body: Buffer.from('{}') })), { code: 'KG9001' }, 'out of order fails closed');
  const c = ctx({}, { ...authed(), apiId: 'ka10001', entry, body: Buffer.from('{"other":1}') });
  t.throws(() => parse(c), { code: 'KG1010' }, 'a required field is missing');
  c.body = Buffer.from('{"stk_cd":');
  t.throws(() => parse(c), { code: 'KG1001' }, 'malformed JSON refused');
  c.body = Buffer.from('{"stk_cd":"005930"}');
  parse(c);
  t.same(parsed(c).json, { stk_cd: '005930' });
  t.doesNotThrow(() => allowlist(c), 'a query is allowed');
  const order = ctx({}, { ...authed(), apiId: 'kt10000', entry: lookupApi('kt10000')!, json: {} });
  t.throws(() => allowlist(order), { code: 'KG3002' }, "an order is not on a query-only bot's list");
});

t.test('need: typed views fail closed when a stage ran out of order', async (t) => {
  t.throws(() => authenticated(ctx()), { code: 'KG9001' });
  t.throws(() => judged(ctx({}, { ...authed(), apiId: 'ka10001', entry: lookupApi('ka10001')!, json: {} })), { code: 'KG9001' });
});

t.test('session, lockdown: await what earlier stages started', async (t) => {
  await t.rejects(session(ctx({}, authed({ liveCheck: Promise.reject(new GuardError('KG2004')) }))), { code: 'KG2004' });
  await t.rejects(lockdown(ctx()), { code: 'KG9001' }, 'no prefetch: fails closed');
  const locked = Promise.reject(new GuardError('KG3008'));
  locked.catch(() => undefined);
  await t.rejects(
    lockdown(
      ctx(
        {},
        {
          prefetched: {
            tradingState: { botId: 'b1', account: '1', state: Promise.resolve(undefined as never) },
            lockdown: locked,
            original: Promise.resolve(undefined),
          },
        },
      ),
    ),
    { code: 'KG3008' },
  );
});

t.test('sessionFirst: an error before the session verdict waits for it, and the session error wins', async (t) => {
  const failing = sessionFirst({
    name: 'x',
    run: () => {
      throw new GuardError('KG1004');
    },
  });
  const revoked = Promise.reject(new GuardError('KG2004'));
  revoked.catch(() => undefined);
  await t.rejects(async () => failing.run(ctx({}, { liveCheck: revoked })), { code: 'KG2004' });
  await t.rejects(async () => failing.run(ctx({}, { liveCheck: Promise.resolve() })), { code: 'KG1004' });
});

t.test('approval: allow passes, deny names its rule, rate limits answer KG3005 with retry-after', async (t) => {
  const deps = {
    approvals: {} as never,
    approvalConfig: {} as never,
    sessions: {} as never,
    bots: {} as never,
    responder: {} as never,
    policy: {} as never,
    logger: {} as never,
  };
  const stage = approval(deps);
  const base = { ...authed(), apiId: 'kt10000', entry: lookupApi('kt10000')!, json: {} };
  await t.resolves(stage(ctx({}, { ...base, decision: { outcome: 'allow' } as Decision })));
  const deny = await stage(
    ctx({}, { ...base, decision: { outcome: 'deny', ruleId: 'order-size', ruleKind: 'order-size', reason: 'too big' } as Decision }),
  ).catch((e: unknown) => e);
  t.equal(code(deny), 'KG3001');
  t.match((deny as GuardError).detail, /rule=order-size too big/);
  const rate = await stage(ctx({}, { ...base, decision: { outcome: 'deny', ruleId: 'r', ruleKind: 'rate-limit', retryAfterMs: 1500 } as Decision })).catch(
    (e: unknown) => e,
  );
  t.equal(code(rate), 'KG3005');
  t.same((rate as GuardError).headers, { 'retry-after': '2' });
});

t.test('durability by kind, policy call and risk input from the parsed call', async (t) => {
  t.equal(durabilityFor('order'), 'fsync');
  t.equal(durabilityFor('cancel'), 'fsync');
  t.equal(durabilityFor('query'), 'write');
  const p = parsed(
    ctx({}, { ...authed(), apiId: 'kt10001', entry: lookupApi('kt10001')!, json: { stk_cd: '005930', ord_qty: '10', ord_uv: '70000' }, intentional: true }),
  );
  t.match(policyCall(p), { botId: 'b1', account: '1234', apiId: 'kt10001', intentional: true, body: { stk_cd: '005930' } });
  t.match(riskInput(p, 42), { botId: 'b1', side: 'sell', stkCd: '005930', qty: 10, price: 70000, now: 42, sourceIp: '127.0.0.1' });
  // Order quantities and prices follow kiwoom/protocol, as the policy does: signed ones are malformed, not scored.
  for (const [ord_qty, ord_uv] of [
    ['-5', '-70000'],
    ['+10', '+70000'],
  ]) {
    const q = parsed(ctx({}, { ...authed(), apiId: 'kt10001', entry: lookupApi('kt10001')!, json: { stk_cd: '005930', ord_qty, ord_uv } }));
    const r = riskInput(q, 42);
    t.equal(r.qty, undefined, `qty ${ord_qty}`);
    t.equal(r.price, undefined, `price ${ord_uv}`);
  }
  // Each kind's own fields, as the broker reads them: a modify's ord_qty and ord_uv are not its terms.
  const modify = parsed(
    ctx(
      {},
      {
        ...authed(),
        apiId: 'kt10002',
        entry: lookupApi('kt10002')!,
        json: { stk_cd: '005930', mdfy_qty: '5000', mdfy_uv: '70000', ord_qty: '1', ord_uv: '1' },
      },
    ),
  );
  t.match(riskInput(modify, 42), { kind: 'modify', qty: 5000, price: 70000 });
  t.match(callFacts(policyCall(modify), 42), { quantity: 5000, limitPrice: 70000 });
  const cancel = parsed(
    ctx({}, { ...authed(), apiId: 'kt10003', entry: lookupApi('kt10003')!, json: { stk_cd: '005930', cncl_qty: '0', ord_qty: '7', ord_uv: '9' } }),
  );
  t.match(riskInput(cancel, 42), { kind: 'cancel', qty: 0, price: undefined });
});

t.test('risk: an order at the market is priced from the holdings read, else at a quote; a limit order keeps its own price', async (t) => {
  const seen: { holdingQty?: number; price?: number; qty?: number; pricedBy?: string }[] = [];
  const reads: string[] = [];
  const quoted: string[] = [];
  const engine = {
    quotesMarketOrders: true,
    assess: async (input: { holdingQty?: number; price?: number; qty?: number; pricedBy?: string }) => {
      seen.push({ holdingQty: input.holdingQty, price: input.price, qty: input.qty, ...(input.pricedBy ? { pricedBy: input.pricedBy } : {}) });
      return { score: 0, level: 'none', contributions: [] };
    },
    isHighRisk: () => false,
  };
  const stage = risk({
    risk: engine as never,
    policy: {
      referencePrice: async (botId: string, stkCd: string) => {
        quoted.push(`${botId}:${stkCd}`);
        return stkCd === '035720' ? 45_000 : null;
      },
    } as never,
    responder: {
      baselineHolding: async (_account: string, stkCd: string) => {
        reads.push(stkCd);
        return stkCd === '005930' ? { qty: 100, price: 71_000 } : stkCd === '000660' ? { qty: 5 } : undefined;
      },
    } as never,
    logger: { warn() {} } as never,
    clock: () => 42,
    approvals: { get: async () => undefined } as never,
  });
  const order = async (apiId: 'kt10000' | 'kt10001', json: Record<string, unknown>) => {
    await stage(ctx({}, { ...authed(), apiId, entry: lookupApi(apiId)!, json: { dmst_stex_tp: 'KRX', ord_qty: '10', ...json } }));
    return seen.at(-1);
  };
  t.same(
    await order('kt10001', { stk_cd: '005930', ord_uv: '', trde_tp: '3' }),
    { holdingQty: 100, price: 71_000, qty: 10, pricedBy: 'holdings' },
    'a market sell: the read price',
  );
  t.same(
    await order('kt10001', { stk_cd: '005930', ord_uv: '99999', trde_tp: '3' }),
    { holdingQty: 100, price: 71_000, qty: 10, pricedBy: 'holdings' },
    "a market sell's ord_uv is not its price",
  );
  t.same(await order('kt10001', { stk_cd: '005930', ord_uv: '70000', trde_tp: '0' }), { holdingQty: 100, price: 70_000, qty: 10 }, 'a limit sell: its own');
  t.same(
    await order('kt10000', { stk_cd: '005930', ord_uv: '', trde_tp: '3' }),
    { holdingQty: undefined, price: 71_000, qty: 10, pricedBy: 'holdings' },
    'a market buy of a held name',
  );
  t.same(quoted, [], 'a held name priced by the read: no quote');
  t.same(
    await order('kt10000', { stk_cd: '035720', ord_uv: '', trde_tp: '3' }),
    { holdingQty: undefined, price: 45_000, qty: 10, pricedBy: 'quote' },
    'not held: the quote',
  );
  t.same(quoted, ['b1:035720'], "the bot's own quote of the name");
  t.same(await order('kt10001', { stk_cd: '000660', ord_uv: '', trde_tp: '3' }), { holdingQty: 5, price: undefined, qty: 10 }, 'no quote to be had');
  t.same(quoted, ['b1:035720', 'b1:000660'], 'a held name the read does not price is quoted');
  t.same(
    await order('kt10000', { stk_cd: '035720', ord_uv: '', trde_tp: '0' }),
    { holdingQty: undefined, price: undefined, qty: 10 },
    'a limit buy without a price',
  );
  t.same(
    await order('kt10000', { stk_cd: '035720', ord_uv: '', ord_qty: '', trde_tp: '3' }),
    { holdingQty: undefined, price: undefined, qty: undefined },
    'a market buy without a quantity',
  );
  engine.quotesMarketOrders = false;
  t.same(await order('kt10000', { stk_cd: '035720', ord_uv: '', trde_tp: '3' }), { holdingQty: undefined, price: undefined, qty: 10 }, 'quotes off');
  t.equal(quoted.length, 2, 'none of the last three is quoted');
  const before = reads.length;
  t.same(await order('kt10000', { stk_cd: '005930', ord_uv: '70000', trde_tp: '0' }), { holdingQty: undefined, price: 70_000, qty: 10 });
  t.equal(reads.length, before, 'a limit buy reads no holdings');
});

t.test('after: holdings only from a complete, successful balance inquiry, its pages put together in the store', async (t) => {
  let now = 1_000_000;
  const store = createMemoryStore({ now: () => now });
  t.teardown(() => store.close());
  const book = createHoldings({ store, now: () => now } as unknown as ResponseContext);
  // Two replicas: two stages, one store.
  const [stageA, stageB] = [0, 1].map(() => holdings({ responder: book as never, logger: { warn() {} } as never }));
  const page = (code: string, qty: number) =>
    Buffer.from(
      JSON.stringify({
        acnt_evlt_remn_indv_tot: [{ stk_cd: `A${code}`, rmnd_qty: String(qty).padStart(15, '0'), cur_prc: '70000', pur_pric: '65000' }],
        return_code: 0,
      }),
    );
  const read = async (
    body: Buffer,
    over: { ok?: boolean; contYn?: string; nextKey?: string; answerCont?: string; answerKey?: string; bot?: BotRecord; replica?: 'B' } = {},
  ) => {
    const c = ctx(
      {},
      {
        ...authed(over.bot ? { bot: over.bot } : {}),
        apiId: 'kt00018',
        ...(over.contYn ? { contYn: over.contYn, nextKey: over.nextKey } : {}),
        upstream: { status: 200, body, ...(over.answerCont ? { contYn: over.answerCont, nextKey: over.answerKey } : {}) },
        outcome: { ok: over.ok ?? true },
      },
    );
    await (over.replica === 'B' ? stageB! : stageA!)(c);
    return c.holdingsRecorded === true;
  };
  const held = async () =>
    (JSON.parse((await store.get('response:holdings:1234')) ?? '{"holdings":[]}') as { holdings: { stkCd: string; qty: number }[] }).holdings;
  const codes = async () => (await held()).map((h) => `${h.stkCd}:${h.qty}`);

  t.notOk(await read(page('005930', 10), { ok: false }));
  t.same(await held(), [], 'not from a failed call');
  t.ok(await read(page('005930', 10)), 'one page, complete: recorded');
  t.same(await held(), [{ stkCd: '005930', qty: 10, price: 70000, avgPrice: 65000 }]);

  t.notOk(await read(page('000660', 3), { answerCont: 'Y', answerKey: 'k1' }), 'a first page of more: not yet');
  t.same(await codes(), ['005930:10'], 'the last whole read stands meanwhile');
  t.notOk(await read(page('035720', 7), { contYn: 'Y', nextKey: 'k1', answerCont: 'Y', answerKey: 'k2' }));
  t.ok(await read(page('051910', 2), { contYn: 'Y', nextKey: 'k2', replica: 'B' }), 'the last page, on another replica');
  t.same(await codes(), ['000660:3', '035720:7', '051910:2'], 'the three pages, recorded once the last came');

  t.notOk(await read(page('005930', 1), { contYn: 'Y', nextKey: 'k2' }), 'a next page without its first (the chain was used): nothing');
  t.notOk(await read(page('005930', 1), { answerCont: 'Y', answerKey: 'k1' }));
  t.notOk(await read(page('000660', 1), { contYn: 'Y', nextKey: 'other' }), 'a page of another chain drops the read');
  t.notOk(await read(page('035720', 1), { contYn: 'Y', nextKey: 'k1' }));
  t.notOk(await read(page('005930', 1), { answerCont: 'Y', answerKey: 'k1' }));
  t.ok(await read(page('005930', 9), { bot: { ...BOT, id: 'b2', account: '5678' } as BotRecord }), "another bot's read");
  t.ok(await read(page('000660', 1), { contYn: 'Y', nextKey: 'k1' }), "does not break this one's");
  t.same(await codes(), ['005930:1', '000660:1']);
  t.notOk(await read(page('005930', 1), { answerCont: 'Y', answerKey: 'k1' }));
  now += 61_000;
  t.notOk(await read(page('000660', 5), { contYn: 'Y', nextKey: 'k1' }), 'a next page over a minute later: dropped');
  t.notOk(await read(page('000660', 5), { answerCont: 'Y' }), 'more pages without a next-key: cannot be completed');
  t.same(await codes(), ['005930:1', '000660:1']);
});

t.test("after: a large answer's return_code is read from its tail, and only a top-level one counts", async (t) => {
  const rows = Array.from({ length: 600 }, (_, i) => ({ dt: String(20260101 + i), trde_qty: '12345', note: 'x'.repeat(150) }));
  const chart = (tail: Record<string, unknown>) => Buffer.from(JSON.stringify({ stk_cd: '005930', stk_dt_pole_chart_qry: rows, ...tail }));
  const ok = chart({ return_code: 0, return_msg: '정상적으로 처리되었습니다' });
  t.ok(ok.length > 64 * 1024, `${ok.length} bytes`);
  t.equal(trailingReturnCode(ok), 0);
  t.equal(trailingReturnCode(chart({ return_code: 5, return_msg: '허용된 요청 개수를 초과하였습니다' })), 5);
  t.equal(trailingReturnCode(chart({})), undefined, 'none at all');
  const nested = Buffer.from(JSON.stringify({ rows: [...rows, { return_code: 0 }] }));
  t.equal(trailingReturnCode(nested), undefined, "a row's return_code is not the answer's");
  const quoted = Buffer.from(JSON.stringify({ rows, return_msg: '"return_code":0}' }));
  t.equal(trailingReturnCode(quoted), undefined, 'inside a string it is escaped and cannot match');
  const first = Buffer.from(JSON.stringify({ return_code: 0, rows }));
  t.equal(trailingReturnCode(first), undefined, 'not near the end of a large answer: unknown, so not OK');
  t.equal(trailingReturnCode(Buffer.from(`${ok.subarray(0, ok.length - 1).toString()}`)), undefined, 'truncated');

  const appended: Record<string, unknown>[] = [];
  const stage = outcomeAudit({ auditor: { append: async (r: Record<string, unknown>) => void appended.push(r) } as never, logger: {} as never });
  const c = ctx({}, { ...authed(), apiId: 'ka10081', upstream: { status: 200, body: ok } });
  await stage(c);
  t.same(c.outcome, { ok: true }, 'a 600-day chart completed OK: learned and counted like any call');
  t.match(appended[0], { type: 'call.outcome', ok: true, returnCode: 0 });
  const refused = ctx({}, { ...authed(), apiId: 'ka10081', upstream: { status: 200, body: chart({ return_code: 5, return_msg: 'x' }) } });
  await stage(refused);
  t.same(refused.outcome, { ok: false, notPlaced: true }, 'Kiwoom refused it: it took no effect');
  const serverError = ctx({}, { ...authed(), apiId: 'ka10081', upstream: { status: 500, body: chart({ return_code: 1, return_msg: 'x' }) } });
  await stage(serverError);
  t.same(serverError.outcome, { ok: false }, 'a server error may hide a call that took effect');
  const unread = ctx({}, { ...authed(), apiId: 'ka10081', upstream: { status: 200, body: chart({}) } });
  await stage(unread);
  t.same(unread.outcome, { ok: false }, 'an answer whose return_code cannot be read may hide one too');
  const neverSent = ctx({}, { ...authed(), apiId: 'kt10000' });
  await stage(neverSent);
  t.same(neverSent.outcome, { ok: false, notPlaced: true }, 'a call that never left took no effect');
  const written = ctx({}, { ...authed(), apiId: 'kt10000', wire: 'writing' });
  await stage(written);
  t.same(written.outcome, { ok: false }, 'one written and never answered may have');
  const handled = ctx({}, { ...authed(), apiId: 'kt10000', wire: 'answered' });
  await stage(handled);
  t.same(handled.outcome, { ok: false, notPlaced: true }, 'one Kiwoom refused before the sidecar passed an answer on took none');

  // A small answer is parsed once, by the outcome stage, for the after-stages that read it (holdings, daily volume).
  const small = ctx({}, { ...authed(), apiId: 'kt00018', upstream: { status: 200, body: Buffer.from('{"acnt_evlt_remn_indv_tot":[],"return_code":0}') } });
  await stage(small);
  t.same(small.answer, { acnt_evlt_remn_indv_tot: [], return_code: 0 });
  t.equal(answerOf(small), small.answer, 'the same object, not a second parse');
  const large = ctx({}, { ...authed(), apiId: 'ka10081', upstream: { status: 200, body: ok } });
  await stage(large);
  t.equal(large.answer, undefined, 'a large answer is not parsed for its outcome');
  t.equal(answerOf(large), answerOf(large), 'parsed once when a stage needs it');
});

t.test('after: a daily chart teaches its volume once a day per symbol; a failed or unlearnable one is parsed again', async (t) => {
  const noted: string[] = [];
  let now = Date.parse('2026-01-05T01:00:00Z');
  let answer: number | undefined = 1000;
  const risk = {
    learnsDailyVolume: true,
    noteDailyVolume: async (code: string) => {
      noted.push(code);
      return answer;
    },
  };
  const stage = dailyVolume({
    risk: risk as never,
    logger: { warn() {} } as never,
    clock: () => now,
  });
  const body = Buffer.from(JSON.stringify({ stk_dt_pole_chart_qry: [{ dt: '20260102', trde_qty: '1000' }], return_code: 0 }));
  const chart = (code: string, ok = true) =>
    ctx({}, { ...authed(), apiId: 'ka10081', json: { stk_cd: code }, upstream: { status: 200, body }, outcome: { ok } });
  await stage(chart('005930', false));
  t.same(noted, [], 'not from a failed call');
  answer = undefined;
  await stage(chart('005930'));
  await stage(chart('005930'));
  t.same(noted, ['005930', '005930'], 'nothing learned (a past base_dt, too few days): a later chart may teach it');
  answer = 1000;
  await stage(chart('005930'));
  await stage(chart('005930'));
  await stage(chart('000660'));
  t.same(noted, ['005930', '005930', '005930', '000660'], 'learned: not parsed again today');
  now += 86_400_000;
  await stage(chart('005930'));
  t.equal(noted.length, 5, 'tomorrow a new day is complete');
  risk.learnsDailyVolume = false;
  await stage(chart('035720'));
  t.equal(noted.length, 5, 'not read when nothing judges the volume (risk off, drain weight 0)');
});

t.test('the pipeline list names every stage once, in order, after-stages included', async (t) => {
  const p = buildPipelines({} as never);
  t.same(
    p.tr.map((s) => s.name),
    [
      'framing',
      'authenticate',
      'classify',
      'body',
      'parse',
      'allowlist',
      'prefetch',
      'session',
      'lockdown',
      'risk',
      'policy',
      'market-data',
      'decide',
      'limits',
      'audit-intent',
      'approval',
      'forward',
    ],
  );
  t.same(
    p.after.map((s) => s.name),
    ['outcome-audit', 'counters', 'holdings', 'learning', 'daily-volume'],
  );
  t.same(
    p.token.map((s) => s.name),
    ['framing', 'body', 'token'],
  );
});
