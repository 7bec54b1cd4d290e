// Metric label cardinality at the scale of many bots: a label that carries a bot id, an app key, an account,
// a symbol, a source address or a request id makes one series per value, which Prometheus keeps (memory,
// cost) and this process never forgets. Two rounds of the same traffic, the second by many more distinct
// bots (each its own app key and account) from many source addresses with many symbols, bad paths and
// unknown api-ids: no metric family may grow with the number of distinct identities.
import t from 'tap';
import { Agent, request } from 'undici';
import { startHarness } from '../helpers/harness.js';

const h = await startHarness();
t.teardown(() => h.close());
const agents: Agent[] = [];
t.teardown(() => Promise.all(agents.map((a) => a.close())));

/** Series per metric family: distinct label sets, a histogram's `le` not counted. */
async function seriesPerFamily(): Promise<Map<string, number>> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const sets = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*?)(?:_bucket|_sum|_count)?(\{[^}]*\})?\s/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').replace(/,?le="[^"]*"/, '');
    const family = m[1]!;
    if (!sets.has(family)) sets.set(family, new Set());
    sets.get(family)!.add(labels);
  }
  return new Map([...sets].map(([k, v]) => [k, v.size]));
}

let n = 0;
async function round(bots: number): Promise<void> {
  for (let i = 0; i < bots; i++) {
    n++;
    const id = `card-${String(n).padStart(4, '0')}`;
    const account = `70000${String(n).padStart(5, '0')}`;
    const appKey = `CARDappKEY${String(n).padStart(6, '0')}xyzxyzxyz`;
    const secretKey = `CARDsecretKEY${String(n).padStart(6, '0')}abcabcabcabc`;
    h.sim.registerApp({ appKey, secretKey, accountNo: account, cash: 10_000_000 });
    const { secret } = await h.sidecar.parts.bots.add({ id, owner: `desk-${n}`, account, allowed: ['kind:query', 'kind:account', 'kind:order'] });
    await h.sidecar.parts.vault.importCredentials({ botId: id, account, appKey: Buffer.from(appKey), secretKey: Buffer.from(secretKey) });
    const agent = new Agent({ localAddress: `127.0.${1 + (n >> 8)}.${1 + (n & 0xff)}` });
    agents.push(agent);
    const tok = await h.post(
      '/oauth2/token',
      JSON.stringify({ grant_type: 'client_credentials', appkey: id, secretkey: secret.toString('latin1') }),
      {},
      agent,
    );
    secret.fill(0);
    const token = String(tok.json.token);
    const symbol = String(100000 + n);
    await h.call('ka10001', { stk_cd: symbol }, { token, dispatcher: agent });
    await h.call('ka10001', { stk_cd: '005930' }, { token, dispatcher: agent });
    await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token, dispatcher: agent });
    await h.call(`ka9${String(n).padStart(4, '0')}`, {}, { token, dispatcher: agent, path: '/api/dostk/stkinfo' });
    await h.post(`/api/dostk/x${n}`, '{}', { 'api-id': 'ka10001', authorization: `Bearer ${token}` }, agent);
    await h.call('ka10001', { stk_cd: '005930' }, { token: `${token}${n}`, dispatcher: agent });
  }
  await h.waitNoLiveTokens(30_000);
}

t.test('no metric family grows with distinct bots, keys, accounts, addresses or symbols', async (t) => {
  await round(5);
  const before = await seriesPerFamily();
  await round(40);
  const after = await seriesPerFamily();
  const grown = [...after].filter(([family, count]) => count - (before.get(family) ?? 0) >= 10).map(([f, c]) => `${f}: ${before.get(f) ?? 0} -> ${c}`);
  t.same(grown, [], 'series per family after 5 bots and after 45');
  t.ok(after.size > 20, `metric families seen (${after.size})`);
});
