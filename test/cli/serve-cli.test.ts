// The real `kguard serve` binary: `--redis URL` puts it on shared state, and
// SIGTERM drains (no broker token left live, exit code 0).
import t from 'tap';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startSimulator } from '../../proxy/sim/index.js';
import { startRedis } from '../helpers/redis.js';
import { spawnSidecar, writeSidecarConfig } from '../helpers/sidecar-process.js';

t.test('kguard serve --redis URL runs on Redis and drains on SIGTERM', async (t) => {
  const redisProc = await startRedis();
  t.teardown(() => redisProc.cleanup());
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-serve-'));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const configFile = await writeSidecarConfig(path.join(dataDir, 'kguard.yaml'), {
    dataDir,
    upstream: { target: 'custom', url: sim.url },
    log: { level: 'warn' },
  });
  const child = await spawnSidecar({ configFile, args: ['--redis', redisProc.url] });
  t.teardown(() => child.kill());
  const metrics = await (await request(`${child.adminUrl}/metrics`)).body.text();
  t.match(metrics, /^kguard_state_up 1$/m, 'the Redis store is up');
  const ready = await request(`${child.adminUrl}/readyz`);
  t.equal(ready.statusCode, 200, await ready.body.text());
  const t0 = Date.now();
  t.equal(await child.stop(), 0, 'SIGTERM: clean exit');
  t.comment(`drained and exited in ${Date.now() - t0} ms`);
  t.equal(sim.liveTokens(), 0, 'no broker token left live');
  t.notMatch(child.stdout() + child.stderr(), /"level":"(error|fatal)"/, 'no error logged on the way down');
});

t.test('SIGTERM: the log says when the drain began and that it ended (not cut by SIGKILL)', async (t) => {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-serve-stop-'));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const configFile = await writeSidecarConfig(path.join(dataDir, 'kguard.yaml'), {
    dataDir,
    upstream: { target: 'custom', url: sim.url },
    log: { level: 'info' },
  });
  const child = await spawnSidecar({ configFile });
  t.teardown(() => child.kill());
  t.equal(await child.stop(), 0, 'SIGTERM: clean exit');
  const lines = child
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const began = lines.findIndex((l) => String(l.msg).startsWith('shutting down'));
  const ended = lines.findIndex((l) => String(l.msg).startsWith('stopped: calls drained'));
  t.ok(began >= 0, 'the drain begins: "shutting down"');
  t.ok(ended > began, 'and its end is logged after it, the last word before the exit');
  t.match(lines[ended], { level: 'info', signal: 'SIGTERM', drainMs: Number });
});
