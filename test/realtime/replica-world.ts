// Two sidecar processes (replicas A and B) sharing a real redis-server, in
// front of one simulator, with the realtime policy: the world the realtime
// replica tests share. `bots` are registered on A's data dir (shared by B).
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { FIXTURES } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';
import { startReplica, type ReplicaBot } from '../helpers/replica-process.js';

export async function realtimeReplicas(
  t: Pick<Test, 'teardown'>,
  opts: {
    name: string;
    key: { appKey: string; secretKey: string };
    account: string;
    bots: readonly ReplicaBot[];
    realtime: Record<string, unknown>;
    upstream?: Record<string, unknown>;
  },
) {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const sim = await startSimulator({ wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 });
  t.teardown(() => sim.close());
  sim.registerApp({ appKey: opts.key.appKey, secretKey: opts.key.secretKey, accountNo: opts.account });
  const dataDir = await mkdtemp(path.join(tmpdir(), `kguard-rt-${opts.name}-`));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const policyFile = path.join(dataDir, 'policy.yaml');
  await copyFile(path.join(FIXTURES, 'policy-realtime.yaml'), policyFile);
  const overrides = {
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, enabled: true },
    upstream: { target: 'custom', url: sim.url, ...opts.upstream },
    state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 1000 } },
    policy: { file: policyFile },
    demo: { enabled: false },
    realtime: opts.realtime,
  };
  const A = await startReplica('A', overrides, opts.bots);
  t.teardown(() => A.stop());
  const B = await startReplica('B', overrides);
  t.teardown(() => B.stop());
  return { redis, sim, A, B };
}
