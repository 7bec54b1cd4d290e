// The transparent section: off by default, its knobs validated, and a sidecar
// with transparent mode on but no CA refuses to start with a clear message.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../proxy/common/config.js';
import { createLogger } from '../../proxy/common/logger.js';
import { startSidecar } from '../../proxy/server/sidecar.js';

t.test('defaults and validation', async (t) => {
  const c = await loadConfig({ env: {} });
  t.equal(c.transparent.enabled, false, 'off by default');
  t.same(c.transparent.hosts, ['api.kiwoom.com', 'mockapi.kiwoom.com']);
  t.same(c.transparent.ports, [443, 10000]);
  t.equal(c.transparent.leafLifetimeMs, 86_400_000, '24 h leaves');
  await t.rejects(loadConfig({ env: {}, overrides: { transparent: { renewBeforeMs: 86_400_000 } } }), { code: 'KG9003', detail: /renewBeforeMs/ });
  await t.rejects(loadConfig({ env: {}, overrides: { transparent: { proxyAnything: true } } }), { code: 'KG9003', detail: /unknown key 'proxyAnything'/ });
  await t.rejects(loadConfig({ env: {}, overrides: { transparent: { ports: [0] } } }), { code: 'KG9003' });
  const env = await loadConfig({
    env: { KGUARD_TRANSPARENT__ENABLED: 'true', KGUARD_TRANSPARENT__LEAF_LIFETIME_MS: '3600000', KGUARD_TRANSPARENT__RENEW_BEFORE_MS: '600000' },
  });
  t.equal(env.transparent.enabled, true, 'KGUARD_TRANSPARENT__ENABLED');
  t.equal(env.transparent.leafLifetimeMs, 3_600_000);
});

t.test('transparent mode on without a CA: the sidecar does not start, and says how to fix it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-noca-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = await loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: false },
      demo: { enabled: false },
      transparent: { enabled: true },
    },
  });
  await t.rejects(startSidecar(config, { logger: createLogger({ level: 'silent' }), cwd: path.resolve('.') }), { code: 'KG9003', detail: /kguard ca init/ });
});
