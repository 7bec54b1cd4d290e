// The transparent-mode overlays (rendering, schemas and how the objects fit
// together run for them in kubernetes-manifests.test.ts like for every
// overlay): forward-proxy mode gives the bot HTTPS_PROXY at the sidecar and
// the CA certificate (and nothing else of kiwoom-guard); name-override mode
// maps Kiwoom's names to the pod's loopback with hostAliases, kiwoom-guard
// binds 443 with NET_BIND_SERVICE as its one capability and keeps its own
// /etc/hosts; both load the CA key sealed by the key provider; and the network
// policies hold what NetworkPolicy can hold (per pod, not per container).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../proxy/common/config.js';
import { type K8sObject, type Obj, type Overlay, podOf, renderOverlay, selects } from './render.js';

const TRANSPARENT = ['transparent-proxy', 'transparent-hosts'] as const;
const CA_PEM = '/etc/kguard-ca/ca.pem';

interface Env {
  name: string;
  value?: string;
}
interface Mount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

async function shape(o: Overlay) {
  const objects = await renderOverlay(o);
  const deployment = objects.find((x) => x.kind === 'Deployment')!;
  const pod = podOf(deployment)!;
  const guard = pod.containers.find((c) => c.name === 'kiwoom-guard')!;
  const bot = pod.containers.find((c) => c.name === 'bot')!;
  const volumes = (pod.spec.volumes as Obj[]) ?? [];
  const volume = (name: string) => volumes.find((v) => v.name === name)!;
  const env = (c: Obj) => Object.fromEntries(((c.env as Env[] | undefined) ?? []).map((e) => [e.name, e.value]));
  const mounts = (c: Obj) => (c.volumeMounts as Mount[] | undefined) ?? [];
  const configMap = (name: string) =>
    objects.find((x) => x.kind === 'ConfigMap' && x.metadata.name === name) as (K8sObject & { data: Record<string, string> }) | undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-transparent-deploy-'));
  const file = path.join(dir, 'config.yaml');
  const text = objects.find((x) => x.kind === 'ConfigMap' && typeof (x.data as Record<string, string> | undefined)?.['config.yaml'] === 'string')!;
  await writeFile(file, (text.data as Record<string, string>)['config.yaml']!);
  const config = await loadConfig({ file, env: {}, cwd: '/app' }).finally(() => rm(dir, { recursive: true, force: true }));
  return { objects, pod, guard, bot, volume, env, mounts, configMap, config };
}

const shapes = new Map<string, Awaited<ReturnType<typeof shape>>>();
for (const o of [...TRANSPARENT, 'sidecar', 'replicas'] as const) shapes.set(o, await shape(o));
const get = (o: Overlay) => shapes.get(o)!;

for (const o of TRANSPARENT) {
  t.test(`${o}: the bot trusts the CA certificate and sees nothing else of kiwoom-guard`, async (t) => {
    const { bot, guard, volume, env, mounts, config } = get(o);
    const e = env(bot);
    t.equal(e.KIWOOM_BASE_URL, 'https://api.kiwoom.com', "the bot keeps Kiwoom's own URL");
    for (const name of ['NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE']) t.equal(e[name], CA_PEM, `${name} names the CA certificate`);
    const botMounts = mounts(bot);
    t.same(
      botMounts.map((m) => [m.mountPath, m.readOnly]),
      [[path.dirname(CA_PEM), true]],
      'one read-only mount: the CA certificate',
    );
    t.same(
      volume(botMounts[0]!.name).configMap,
      { name: 'kiwoom-guard-ca', items: [{ key: 'ca.pem', path: path.basename(CA_PEM) }] },
      'the kiwoom-guard-ca ConfigMap, ca.pem only (not the sealed key)',
    );
    t.notOk(
      Object.keys(e).some((k) => k.startsWith('AWS_') || k.startsWith('KGUARD_')),
      'no AWS or kiwoom-guard settings in the bot',
    );

    // kiwoom-guard: transparent mode on, the CA from the same ConfigMap, its key sealed by KMS.
    t.match(config.transparent, { enabled: true, caKeyStore: 'key-provider', hosts: ['api.kiwoom.com', 'mockapi.kiwoom.com'] });
    const caMount = mounts(guard).find((m) => m.mountPath === config.transparent.caDir)!;
    t.ok(caMount?.readOnly, `caDir ${config.transparent.caDir} is a read-only mount on kiwoom-guard`);
    t.same(volume(caMount.name).configMap, { name: 'kiwoom-guard-ca' }, 'every key of kiwoom-guard-ca (ca.pem, ca.key.sealed)');
    t.match(config.vault, { provider: 'aws-kms' }, 'the sealed CA key opens with the KMS key, in kiwoom-guard only');
  });
}

t.test('transparent-proxy: HTTPS_PROXY points the bot at the sidecar, which accepts CONNECT there', async (t) => {
  const { bot, guard, env, config } = get('transparent-proxy');
  const e = env(bot);
  const proxy = `http://${config.listen.host}:${config.listen.port}`;
  t.equal(e.HTTPS_PROXY, proxy, 'HTTPS_PROXY is the bot port');
  t.equal(e.https_proxy, proxy, 'and the lower-case spelling (curl, Python)');
  for (const name of ['NO_PROXY', 'no_proxy']) {
    const list = (e[name] ?? '').split(',');
    t.ok(list.includes('127.0.0.1') && list.includes('localhost'), `${name}: loopback goes direct`);
    t.notOk(
      list.some((h) => h.includes('kiwoom')),
      `${name}: never Kiwoom`,
    );
  }
  t.notOk(e.HTTP_PROXY ?? e.http_proxy, 'no HTTP_PROXY: plain HTTP is not proxied (Kiwoom is HTTPS only)');
  t.same(config.transparent.ports, [443, 10000], 'CONNECT to REST and the WebSocket port only');
  t.same(config.transparent.listen, [], 'no name-override address in this overlay');
  t.same((guard.securityContext as { capabilities: Obj }).capabilities, { drop: ['ALL'] }, 'no capability added');
});

t.test('transparent-hosts: hostAliases, 443 with NET_BIND_SERVICE only, and kiwoom-guard keeps its own /etc/hosts', async (t) => {
  const { pod, bot, guard, volume, env, mounts, configMap, config } = get('transparent-hosts');
  t.same(pod.spec.hostAliases, [{ ip: '127.0.0.1', hostnames: ['api.kiwoom.com', 'mockapi.kiwoom.com'] }], "Kiwoom's names resolve to the pod's loopback");
  t.same(config.transparent.listen, [
    { host: '127.0.0.1', port: 443 },
    { host: '127.0.0.1', port: 10000 },
  ]);
  t.notOk(env(bot).HTTPS_PROXY, 'no proxy setting: the names do the work');

  const sc = guard.securityContext as { capabilities: { add?: string[]; drop?: string[] }; runAsUser: number; allowPrivilegeEscalation: boolean };
  t.same(sc.capabilities.add, ['NET_BIND_SERVICE'], 'exactly one capability added');
  t.same(sc.capabilities.drop, ['ALL'], 'everything else dropped');
  t.equal(sc.allowPrivilegeEscalation, false);
  t.equal(sc.runAsUser, 10001, 'still the image user, not root');
  t.equal((pod.spec.securityContext as Obj).runAsNonRoot, true, 'runAsNonRoot');
  for (const c of pod.containers.filter((c) => c !== guard))
    t.notOk((c.securityContext as { capabilities?: { add?: unknown } } | undefined)?.capabilities?.add, `${String(c.name)} adds no capability`);

  const hostsMount = mounts(guard).find((m) => m.mountPath === '/etc/hosts')!;
  t.match(hostsMount, { subPath: 'hosts', readOnly: true }, 'kiwoom-guard mounts its own /etc/hosts (the kubelet then leaves it alone)');
  const cmName = (volume(hostsMount.name).configMap as { name: string }).name;
  const hosts = configMap(cmName)!.data.hosts!;
  t.match(hosts, /^127\.0\.0\.1\s+localhost$/m, 'localhost');
  t.notMatch(hosts, /kiwoom/, "no Kiwoom name: kiwoom-guard's upstream resolves through DNS");
  t.notOk(
    mounts(bot).some((m) => m.mountPath === '/etc/hosts'),
    "the bot keeps the kubelet's /etc/hosts, with the aliases",
  );
});

t.test('network policies: per pod, so the sidecar shape confines the bot by its settings; the pool shape by policy', async (t) => {
  for (const o of TRANSPARENT) {
    const { objects, pod } = get(o);
    const egress = objects.filter((x) => x.kind === 'NetworkPolicy' && (x.spec as { policyTypes: string[] }).policyTypes.includes('Egress'));
    t.ok(egress.length > 0, `${o}: the pod's egress is restricted`);
    for (const np of egress) {
      t.ok(
        selects((np.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels, pod.labels),
        `${o}: ${np.metadata.name} selects the pod`,
      );
      for (const rule of (np.spec as { egress: { to?: Obj[]; ports?: { port: number }[] }[] }).egress) {
        t.ok(rule.to?.length && rule.ports?.length, `${o}: no allow-all egress rule`);
        const ports = rule.ports!.map((p) => p.port);
        t.ok(
          ports.every((p) => [53, 443, 10000, 6379, 26379].includes(p)),
          `${o}: egress ports ${ports.join(',')} are DNS, Kiwoom/KMS, Redis`,
        );
      }
    }
  }
  // Separate bot pods (the pool): their egress reaches kiwoom-guard and DNS only, never Kiwoom.
  const clients = get('replicas').objects.find((x) => x.metadata.name === 'kiwoom-guard-clients-egress')!;
  const rules = (clients.spec as { egress: { to: Obj[]; ports: { port: number }[] }[] }).egress;
  t.notOk(
    rules.some((r) => r.to.some((x) => 'ipBlock' in x)),
    'no address block: bot pods cannot reach Kiwoom directly',
  );
  t.same(rules.flatMap((r) => r.ports.map((p) => p.port)).sort(), [53, 53, 8080], 'the pool (8080, where CONNECT is served) and DNS');
});
