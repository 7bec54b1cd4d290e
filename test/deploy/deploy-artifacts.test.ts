// The operator artefacts in deploy/ cannot rot: every metric a dashboard panel
// or an alert rule names is exported by a real sidecar (Redis state + AWS KMS
// wire protocol, so the optional metrics exist too), and the config embedded
// in each rendered Kubernetes overlay is accepted by loadConfig and every
// part's parser, exactly as the container loads it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../proxy/common/config.js';
import { parseApprovalConfig } from '../../proxy/approval/config.js';
import { parseAuditConfig } from '../../proxy/audit/config.js';
import { parsePolicyConfig } from '../../proxy/policy/config.js';
import { parseResponseConfig } from '../../proxy/response/config.js';
import { parseRiskConfig } from '../../proxy/risk/config.js';
import { parseStateConfig } from '../../proxy/state/config.js';
import { parseVaultConfig } from '../../proxy/vault/config.js';
import { startFakeKms, useFakeAwsCredentials } from '../helpers/fake-kms.js';
import { ROOT, startHarness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';
import { OVERLAYS, podOf, renderOverlay } from './render.js';

const DEPLOY = path.join(ROOT, 'deploy');
const DASHBOARD = path.join(DEPLOY, 'grafana', 'kiwoom-guard.json');
const ALERTS = path.join(DEPLOY, 'prometheus', 'alerts.yaml');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Loose PromQL reading: every kguard_ name, histogram series suffixes folded onto the family. */
/** The scrape job the ServiceMonitor gives the metrics Service (deploy/kubernetes/base/metrics-service.yaml). */
const SCRAPE_UP = /^up\{job="kiwoom-guard-metrics"\} == 0$/;

function metricNames(expr: string): string[] {
  return [...expr.matchAll(/kguard_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

/** Labels Prometheus adds to every series of a target, not the sidecar's. */
const TARGET_LABELS = new Set(['instance', 'job', 'pod', 'namespace']);

/** Labels a query selects (`{l="v"}`) or groups by (`by (l)`, `on (l)`) that none of its kguard metrics has. */
function labelProblems(expr: string, labelsOf: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  const families = [...expr.matchAll(/(kguard_[a-z0-9_]+)(?:\{([^}]*)\})?/g)].map((m) => ({
    name: m[1]!.replace(/_(bucket|sum|count)$/, ''),
    sel: m[2] ?? '',
  }));
  for (const f of families) {
    if (!labelsOf.has(f.name)) continue; // a missing family is reported by the name check
    for (const m of f.sel.matchAll(/([a-zA-Z_]+)\s*(?:=~|!~|!=|=)/g))
      if (!TARGET_LABELS.has(m[1]!) && !labelsOf.get(f.name)!.includes(m[1]!)) out.push(`${f.name} has no label ${m[1]}: ${expr}`);
  }
  for (const g of expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g))
    for (const l of g[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      if (!TARGET_LABELS.has(l) && !families.some((f) => labelsOf.get(f.name)?.includes(l))) out.push(`no metric has label ${l}: ${expr}`);
  return out;
}

/** Every `expr` string anywhere in the dashboard (panel targets, nested rows, annotations). */
function dashboardExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) dashboardExprs(n, out);
  else if (isObj(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else dashboardExprs(v, out);
    }
  }
  return out;
}

/** Metric families in a Prometheus text exposition: declared (# TYPE) or sampled. */
function scrapedFamilies(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) /.exec(line);
    if (typed) out.add(typed[1]!);
    else if (line && !line.startsWith('#')) out.add(line.split(/[{\s]/)[0]!.replace(/_(bucket|sum|count)$/, ''));
  }
  return out;
}

/** Samples of one series family as label-string -> value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
}

// --- the files parse and have the expected shape ---------------------------

const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Obj;
const alertsDoc = parseYaml(await readFile(ALERTS, 'utf8')) as Obj;

t.test('dashboard: Grafana JSON with a Prometheus datasource and a replica variable', async (t) => {
  t.type(dashboard.schemaVersion, 'number');
  t.ok((dashboard.schemaVersion as number) >= 36, 'schemaVersion 36+');
  t.equal(dashboard.uid, 'kiwoom-guard');
  const vars = (dashboard.templating as { list: Obj[] }).list;
  const ds = vars.find((v) => v.type === 'datasource');
  t.equal(ds?.query, 'prometheus', 'datasource variable');
  const inst = vars.find((v) => v.name === 'instance');
  t.ok(inst && String(inst.definition).includes('kguard_ready'), 'replica variable from kguard_ready');
  const panels = dashboard.panels as Obj[];
  const ids = panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels.filter((p) => p.type !== 'row')) {
    const targets = p.targets as Obj[];
    t.ok(Array.isArray(targets) && targets.length > 0, `panel "${String(p.title)}" has queries`);
    for (const q of targets) {
      t.ok(metricNames(String(q.expr)).length > 0, `panel "${String(p.title)}" query names a kguard metric`);
      t.match(String(q.expr), /instance=~"\$instance"/, `panel "${String(p.title)}" honours the replica variable`);
    }
    const gp = p.gridPos as { x: number; w: number };
    t.ok(gp.x + gp.w <= 24, `panel "${String(p.title)}" fits the grid`);
  }
});

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Obj;
  annotations: Obj;
}
const rules: Rule[] = ((alertsDoc.groups as { name: string; rules: Rule[] }[]) ?? []).flatMap((g) => g.rules);

t.test('alerts: PrometheusRule-compatible groups with severities and runbooks', async (t) => {
  t.ok(Array.isArray(alertsDoc.groups) && rules.length >= 20, `${rules.length} rules`);
  const names = rules.map((r) => r.alert);
  t.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const r of rules) {
    t.match(r.alert, /^KiwoomGuard[A-Za-z]+$/, `${r.alert}: name`);
    t.ok(['critical', 'warning', 'info'].includes(String(r.labels?.severity)), `${r.alert}: severity`);
    t.ok(r.annotations?.summary && r.annotations?.description && r.annotations?.runbook, `${r.alert}: summary, description, runbook`);
    // Prometheus' own `up` of the kiwoom-guard scrape job is the one outside metric: a pod that serves no /metrics has no kguard_*.
    t.ok(metricNames(r.expr).length > 0 || SCRAPE_UP.test(r.expr), `${r.alert}: names a kguard metric`);
    if (r.for !== undefined) t.match(r.for, /^\d+[smh]$/, `${r.alert}: for`);
  }
  // The situations operators asked to be told about, each covered by a rule.
  const covered = (metric: string) => rules.some((r) => metricNames(r.expr).includes(metric));
  for (const m of [
    'kguard_ready',
    'kguard_audit_healthy',
    'kguard_policy_valid',
    // A rejected edit for as long as the file holds it (a counter's increase clears after its window).
    'kguard_policy_edit_rejected',
    'kguard_broker_tokens_outstanding',
    'kguard_broker_token_revoke_failures_total',
    'kguard_broker_token_issue_failures_total',
    'kguard_upstream_up',
    'kguard_kms_requests_total',
    'kguard_state_errors_total',
    'kguard_lockdowns_total',
    // A lockdown holds until an unlock; the counter's increase is seen for 5 minutes only.
    'kguard_lockdowns_open',
    'kguard_risk_score',
    'kguard_approval_events_total',
  ])
    t.ok(covered(m), `an alert watches ${m}`);
  // One replica that stops answering the scrape (crash loop, hang): kguard_ready == 0 cannot see it, absent() only all.
  t.ok(
    rules.some((r) => SCRAPE_UP.test(r.expr.trim()) && r.for !== undefined),
    'an alert watches each replica being scraped at all',
  );
  const service = parseYaml(await readFile(path.join(DEPLOY, 'kubernetes', 'base', 'metrics-service.yaml'), 'utf8')) as { metadata: { name: string } };
  t.equal(service.metadata.name, 'kiwoom-guard-metrics', "that alert's job is the metrics Service's name (the ServiceMonitor's job label)");
});

// --- every referenced metric exists on a live sidecar ----------------------

t.test('every metric named by the dashboard and the alerts is exported by a running sidecar', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const kms = await startFakeKms();
  t.teardown(() => kms.close());
  kms.createKey({ alias: 'alias/kguard-deploy' });
  useFakeAwsCredentials(t);

  const h = await startHarness({
    config: {
      state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 1000 } },
      vault: { provider: 'aws-kms', awsKms: { keyId: 'alias/kguard-deploy', region: kms.region, endpoint: kms.url, maxAttempts: 2 }, cache: { enabled: true } },
    },
  });
  t.teardown(() => h.close());

  const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '70000', trde_tp: '0', cond_uv: '' };
  const ok = await h.call('kt10000', BUY);
  t.equal(ok.json.return_code, 0, `ordinary order forwarded: ${ok.text}`);
  const denied = await h.call('kt10000', { ...BUY, ord_qty: '200000' });
  t.equal(denied.status, 403, `oversized order denied by policy: ${denied.text}`);
  const badToken = await h.call('ka10001', { stk_cd: '005930' }, { token: 'not-a-jwt' });
  t.equal(badToken.status, 401, 'bad token refused');
  await h.waitNoLiveTokens();

  const res = await request(`${h.adminUrl}/metrics`);
  t.equal(res.statusCode, 200);
  const text = await res.body.text();
  const families = scrapedFamilies(text);

  const referenced = new Map<string, string>();
  for (const e of dashboardExprs(dashboard)) for (const m of metricNames(e)) referenced.set(m, 'dashboard');
  for (const r of rules) for (const m of metricNames(r.expr)) referenced.set(m, referenced.has(m) ? 'dashboard+alerts' : `alert ${r.alert}`);
  t.ok(referenced.size >= 40, `${referenced.size} distinct metrics referenced`);
  const missing = [...referenced].filter(([m]) => !families.has(m)).map(([m, where]) => `${m} (${where})`);
  t.same(missing, [], 'no dashboard or alert metric is missing from /metrics');

  // A renamed label is as silent as a renamed metric: `{outcome="invalid"}` or `by (trigger)` on a label the metric no
  // longer has matches nothing, and the alert never fires. Label names as the live sidecar's metrics declare them.
  const labelsOf = new Map<string, string[]>();
  for (const m of h.sidecar.parts.registry.getMetricsAsArray() as unknown as { name: string; labelNames: string[]; constructor: { name: string } }[])
    labelsOf.set(m.name, [...m.labelNames, ...(m.constructor.name === 'Histogram' ? ['le'] : [])]);
  const unknownLabels = [...dashboardExprs(dashboard), ...rules.map((r) => r.expr)].flatMap((e) => labelProblems(e, labelsOf));
  t.same(unknownLabels, [], 'every label a dashboard or alert query selects or groups by is one its metric has');

  // The calls above left their mark on the series the overview panels read.
  const requests = samples(text, 'kguard_requests_total');
  t.ok(
    [...requests].some(([l, v]) => l.includes('route="tr"') && l.includes('code="OK"') && v >= 1),
    'OK calls counted by route',
  );
  t.ok(
    [...requests].some(([l, v]) => /code="KG3\d{3}"/.test(l) && v >= 1),
    'policy denial counted by code',
  );
  t.ok(
    [...requests].some(([l, v]) => /code="KG2\d{3}"/.test(l) && v >= 1),
    'bad token counted by code',
  );
  t.ok(
    [...samples(text, 'kguard_policy_decisions_total')].some(([l, v]) => l.includes('decision="deny"') && l.includes('rule="order-size"') && v >= 1),
    'deny counted by rule',
  );
  t.ok((samples(text, 'kguard_broker_tokens_issued_total').get('') ?? 0) >= 1, 'broker token issued');
  t.equal(samples(text, 'kguard_broker_tokens_outstanding').get(''), 0, 'no broker token outstanding');
  t.equal(samples(text, 'kguard_ready').get(''), 1, 'ready');
  t.ok(
    [...samples(text, 'kguard_kms_requests_total')].some(([l, v]) => l.includes('outcome="ok"') && v >= 1),
    'KMS requests counted',
  );
  t.ok((samples(text, 'kguard_overhead_seconds_count').get('') ?? 0) >= 1, 'overhead observed');
  t.notOk(text.includes('CANARY'), 'no canary secret in /metrics');
});

// --- the Kubernetes manifests ----------------------------------------------
// (Rendering, schemas and how the objects fit together: kubernetes-manifests.test.ts.)

/** KGUARD_* variables the image sets (Dockerfile ENV), which every container inherits. */
async function imageEnv(): Promise<Record<string, string>> {
  const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  return Object.fromEntries([...dockerfile.matchAll(/(KGUARD_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

for (const overlay of OVERLAYS) {
  t.test(`overlays/${overlay}: the embedded config is what runs, and every parser accepts it`, async (t) => {
    const docs = await renderOverlay(overlay);
    const byKind = (k: string) => docs.filter((d) => d.kind === k);
    const deployment = byKind('Deployment')[0]!;
    t.ok(deployment, 'has a Deployment');
    const spec = deployment.spec as Obj;
    const pod = podOf(deployment)!;
    const podSpec = pod.spec;
    const container = pod.containers.find((c) => c.name === 'kiwoom-guard')!;
    t.ok(container, 'kiwoom-guard container');
    const containerEnv = Object.fromEntries(
      ((container.env as { name: string; value?: string }[] | undefined) ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
    );
    const env = { ...(await imageEnv()), ...containerEnv };
    const configPath = env.KGUARD_CONFIG!;
    t.ok(configPath, 'KGUARD_CONFIG names the config file');
    const mounts = container.volumeMounts as { name: string; mountPath: string; subPathExpr?: string; readOnly?: boolean }[];
    const volumes = podSpec.volumes as Obj[];
    const mountOf = (p: string) =>
      mounts.filter((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const configMount = mountOf(configPath);
    t.ok(configMount, `${configPath} lies on a volume`);
    const configMapName = (volumes.find((v) => v.name === configMount!.name)!.configMap as Obj).name;
    const configMap = byKind('ConfigMap').find((c) => c.metadata.name === configMapName)!;
    t.ok(configMap, `ConfigMap ${String(configMapName)} is rendered`);
    const configText = (configMap.data as Record<string, string>)[path.basename(configPath)]!;
    t.type(configText, 'string', 'the config file is in the ConfigMap');

    const dir = await mkdtemp(path.join(tmpdir(), 'kguard-deploy-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const cfgFile = path.join(dir, 'config.yaml');
    await writeFile(cfgFile, configText);
    // As `kguard serve` in the container loads it: the file KGUARD_CONFIG names, then KGUARD_* keys from the environment.
    const config = await loadConfig({ file: cfgFile, env, cwd: '/app' });
    const fileOnly = await loadConfig({ file: cfgFile, env: {}, cwd: '/app' });
    t.same(config, fileOnly, 'nothing in the image or container environment overrides the ConfigMap');
    t.not(config.upstream.target, 'sim', 'a deployment talks to Kiwoom, not the simulator');
    t.equal(config.admin.host, '0.0.0.0', 'the admin port is reachable by the kubelet probes and Prometheus');

    const state = parseStateConfig(config.state);
    t.equal(state.backend, 'redis', 'shared state in Redis');
    const vault = parseVaultConfig(config.vault, config.dataDir);
    t.equal(vault.provider, 'aws-kms', 'keys in KMS');
    const audit = parseAuditConfig(config.audit, config.dataDir);
    const policy = parsePolicyConfig(config.policy, '/app');
    parseRiskConfig(config.risk);
    parseApprovalConfig(config.approval);
    parseResponseConfig(config.response);
    t.ok(
      audit.sinks.some((s) => s.type === 'redis-stream'),
      'audit records also go to a Redis Stream',
    );

    // Every file the config names sits on a mounted volume, and writable state on a writable one.
    const files = [
      policy.file,
      config.tokens.keyFile,
      state.redis.passwordFile,
      state.redis.sentinelPasswordFile,
      audit.signingKeyFile,
      audit.hmacKeyFile,
    ].filter((f): f is string => typeof f === 'string');
    for (const f of files) t.ok(mountOf(f), `${f} is on a mounted volume`);
    const writable = [config.dataDir, ...audit.sinks.flatMap((s) => (s.type === 'file' ? [s.dir] : [])), audit.checkpoint.mirrorDir].filter(
      (w): w is string => typeof w === 'string',
    );
    for (const w of writable) {
      const m = mountOf(w);
      t.ok(m && !m.readOnly, `${w} is on a writable volume`);
    }
    // A ReadWriteMany volume is a network file system (EFS, NFS: hard-mounted), whose writes can stall for as long
    // as it is away: a file sink written on the event loop's thread would freeze the whole process with it (no
    // call, no /healthz, no lockdown; the liveness probe restarts every replica on the volume at once). On the
    // thread pool, audit.sinkTimeoutMs refuses calls and /readyz says why (docs/auditing.md).
    const accessModesOf = (mount: { name: string }) => {
      const claim = ((volumes.find((v) => v.name === mount.name)?.persistentVolumeClaim as Obj | undefined)?.claimName ?? '') as string;
      return ((byKind('PersistentVolumeClaim').find((c) => c.metadata.name === claim)?.spec as Obj | undefined)?.accessModes ?? []) as string[];
    };
    for (const sink of audit.sinks) {
      if (sink.type !== 'file') continue;
      const m = mountOf(sink.dir);
      if (m && accessModesOf(m).includes('ReadWriteMany')) t.equal(sink.write, 'pool', `file sink ${sink.dir} on a network volume writes on the thread pool`);
    }
    // A volume's root belongs to root and the pod's fsGroup (often world-readable): the data dir is a
    // subdirectory kiwoom-guard creates itself, 0700 and its own.
    const dataMount = mountOf(config.dataDir)!;
    t.ok(config.dataDir.startsWith(`${dataMount.mountPath}/`), `dataDir ${config.dataDir} is below the mount ${dataMount.mountPath}, not its root`);
    if ((spec.replicas as number) > 1) {
      t.equal(byKind('PodDisruptionBudget').length, 1, 'replicas have a PodDisruptionBudget');
      t.ok(state.redis.sentinels && state.redis.sentinels.length >= 3, 'Redis through Sentinel');
      t.ok(
        audit.sinks.some((s) => s.type === 'file' && mountOf(s.dir)?.subPathExpr?.includes('$(POD_NAME)')),
        'each replica keeps its audit chain in its own directory',
      );
      t.ok(config.tokens.keyFile, 'replicas share one JWT key from the Secret');
      t.ok(
        audit.signingKeyFile && mountOf(audit.signingKeyFile)?.readOnly,
        'the shared audit keys come from a read-only mount (the sidecar writes nothing there)',
      );
    } else {
      t.match(config.listen, { host: '127.0.0.1' }, 'one bot per sidecar: loopback only');
    }
  });
}
