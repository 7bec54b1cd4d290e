// Kiwoom down, or Kiwoom refusing to issue a key's broker token: every call fails closed (KG5001/KG5002, KG5004),
// yet no metric said so. /readyz named an unreachable Kiwoom as a warning (kguard_ready stays 1, rightly), and the
// only alert was KiwoomGuardHighRefusalRate at 0.2 refusals/s for 10 minutes: a quiet bot beside its sidecar, or a
// key whose token Kiwoom refuses (app key expired or revoked, address not registered), never reached it.
// kguard_upstream_up follows the /readyz warning; kguard_broker_token_issue_failures_total counts issues by reason;
// each has an alert and a runbook section.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { startSimulator } from '../../proxy/sim/index.js';
import { ROOT, startHarness, waitFor } from '../helpers/harness.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const sim = await startSimulator({});
t.teardown(() => sim.close());
const proxy = await startTcpProxy(Number(new URL(sim.url).port));
t.teardown(() => proxy.close());
const h = await startHarness({ simulator: sim, config: { upstream: { url: `http://127.0.0.1:${proxy.port}` }, risk: { enabled: false } } });
t.teardown(() => h.close());

async function sample(series: string): Promise<number | undefined> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('Kiwoom unreachable: kguard_upstream_up goes 0, and 1 again at its first answer', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a quote while Kiwoom answers');
  t.equal(await sample('kguard_upstream_up'), 1, 'up while Kiwoom answers');

  proxy.setRefusing(true);
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.match(String(r.json.return_msg), /KG500[12]/, `refused in Kiwoom's shape: ${r.text.slice(0, 120)}`);
  t.equal(await sample('kguard_upstream_up'), 0, 'down while no request reaches Kiwoom');
  t.equal(await sample('kguard_ready'), 1, 'still ready: every replica shares the one upstream');

  proxy.setRefusing(false);
  await waitFor(async () => (await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code === 0, 30_000, 'a quote goes through again');
  t.equal(await sample('kguard_upstream_up'), 1, 'up again');
});

t.test('Kiwoom refusing to issue the broker token: counted by reason', async (t) => {
  await h.waitNoLiveTokens();
  const refused = 'kguard_broker_token_issue_failures_total{reason="refused"}';
  const before = (await sample(refused)) ?? 0;
  h.sim.faults.set({ tokenFailNext: 1 });
  const r = await h.call('ka10001', { stk_cd: '005930' });
  t.match(String(r.json.return_msg), /KG5004/, `the call is refused, the token was not issued: ${r.text.slice(0, 120)}`);
  t.equal((await sample(refused)) ?? 0, before + 1, 'the refused issue is counted');
  t.equal(await sample('kguard_upstream_up'), 1, 'Kiwoom answered: it is up, it refused');
  t.notOk((await (await request(`${h.adminUrl}/metrics`)).body.text()).includes('CANARY'), 'no credential in /metrics');
});

t.test('an alert and a runbook section for each', async (t) => {
  const doc = parseYaml(await readFile(path.join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string; for?: string; annotations: { runbook_url: string } }[] }[];
  };
  const runbook = await readFile(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
  const rules = doc.groups.flatMap((g) => g.rules);
  for (const selector of [/kguard_upstream_up\b/, /kguard_broker_token_issue_failures_total\{[^}]*reason="refused"/]) {
    const rule = rules.find((r) => selector.test(r.expr));
    t.ok(rule, `an alert watches ${selector.source}`);
    if (!rule) continue;
    const anchor = rule.annotations.runbook_url.split('#')[1] ?? '';
    t.equal(anchor, rule.alert.toLowerCase(), `${rule.alert}: runbook_url names its section`);
    t.ok(runbook.includes(`<a id="${anchor}"></a>`), `${rule.alert}: docs/operations.md has the section`);
  }
});
