// The "unmodified client": a small Node script on undici with
// https://api.kiwoom.com hard-coded (fixtures/hardcoded-bot.mjs), run as its
// own process with only HTTPS_PROXY and NODE_EXTRA_CA_CERTS in its
// environment, goes through the sidecar end to end: token, quote, seven
// orders, two pages of open orders (cont-yn / next-key), a cancel. Without the
// CA it fails on its own side. Paging through name-override mode too.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { Agent, buildConnector } from 'undici';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { CANARY } from '../helpers/harness.js';
import { kiwoomBot, startTransparent, type TransparentHarness } from './helpers.js';

const run = promisify(execFile);
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hardcoded-bot.mjs');

let th: TransparentHarness;
t.before(async () => {
  th = await startTransparent({ sim: { pageSize: 5 }, transparent: { listen: [{ host: '127.0.0.1', port: 0 }] } });
});
t.teardown(() => th.close());

interface Page {
  return_code: number;
  contYn?: string;
  nextKey?: string;
  rows: string[];
}

t.test('a script with the URL hard-coded and HTTPS_PROXY set: token, quote, orders, paging, cancel', async (t) => {
  const { h, ca } = th;
  const env = { PATH: process.env.PATH ?? '', HTTPS_PROXY: h.url, NODE_EXTRA_CA_CERTS: ca.files.certFile, BOT_APPKEY: h.botId, BOT_SECRETKEY: h.botSecret };
  const { stdout } = await run(process.execPath, [SCRIPT], { env, timeout: 120_000 });
  const out = JSON.parse(stdout) as {
    token: number;
    quote: { return_code: number; stk_cd: string };
    orders: { return_code: number; ord_no: string }[];
    pages: Page[];
    cancel: number;
  };
  t.equal(out.token, 0, 'token');
  t.match(out.quote, { return_code: 0, stk_cd: '005930' }, 'quote');
  t.equal(out.orders.length, 7);
  t.ok(
    out.orders.every((o) => o.return_code === 0 && o.ord_no),
    'seven orders placed',
  );
  const [p1, p2] = out.pages as [Page, Page];
  t.match(p1, { return_code: 0, contYn: 'Y' }, 'first page says there is more');
  t.ok(p1.nextKey, 'with a next-key');
  t.equal(p1.rows.length, 5, 'a full first page');
  t.equal(p2.return_code, 0, 'second page');
  t.ok(p2.rows.length > 0, 'has rows');
  t.notOk(
    p2.rows.some((r) => p1.rows.includes(r)),
    'a different page',
  );
  t.equal(out.cancel, 0, 'cancel');

  const simOrders = h.sim.orders(CANARY.account);
  t.equal(simOrders.find((o) => o.ordNo === out.orders[0]!.ord_no)?.status, 'cancelled', 'the simulator behind the sidecar cancelled it');
  const records = await readAuditRecords(path.join(h.dataDir, 'audit'));
  t.ok(
    records.some((r) => r.type === 'call.intent' && r.data.apiId === 'ka10075'),
    'the paging calls went through the audited pipeline',
  );
  t.notOk(stdout.includes(h.botSecret), 'nothing secret comes back');
});

t.test('the same script without the CA fails on its own side, before sending anything', async (t) => {
  const { h } = th;
  const env = { PATH: process.env.PATH ?? '', HTTPS_PROXY: h.url, BOT_APPKEY: h.botId, BOT_SECRETKEY: h.botSecret };
  const err = await run(process.execPath, [SCRIPT], { env, timeout: 120_000 }).catch((e: Error & { stderr?: string; code?: number }) => e);
  t.ok(err instanceof Error, 'the script fails');
  t.match((err as { stderr?: string }).stderr, /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER|certificate/i, 'a certificate error');
});

t.test('paging with cont-yn / next-key in name-override mode', async (t) => {
  const { h, ca } = th;
  const port = Number(new URL(h.sidecar.transparent.urls[0]!).port);
  const connector = buildConnector({ ca: ca.certPem, servername: 'api.kiwoom.com' } as buildConnector.BuildOptions);
  const agent = new Agent({ connect: (o, cb) => connector({ ...o, hostname: '127.0.0.1', port: String(port), servername: 'api.kiwoom.com' }, cb) });
  t.teardown(() => agent.close());
  const bot = kiwoomBot(agent);
  const token = String((await bot.token(h.botId, h.botSecret)).json.token);
  const query = { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' };
  const first = await bot.call('/api/dostk/acnt', 'ka10075', token, query);
  t.equal(first.json.return_code, 0, first.text);
  t.equal(first.headers['cont-yn'], 'Y');
  const nextKey = String(first.headers['next-key']);
  t.ok(nextKey, 'next-key');
  const second = await bot.post('/api/dostk/acnt', JSON.stringify(query), {
    'api-id': 'ka10075',
    authorization: `Bearer ${token}`,
    'cont-yn': 'Y',
    'next-key': nextKey,
  });
  t.equal(second.json.return_code, 0, second.text);
  const rows = (r: Record<string, unknown>) => ((r.oso as { ord_no: string }[] | undefined) ?? []).map((x) => x.ord_no);
  t.ok(rows(second.json).length > 0, 'second page has rows');
  t.notOk(
    rows(second.json).some((r) => rows(first.json).includes(r)),
    'a different page',
  );
});
