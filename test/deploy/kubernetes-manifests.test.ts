// deploy/kubernetes renders and would be accepted: each overlay renders
// (with the test's own Kustomize subset, and with kubectl/kustomize too where
// installed: both must give the same objects), every object passes the
// Kubernetes 1.33 schemas offline (JSON Schema + unknown-field check; the
// ServiceMonitor and PrometheusRule against their CRD schemas), and the
// objects fit together: references resolve, selectors select, ports exist,
// kiwoom-guard runs as a native sidecar with probes, a preStop hook and a
// grace period, the KMS role reaches the kiwoom-guard container only, egress
// is limited, and the PrometheusRule holds exactly deploy/prometheus/alerts.yaml.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../helpers/harness.js';
import { defaultConfig } from '../../proxy/common/config.js';
import { CHECK_TIMEOUT_MS } from '../../proxy/admin/health.js';
import { schemaPackages, typeCheckObjects, validateObject } from './k8s-schema.js';
import {
  findKustomize,
  idOf,
  isObj,
  KUBERNETES,
  type K8sObject,
  type Obj,
  OVERLAYS,
  type Overlay,
  overlayDir,
  podOf,
  readKustomization,
  renderKustomization,
  renderOverlay,
  renderWithKustomize,
  selects,
} from './render.js';

/** Made by operators before applying (deploy/README.md): referenced, never rendered. */
const EXTERNAL = {
  ConfigMap: new Set(['kiwoom-guard-policy', 'kiwoom-guard-ca']),
  Secret: new Set(['kiwoom-guard-secrets', 'trading-bot-login']),
};
const GUARD = 'kiwoom-guard';
const IMAGE_USER = 10001;

const rendered = new Map<Overlay, K8sObject[]>();
for (const o of OVERLAYS) rendered.set(o, await renderOverlay(o));
const all = (o: Overlay) => rendered.get(o)!;
const byKind = (o: Overlay, kind: string) => all(o).filter((x) => x.kind === kind);
const named = (o: Overlay, kind: string, name: string) => all(o).find((x) => x.kind === kind && x.metadata.name === name);

// --- the kustomizations --------------------------------------------------------

t.test('every kustomization names files that exist, and each file is used', async (t) => {
  const dirs = [path.join(KUBERNETES, 'base'), ...OVERLAYS.map(overlayDir)];
  const used = new Set<string>();
  for (const dir of dirs) {
    const k = await readKustomization(dir);
    t.ok(k.resources.length > 0, `${path.relative(ROOT, dir)} has resources`);
    for (const r of k.resources) used.add(path.resolve(dir, r));
    for (const p of k.patches) used.add(path.resolve(dir, p.path));
    for (const img of k.images)
      t.match(img, { name: GUARD, newName: /\S/, newTag: /^\d+\.\d+\.\d+$/ }, `${path.relative(ROOT, dir)}: the image gets a fixed version`);
  }
  for (const dir of dirs) {
    for (const f of (await readdir(dir)).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml')) {
      t.ok(used.has(path.join(dir, f)), `${path.relative(ROOT, path.join(dir, f))} is listed in a kustomization`);
    }
  }
  t.same(await readdir(KUBERNETES).then((n) => n.sort()), ['base', 'overlays'], 'deploy/kubernetes holds the base and the overlays only');
});

const kustomize = findKustomize();
t.test('kubectl kustomize / kustomize renders the same objects', { skip: kustomize ? false : 'neither kubectl nor kustomize is installed' }, async (t) => {
  t.comment(`using ${kustomize!.argv.join(' ')} (${kustomize!.version})`);
  for (const dir of [path.join(KUBERNETES, 'base'), ...OVERLAYS.map(overlayDir)]) {
    const real = renderWithKustomize(kustomize!, dir).sort((a, b) => idOf(a).localeCompare(idOf(b)));
    const ours = (await renderKustomization(dir)).sort((a, b) => idOf(a).localeCompare(idOf(b)));
    t.same(real.map(idOf), ours.map(idOf), `${path.relative(ROOT, dir)}: same objects`);
    t.same(real, ours, `${path.relative(ROOT, dir)}: same content`);
  }
});

// --- schemas -------------------------------------------------------------------

t.test('every rendered object passes its Kubernetes schema (offline)', async (t) => {
  t.comment(`schemas from ${schemaPackages().join(', ')}`);
  for (const o of OVERLAYS) {
    for (const obj of all(o)) {
      t.match(obj.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${o}: ${idOf(obj)} name is a DNS label`);
      await t.resolves(validateObject(obj), `${o}: ${idOf(obj)} matches the ${obj.apiVersion} ${obj.kind} schema`);
    }
  }
  // The CRD schemas are live too.
  const rule = structuredClone(byKind('replicas', 'PrometheusRule')[0]!);
  (rule.spec as { groups: { rules: Obj[] }[] }).groups[0]!.rules[0]!.for = 'five minutes';
  await t.rejects(validateObject(rule), /for must match pattern/, 'a PrometheusRule with a bad duration is refused');
});

t.test('no rendered object has a field Kubernetes does not know (type check against the models)', async (t) => {
  const objects = OVERLAYS.flatMap((o) => all(o));
  t.same(typeCheckObjects(objects), [], `${objects.length} objects type-check`);
  // The check is live: a misspelt field and a wrong type are caught.
  const deployment = byKind('replicas', 'Deployment')[0]!;
  const misspelt = structuredClone(deployment);
  const c1 = (podOf(misspelt)!.spec.containers as Obj[])[0]!;
  c1.readinesProbe = c1.readinessProbe;
  const wrongType = structuredClone(deployment);
  (podOf(wrongType)!.spec.containers as Obj[])[0]!.ports = [{ name: 'bots', containerPort: '8080' }];
  const problems = typeCheckObjects([misspelt, wrongType]);
  t.match(
    problems,
    [
      /^Deployment\/kiwoom-guard: .*readinesProbe\W* does not exist in type 'IContainer'/,
      /^Deployment\/kiwoom-guard: .*'string' is not assignable to type 'number'/,
    ],
    'unknown field and wrong type named',
  );
  await t.rejects(validateObject({ ...deployment, spec: { ...(deployment.spec as Obj), replicas: 'three' } } as K8sObject), /replicas must be integer/);
});

// --- the objects fit together ---------------------------------------------------

for (const o of OVERLAYS) {
  t.test(`${o}: references resolve and selectors select`, async (t) => {
    const deployments = byKind(o, 'Deployment');
    t.equal(deployments.length, 1, 'one Deployment');
    const d = deployments[0]!;
    const pod = podOf(d)!;
    t.ok(selects((d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, pod.labels), 'Deployment selector matches its pods');
    t.equal(pod.labels['kiwoom-guard/member'], 'true', 'pods carry kiwoom-guard/member (base objects select it)');

    // Service account, config maps, secrets, claims.
    const sa = pod.spec.serviceAccountName as string;
    t.ok(named(o, 'ServiceAccount', sa), `ServiceAccount ${sa} is defined`);
    const volumes = (pod.spec.volumes as Obj[]) ?? [];
    for (const v of volumes) {
      const cm = (v.configMap as Obj | undefined)?.name as string | undefined;
      if (cm) t.ok(named(o, 'ConfigMap', cm) || EXTERNAL.ConfigMap.has(cm), `ConfigMap ${cm} is rendered or made by the operator`);
      const secret = (v.secret as Obj | undefined)?.secretName as string | undefined;
      if (secret) t.ok(EXTERNAL.Secret.has(secret), `Secret ${secret} is one the README tells operators to create`);
      const claim = (v.persistentVolumeClaim as Obj | undefined)?.claimName as string | undefined;
      if (claim) t.ok(named(o, 'PersistentVolumeClaim', claim), `PersistentVolumeClaim ${claim} is defined`);
    }
    for (const c of pod.containers) {
      for (const e of (c.env as Obj[] | undefined) ?? []) {
        const ref = ((e.valueFrom as Obj | undefined)?.secretKeyRef as Obj | undefined)?.name as string | undefined;
        if (ref) t.ok(EXTERNAL.Secret.has(ref), `${String(c.name)}: Secret ${ref} is one the README tells operators to create`);
      }
    }

    // Every mount names a volume, every volume is mounted, nothing nests inside another mount.
    const mounted = new Set<string>();
    for (const c of pod.containers) {
      const mounts = (c.volumeMounts as { name: string; mountPath: string }[] | undefined) ?? [];
      for (const m of mounts) {
        mounted.add(m.name);
        t.ok(
          volumes.some((v) => v.name === m.name),
          `${String(c.name)}: volume ${m.name} exists`,
        );
        t.notOk(
          mounts.some((x) => x !== m && m.mountPath.startsWith(`${x.mountPath}/`)),
          `${String(c.name)}: ${m.mountPath} is not nested in another mount`,
        );
      }
      const portNames = new Set(((c.ports as Obj[] | undefined) ?? []).map((p) => p.name));
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const port = ((c[probe] as Obj | undefined)?.httpGet as Obj | undefined)?.port;
        if (typeof port === 'string') t.ok(portNames.has(port), `${String(c.name)}: ${probe} port ${port} is declared`);
      }
      // The kubelet gives up after timeoutSeconds (1 s unless set): a check /readyz is still waiting on must come back
      // as a 503 naming it, not as a probe time-out that says nothing.
      const readiness = c.readinessProbe as Obj | undefined;
      if (readiness?.httpGet)
        t.ok(
          ((readiness.timeoutSeconds as number | undefined) ?? 1) * 1000 > CHECK_TIMEOUT_MS,
          `${String(c.name)}: the readiness probe waits longer than /readyz's own check time-out`,
        );
    }
    for (const v of volumes) t.ok(mounted.has(v.name as string), `volume ${String(v.name)} is mounted somewhere`);

    // Services select these pods on ports their containers declare.
    const podPorts = new Set(pod.containers.flatMap((c) => ((c.ports as Obj[] | undefined) ?? []).map((p) => p.name as string)));
    for (const s of byKind(o, 'Service')) {
      const spec = s.spec as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
      t.ok(selects(spec.selector, pod.labels), `Service ${s.metadata.name} selects the pods`);
      for (const p of spec.ports)
        t.ok(typeof p.targetPort === 'number' || podPorts.has(p.targetPort), `Service ${s.metadata.name} targets declared port ${p.targetPort}`);
    }
    for (const sm of byKind(o, 'ServiceMonitor')) {
      const spec = sm.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
      const svcs = byKind(o, 'Service').filter((s) => selects(spec.selector.matchLabels, s.metadata.labels ?? {}));
      t.equal(svcs.length, 1, `ServiceMonitor ${sm.metadata.name} selects one Service`);
      for (const e of spec.endpoints) {
        t.ok(
          ((svcs[0]?.spec as { ports: { name: string }[] } | undefined)?.ports ?? []).some((p) => p.name === e.port),
          `ServiceMonitor endpoint port ${e.port} is on the Service`,
        );
        t.equal(e.path, '/metrics');
      }
    }
    for (const np of byKind(o, 'NetworkPolicy')) {
      const sel = (np.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels;
      if (sel['kiwoom-guard/client'] === 'true') continue; // the pool's bots: their own pods, not rendered here
      t.ok(selects(sel, pod.labels), `NetworkPolicy ${np.metadata.name} selects the pods`);
    }
    for (const pdb of byKind(o, 'PodDisruptionBudget')) {
      t.ok(
        selects((pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, pod.labels),
        'PodDisruptionBudget selects the pods',
      );
    }
  });
}

// --- the kiwoom-guard container --------------------------------------------------

function guardOf(o: Overlay) {
  const pod = podOf(byKind(o, 'Deployment')[0]!)!;
  const guard = pod.containers.find((c) => c.name === GUARD)!;
  return { pod, guard };
}

for (const o of OVERLAYS) {
  t.test(`${o}: kiwoom-guard is probed, drains on shutdown, and runs locked down`, async (t) => {
    const { pod, guard } = guardOf(o);
    t.ok(guard, 'a kiwoom-guard container');
    t.match(guard.image, /^example\.org\/kiwoom-guard:\d+\.\d+\.\d+$/, 'the images transformer set the image');
    t.match(guard, {
      startupProbe: { httpGet: { path: '/healthz', port: 'admin' } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'admin' } },
      livenessProbe: { httpGet: { path: '/healthz', port: 'admin' } },
      lifecycle: { preStop: { sleep: { seconds: Number } } },
    });
    const preStop = ((guard.lifecycle as Obj).preStop as { sleep: { seconds: number } }).sleep.seconds;
    const grace = pod.spec.terminationGracePeriodSeconds as number;
    // preStop + in-flight calls (limits.requestTimeoutMs 30 s) + an order's answer once sent (upstream.answerTimeoutMs
    // 30 s: never cut) + broker session drain (5 s), with the defaults of the config.
    const defaults = defaultConfig();
    const drain = (defaults.limits.requestTimeoutMs + defaults.upstream.answerTimeoutMs) / 1000 + 5;
    t.ok(grace >= preStop + drain, `grace period ${grace} s covers preStop ${preStop} s and the drain (${drain} s)`);
    t.match(guard.securityContext, {
      runAsUser: IMAGE_USER,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    t.match(pod.spec.securityContext, {
      runAsNonRoot: true,
      fsGroup: IMAGE_USER,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    });
    t.same(guard.args, ['serve'], 'serve, with the config named by KGUARD_CONFIG');
    const env = Object.fromEntries(((guard.env as { name: string; value?: string }[]) ?? []).map((e) => [e.name, e.value]));
    t.equal(env.KGUARD_CONFIG, '/etc/kguard/config/config.yaml');
    t.same(
      Object.keys(env).filter((k) => k.startsWith('KGUARD_') && k !== 'KGUARD_CONFIG'),
      [],
      'no KGUARD_* key in the environment: the ConfigMap is the whole configuration',
    );

    // Private keys are copied 0400 into memory by an init container that runs first.
    const init = (pod.spec.initContainers as Obj[])[0]!;
    t.equal(init.name, 'private-keys', 'private-keys runs first');
    t.notOk(init.restartPolicy, 'private-keys runs to completion');
    t.match(init.command, ['/bin/sh', '-c', /install -m 0400/]);
    t.equal(init.image, guard.image, 'private-keys uses the same image');
  });
}

t.test('sidecar: a native sidecar beside the bot, which gets nothing of kiwoom-guard', async (t) => {
  const { pod, guard } = guardOf('sidecar');
  const inits = pod.spec.initContainers as Obj[];
  t.same(
    inits.map((c) => [c.name, c.restartPolicy ?? null]),
    [
      ['private-keys', null],
      [GUARD, 'Always'],
    ],
    'kiwoom-guard is an init container with restartPolicy: Always, after private-keys',
  );
  t.notOk(
    (pod.spec.containers as Obj[]).some((c) => c.name === GUARD),
    'not also a main container',
  );
  const bot = (pod.spec.containers as Obj[]).find((c) => c.name === 'bot')!;
  t.ok(bot, 'the bot container');
  t.same(
    ((bot.env as { name: string; value?: string }[]) ?? []).filter((e) => e.name === 'KIWOOM_BASE_URL').map((e) => e.value),
    ['http://127.0.0.1:8080'],
    'the bot talks to the sidecar on loopback',
  );
  t.notOk(bot.volumeMounts, 'the bot mounts none of kiwoom-guard’s volumes (keys, data, AWS token)');
  t.notOk(
    ((bot.env as { name: string }[]) ?? []).some((e) => e.name.startsWith('AWS_')),
    'no AWS settings in the bot',
  );
  t.notOk(guard.ports && (guard.ports as Obj[]).some((p) => p.containerPort === 8080), 'the bot port is not declared: it listens on loopback only');
  const cfg = parseYaml((named('sidecar', 'ConfigMap', 'trading-bot-kguard-config')!.data as Record<string, string>)['config.yaml']!) as Obj;
  t.match(cfg.listen, { host: '127.0.0.1' }, 'listens on loopback: bots in this pod only');
});

for (const o of OVERLAYS) {
  t.test(`${o}: the KMS role reaches the kiwoom-guard container only`, async (t) => {
    const { pod, guard } = guardOf(o);
    const sa = named(o, 'ServiceAccount', pod.spec.serviceAccountName as string)!;
    t.notOk(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'no role-arn on the service account: the webhook injects nothing');
    t.equal(pod.spec.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
    const env = Object.fromEntries(((guard.env as { name: string; value?: string }[]) ?? []).map((e) => [e.name, e.value]));
    t.match(env.AWS_ROLE_ARN, /^arn:aws:iam::\d{12}:role\//, 'the role is named on kiwoom-guard');
    const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE!;
    const mount = (guard.volumeMounts as { name: string; mountPath: string }[]).find((m) => tokenFile.startsWith(`${m.mountPath}/`))!;
    t.ok(mount, 'the token file is on a mount');
    const volume = (pod.spec.volumes as Obj[]).find((v) => v.name === mount.name)!;
    const source = ((volume.projected as { sources: Obj[] }).sources[0]!.serviceAccountToken ?? {}) as Obj;
    t.equal(source.audience, 'sts.amazonaws.com', 'a projected service account token for STS');
    t.equal(`${mount.mountPath}/${String(source.path)}`, tokenFile, 'AWS_WEB_IDENTITY_TOKEN_FILE names it');
    for (const c of pod.containers.filter((c) => c !== guard)) {
      t.notOk(
        ((c.volumeMounts as { name: string }[]) ?? []).some((m) => m.name === mount.name),
        `${String(c.name)} does not mount the token`,
      );
      t.notOk(
        ((c.env as { name: string }[]) ?? []).some((e) => e.name.startsWith('AWS_')),
        `${String(c.name)} has no AWS settings`,
      );
    }
    const skipped = (pod.annotations['eks.amazonaws.com/skip-containers'] ?? '').split(',');
    for (const c of pod.containers.filter((c) => c !== guard))
      t.ok(skipped.includes(c.name as string), `${String(c.name)} is skipped by the pod identity webhook too`);
  });

  t.test(`${o}: egress is DNS, Redis, and 443/10000 to public addresses only`, async (t) => {
    const egress = named(o, 'NetworkPolicy', 'kiwoom-guard-egress')!;
    const spec = egress.spec as { policyTypes: string[]; egress: { to?: Obj[]; ports?: { port: number; protocol: string }[] }[] };
    t.same(spec.policyTypes, ['Egress']);
    for (const rule of spec.egress)
      t.ok(rule.to && rule.to.length > 0 && rule.ports && rule.ports.length > 0, 'every rule names destinations and ports (no allow-all)');
    const publicRule = spec.egress.find((r) => r.to!.some((x) => isObj(x.ipBlock)))!;
    t.same(
      publicRule.ports!.map((p) => `${p.port}/${p.protocol}`).sort(),
      ['10000/TCP', '443/TCP'],
      "Kiwoom's REST (443) and WebSocket (10000) ports, KMS and STS on 443",
    );
    const block = publicRule.to![0]!.ipBlock as { cidr: string; except: string[] };
    t.equal(block.cidr, '0.0.0.0/0');
    for (const range of ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'])
      t.ok(block.except.includes(range), `${range} excluded (private ranges; the instance metadata service)`);
    t.ok(
      spec.egress.some((r) => r.ports!.some((p) => p.port === 53 && p.protocol === 'UDP')),
      'DNS',
    );
    t.ok(
      spec.egress.some((r) => r.ports!.some((p) => p.port === 6379)),
      'Redis',
    );
  });
}

t.test('replicas: a pool with a disruption budget, a bot Service and bots held to the pool', async (t) => {
  const d = byKind('replicas', 'Deployment')[0]!;
  const replicas = (d.spec as { replicas: number }).replicas;
  const pdb = byKind('replicas', 'PodDisruptionBudget')[0]!;
  const minAvailable = (pdb.spec as { minAvailable: number }).minAvailable;
  t.ok(replicas >= 3 && minAvailable >= 2 && minAvailable < replicas, `${replicas} replicas, at least ${minAvailable} kept through a drain`);
  const svc = named('replicas', 'Service', 'kiwoom-guard')!;
  t.same(
    (svc.spec as { ports: { port: number }[] }).ports.map((p) => p.port),
    [8080],
    'the bot Service exposes the bot port only',
  );
  const clients = named('replicas', 'NetworkPolicy', 'kiwoom-guard-clients-egress')!;
  const rules = (clients.spec as { egress: { to: Obj[]; ports: { port: number }[] }[] }).egress;
  t.same(rules.flatMap((r) => r.ports.map((p) => p.port)).sort(), [53, 53, 8080].sort(), 'labelled bots reach the pool (8080) and DNS, nothing else');
  const { guard } = guardOf('replicas');
  t.ok(
    (guard.volumeMounts as { subPathExpr?: string }[]).some((m) => m.subPathExpr === 'audit/$(POD_NAME)'),
    'each replica keeps its audit chain in its own directory',
  );
});

// --- monitoring --------------------------------------------------------------------

t.test('the PrometheusRule holds exactly the rules of deploy/prometheus/alerts.yaml', async (t) => {
  const alerts = parseYaml(await readFile(path.join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  for (const o of OVERLAYS) {
    const rule = byKind(o, 'PrometheusRule')[0]!;
    t.ok(rule, `${o}: renders the PrometheusRule`);
    const groups = (rule.spec as { groups: unknown[] }).groups;
    t.same(groups, alerts.groups, `${o}: same groups, rules, expressions and annotations as alerts.yaml`);
  }
  t.ok(alerts.groups.flatMap((g) => g.rules).length >= 20, 'the alerts are there to compare');
});
