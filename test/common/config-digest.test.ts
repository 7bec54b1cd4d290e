// kguard_config_info: replicas of one deployment show one digest while they
// run one configuration, and two once one of them differs (a rollout stalled
// half-way, a pod changed by hand). What legitimately differs per replica (the
// file's path, audit.replicaId) does not count; key order does not either.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../../proxy/common/config.js';
import { configDigest } from '../../proxy/common/config-digest.js';
import { startHarness } from '../helpers/harness.js';

const dir = await mkdtemp(path.join(tmpdir(), 'kguard-config-digest-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('the digest follows the configuration, not where it was read from or how it was written', async (t) => {
  const a = path.join(dir, 'a.yaml');
  const b = path.join(dir, 'b.yaml');
  await writeFile(a, 'limits:\n  maxBodyBytes: 65536\nstate:\n  backend: memory\n');
  await writeFile(b, 'state:\n  backend: memory\nlimits:\n  maxBodyBytes: 65536\n');
  const fromA = await loadConfig({ file: a, env: {} });
  const fromB = await loadConfig({ file: b, env: {} });
  t.match(configDigest(fromA), /^[0-9a-f]{16}$/, 'sixteen hex digits');
  t.equal(configDigest(fromA), configDigest(fromB), 'the same settings in another order, in another file: one digest');
  const env = await loadConfig({ file: a, env: { KGUARD_LIMITS__MAX_BODY_BYTES: '32768' } });
  t.not(configDigest(env), configDigest(fromA), 'a KGUARD_ variable that changes a setting changes the digest');
  const prefix = await loadConfig({ file: a, env: {}, overrides: { state: { redis: { keyPrefix: 'other:' } } } });
  t.not(configDigest(prefix), configDigest(fromA), 'so does a Redis key prefix');
  const named = await loadConfig({ file: a, env: {}, overrides: { audit: { replicaId: 'pod-7' } } });
  const namedOther = await loadConfig({ file: a, env: {}, overrides: { audit: { replicaId: 'pod-8' } } });
  t.equal(configDigest(named), configDigest(namedOther), "each replica's own audit.replicaId does not count");
});

t.test('/metrics shows kguard_config_info with the digest of the configuration in force', async (t) => {
  const h = await startHarness({ config: { limits: { maxBodyBytes: 65_536 } } });
  t.teardown(() => h.close());
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const shown = /^kguard_config_info\{digest="([0-9a-f]{16})"\} 1$/m.exec(text)?.[1];
  t.ok(shown, 'one series, value 1');
  t.equal(shown, configDigest(h.sidecar.parts.config), 'the digest of the configuration the sidecar runs');
});
