// Kubernetes gives every container the addresses of its namespace's Services
// as environment variables (enableServiceLinks, on by default), named after
// the Service. The manifests name a Redis release called kguard-redis, whose
// Service yields KGUARD_REDIS_PORT=tcp://…, KGUARD_REDIS_SERVICE_HOST and
// kin: read as KGUARD_* settings they were unknown keys, and every pod of both
// shapes exited KG9003 at start (crash loop). The variables are written here
// exactly as the kubelet writes them (pkg/kubelet/envvars: FromServices).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../proxy/common/config.js';
import { spawnSidecar, writeSidecarConfig } from '../helpers/sidecar-process.js';
import { OVERLAYS, podOf, renderOverlay, type K8sObject } from './render.js';

interface ServicePort {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}
interface ClusterService {
  name: string;
  clusterIP: string;
  ports: ServicePort[];
}

const envName = (s: string) => s.replace(/-/g, '_').toUpperCase();
const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** The kubelet's service environment for these Services (headless ones, clusterIP None, get none). */
function serviceLinks(services: ClusterService[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of services) {
    if (s.clusterIP === 'None' || s.clusterIP === '') continue;
    const prefix = envName(s.name);
    env[`${prefix}_SERVICE_HOST`] = s.clusterIP;
    env[`${prefix}_SERVICE_PORT`] = String(s.ports[0]!.port);
    for (const p of s.ports) if (p.name) env[`${prefix}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
    s.ports.forEach((p, i) => {
      const proto = (p.protocol ?? 'TCP').toLowerCase();
      const url = `${proto}://${hostPort(s.clusterIP, p.port)}`;
      if (i === 0) env[`${prefix}_PORT`] = url;
      const portPrefix = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      env[portPrefix] = url;
      env[`${portPrefix}_PROTO`] = proto;
      env[`${portPrefix}_PORT`] = String(p.port);
      env[`${portPrefix}_ADDR`] = s.clusterIP;
    });
  }
  return env;
}

/**
 * The Redis the manifests name (kguard-redis:6379; kguard-redis-node-N.kguard-redis-headless:26379): the Bitnami
 * chart's Services for a release called kguard-redis with Sentinel; a Service someone calls kguard; Kubernetes' own.
 */
const NAMESPACE_SERVICES: ClusterService[] = [
  {
    name: 'kguard-redis',
    clusterIP: '10.96.14.7',
    ports: [
      { name: 'tcp-redis', port: 6379 },
      { name: 'tcp-sentinel', port: 26379 },
    ],
  },
  { name: 'kguard-redis-headless', clusterIP: 'None', ports: [{ name: 'tcp-redis', port: 6379 }] },
  {
    name: 'kguard',
    clusterIP: 'fd00:10:96::2a',
    ports: [
      { name: 'bots', port: 8080 },
      { name: 'admin', port: 9090 },
      { port: 53, protocol: 'UDP' },
    ],
  },
  { name: 'kubernetes', clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] },
];

/** The overlay's own Services, as the kubelet sees them once applied (a made-up cluster IP each). */
function overlayServices(docs: K8sObject[]): ClusterService[] {
  return docs
    .filter((d) => d.kind === 'Service')
    .map((d, i) => {
      const spec = d.spec as { clusterIP?: string; ports: ServicePort[] };
      return { name: d.metadata.name, clusterIP: spec.clusterIP ?? `10.96.20.${i + 1}`, ports: spec.ports };
    });
}

for (const overlay of OVERLAYS) {
  t.test(`overlays/${overlay}: the namespace's service links leave the ConfigMap's configuration as it is`, async (t) => {
    const docs = await renderOverlay(overlay);
    const pod = podOf(docs.find((d) => d.kind === 'Deployment')!)!;
    const guard = pod.containers.find((c) => c.name === 'kiwoom-guard')!;
    const configMapName = (pod.spec.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === 'config')!.configMap!.name;
    const configText = (docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === configMapName)!.data as Record<string, string>)['config.yaml']!;
    const dir = await mkdtemp(path.join(tmpdir(), 'kguard-links-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'config.yaml');
    await writeFile(file, configText);

    const links = serviceLinks([...NAMESPACE_SERVICES, ...overlayServices(docs)]);
    t.ok(links.KGUARD_REDIS_PORT_26379_TCP_ADDR, 'the Redis release gives KGUARD_REDIS_* variables');
    // As the container loads it (KGUARD_CONFIG names the ConfigMap's file; here its copy), beside the links.
    t.ok(
      (guard.env as { name: string }[]).some((e) => e.name === 'KGUARD_CONFIG'),
      'KGUARD_CONFIG names the file',
    );
    const withLinks = await loadConfig({ file, env: links, cwd: '/app' }).catch((err: Error) => err);
    t.notOk(withLinks instanceof Error, `kguard loads its configuration beside the service links${withLinks instanceof Error ? `: ${withLinks.message}` : ''}`);
    t.same(withLinks, await loadConfig({ file, env: {}, cwd: '/app' }), 'and it is the ConfigMap’s alone');
  });
}

t.test('a mistyped setting is still refused as an unknown key, even when it looks like a port', async (t) => {
  for (const [name, value] of [
    ['KGUARD_LISTEN_PORT', '8081'], // listen.port is KGUARD_LISTEN__PORT
    ['KGUARD_REDIS_PORT', '6379'], // a link's _PORT is a tcp:// URL
    ['KGUARD_REDIS_SERVICE_HOST', 'redis.example'], // a link's host is an address
    ['KGUARD_ADMIN__PORT', 'tcp://10.96.14.7:9090'], // nested: a setting (here of the wrong type), never a link
  ] as const) {
    await t.rejects(loadConfig({ env: { [name]: value } }), { code: 'KG9003' }, `${name}=${value} refused`);
  }
});

t.test('kguard serve starts in a namespace holding the kguard-redis and kguard Services', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-links-serve-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const configFile = await writeSidecarConfig(path.join(dir, 'config.json'), { dataDir: path.join(dir, 'data') });
  const child = await spawnSidecar({ configFile, env: serviceLinks(NAMESPACE_SERVICES) }).catch((err: Error) => err);
  if (child instanceof Error) {
    t.fail(`the sidecar did not start: ${child.message.slice(0, 400)}`);
    return;
  }
  t.teardown(() => child.kill());
  const health = await request(`${child.adminUrl}/healthz`);
  await health.body.dump();
  t.equal(health.statusCode, 200, '/healthz answers');
  t.equal(await child.stop(), 0, 'SIGTERM: clean exit');
});
