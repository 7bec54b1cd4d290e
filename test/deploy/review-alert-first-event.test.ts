// An alert on `increase(counter{...}[w]) > 0` sees an event only as a step between two samples of one series.
// prom-client shows a labelled counter's series from its first inc() on, already at 1: Prometheus' first sample of
// it is 1, every later one is 1, and increase() is 0. So the first lockdown, the first revoke given up, the first
// rejected policy edit, the first call from a disallowed network... of a replica's life raised no alert at all.
// Every series such an alert watches must be exported at 0 from start, before anything happened.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { startFakeKms, useFakeAwsCredentials } from '../helpers/fake-kms.js';
import { ROOT, startHarness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

interface Rule {
  alert: string;
  expr: string;
}
const doc = parseYaml(await readFile(path.join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] };
const rules = doc.groups.flatMap((g) => g.rules);

/** Alerts on a sustained rate or a count well above one: losing the first event of a series does not silence them. */
const SUSTAINED = new Set([
  'KiwoomGuardHighRefusalRate', // > 0.2/s for 10m, over every KG5/KG9 code and route
  'KiwoomGuardRedisErrors', // > 0 for 5m: a lasting failure keeps counting
  'KiwoomGuardGovernorRefusing', // > 50 in 10m
  'KiwoomGuardShadowRuleWouldDeny', // per rule of the policy file, info
  'KiwoomGuardBrokerTokenRevokeRetries', // > 0.05/s for 10m
]);

/** Series an alert sums `by` a label: each value the code emits needs its own zero, or its first event is lost. */
const EVERY_VALUE: Record<string, Record<string, string[]>> = {
  kguard_lockdowns_total: { trigger: ['manual', 'automatic'] },
  kguard_broker_token_revoke_failures_total: { final: ['true', 'false'] },
  kguard_policy_reloads_total: { outcome: ['success', 'invalid'] },
  kguard_upstream_refusals_total: { code: ['1700', '1701', '1702', '429', '8010'] },
  kguard_broker_token_orphans_revoked_total: { kind: ['restart', 'unheld', 'unfinished_issue'] },
  kguard_approval_events_total: { level: ['step_up', 'admin'] },
};

interface Matcher {
  name: string;
  op: string;
  value: string;
}

/** Counter selectors inside increase()/rate(): histograms (`_bucket`, `_count`) start at 0 already. */
function watchedCounters(expr: string): { family: string; matchers: Matcher[] }[] {
  const out: { family: string; matchers: Matcher[] }[] = [];
  for (const m of expr.matchAll(/(?:increase|rate)\(\s*(kguard_[a-z0-9_]+)(?:\{([^}]*)\})?\[/g)) {
    if (/_(bucket|count|sum)$/.test(m[1]!)) continue;
    const matchers = [...(m[2] ?? '').matchAll(/([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((x) => ({ name: x[1]!, op: x[2]!, value: x[3]! }));
    out.push({ family: m[1]!, matchers });
  }
  return out;
}

function matches(labels: Record<string, string>, ms: Matcher[]): boolean {
  return ms.every(({ name, op, value }) => {
    const v = labels[name] ?? '';
    const re = new RegExp(`^(?:${value})$`);
    return op === '=' ? v === value : op === '!=' ? v !== value : op === '=~' ? re.test(v) : !re.test(v);
  });
}

/** family -> the label sets of its samples (with their value). */
function parseSamples(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    const list = out.get(m[1]!) ?? [];
    list.push({ labels, value: Number(m[3]) });
    out.set(m[1]!, list);
  }
  return out;
}

t.test('every counter an event alert watches is exported at 0 from start', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const kms = await startFakeKms();
  t.teardown(() => kms.close());
  kms.createKey({ alias: 'alias/kguard-first-event' });
  useFakeAwsCredentials(t);
  const mirrorDir = await mkdtemp(path.join(tmpdir(), 'kguard-mirror-'));
  t.teardown(() => rm(mirrorDir, { recursive: true, force: true }));
  const h = await startHarness({
    config: {
      audit: { checkpoint: { mirrorDir } },
      state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 1000 } },
      vault: { provider: 'aws-kms', awsKms: { keyId: 'alias/kguard-first-event', region: kms.region, endpoint: kms.url, maxAttempts: 2 } },
    },
  });
  t.teardown(() => h.close());

  // Nothing has happened yet: no call, no failure, no lockdown.
  const samples = parseSamples(await (await request(`${h.adminUrl}/metrics`)).body.text());
  const watched = rules.filter((r) => !SUSTAINED.has(r.alert)).flatMap((r) => watchedCounters(r.expr).map((w) => ({ alert: r.alert, ...w })));
  t.ok(watched.length >= 15, `${watched.length} counter selectors in event alerts`);
  const missing: string[] = [];
  for (const w of watched) {
    const found = (samples.get(w.family) ?? []).filter((s) => matches(s.labels, w.matchers));
    const sel = `${w.family}{${w.matchers.map((m) => `${m.name}${m.op}"${m.value}"`).join(',')}}`;
    if (found.length === 0) missing.push(`${w.alert}: ${sel}`);
  }
  t.same(missing, [], 'a series at 0 for every selector an event alert watches');

  for (const [family, byLabel] of Object.entries(EVERY_VALUE)) {
    for (const [label, values] of Object.entries(byLabel)) {
      const have = new Set((samples.get(family) ?? []).map((s) => s.labels[label]));
      t.same(
        values.filter((v) => !have.has(v)),
        [],
        `${family}: a series for every ${label}`,
      );
    }
  }
});
