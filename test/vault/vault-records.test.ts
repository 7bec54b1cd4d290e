// The per-call path reads encrypted records from memory: no file I/O per
// call, still one unwrap per call, and changes made by another process (the
// CLI, another vault on the same data dir) take effect within a second.
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { Histogram } from 'prom-client';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalKeyProvider, createVault, parseVaultConfig, type DecryptEvent, type ManagedVault } from '../../proxy/vault/index.js';
import { CANARY_APP_KEY, canaryBuffers, capturingLogger, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

async function openVault(t: Test, dataDir: string, records?: Parameters<typeof createVault>[0]['records']) {
  const registry = freshRegistry();
  const events: DecryptEvent[] = [];
  const vault = await createVault({
    dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }),
    registry,
    logger: capturingLogger().logger,
    onDecrypt: (e) => {
      events.push(e);
    },
    ...(records ? { records } : {}),
  });
  t.teardown(() => vault.close());
  return { vault, registry, events };
}

async function metricValue(registry: ReturnType<typeof freshRegistry>, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val));
  return hit?.value ?? 0;
}

/** Calls until the outcome flips; returns ms taken, or throws if it never flips within the (generous) deadline. */
async function msUntil(vault: ManagedVault, botId: string, want: 'denied' | 'ok', deadlineMs = 30_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const outcome = await vault
      .withCredentials(botId, 'call', async () => 'ok' as const)
      .catch((e: { code?: string }) => (e.code === 'KG4002' ? ('denied' as const) : Promise.reject(e)));
    const ms = performance.now() - started;
    if (outcome === want) return ms;
    if (ms > deadlineMs) throw new Error(`credential record never became ${want} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

t.test('2,000 calls: one record read, one unwrap per call, disabled state still checked per call', async (t) => {
  const dataDir = await tempDir(t);
  // Staleness is a matter of time (its own tests below); here a starved revalidation on a busy machine must not count as a second read.
  const { vault, registry } = await openVault(t, dataDir, { enabled: true, watch: true, revalidateMs: 250, maxStaleMs: 600_000 });
  await vault.importCredentials({ botId: 'hot', account: 'acct', ...canaryBuffers() });
  // A cold cache under concurrency: the callers share one read.
  const first = await Promise.all(Array.from({ length: 50 }, () => vault.withCredentials('hot', 'call', async (c) => c.appKey.toString())));
  t.ok(first.every((k) => k === CANARY_APP_KEY));
  for (let i = 0; i < 1_950; i++) await vault.withCredentials('hot', 'call', async () => undefined);
  t.equal(await metricValue(registry, 'kguard_vault_record_loads_total', { reason: 'miss' }), 1, 'the file was read once');
  t.equal(await metricValue(registry, 'kguard_vault_record_loads_total', { reason: 'stale' }), 0);
  const unwraps = registry.getSingleMetric('kguard_vault_unwrap_duration_seconds');
  // Narrowing by class gives the histogram's named values (_count/_sum/_bucket).
  if (!(unwraps instanceof Histogram)) throw new Error('kguard_vault_unwrap_duration_seconds is not a registered histogram');
  const count = (await unwraps.get()).values.find((v) => v.metricName === 'kguard_vault_unwrap_duration_seconds_count')?.value;
  t.equal(count, 2_000, 'every call still unwrapped its data key');
  // This process's own write is seen by the very next call.
  await vault.setEnabled('hot', false);
  await t.rejects(
    vault.withCredentials('hot', 'call', async () => t.fail('must not run')),
    { code: 'KG4002' },
  );
  t.equal(await vault.withCredentials('hot', 'revoke', async () => 'ok'), 'ok', 'revoke still allowed when disabled');
  await vault.setEnabled('hot', true);
  t.equal(await vault.withCredentials('hot', 'call', async () => 'ok'), 'ok');
});

t.test('kguard keys disable/enable in another process takes effect in a running vault at once (the time is reported)', async (t) => {
  const dataDir = await tempDir(t);
  // The periodic check and the staleness bound far off: within msUntil's deadline only the watcher can see a change
  // (on a loaded machine the check could otherwise see one first, and the watcher would have nothing to count).
  const { vault, registry } = await openVault(t, dataDir, { watch: true, revalidateMs: 60_000, maxStaleMs: 600_000 });
  await vault.importCredentials({ botId: 'cli-bot', account: 'acct', ...canaryBuffers() });
  t.equal(await vault.withCredentials('cli-bot', 'call', async () => 'ok'), 'ok', 'cached');

  const loader = path.resolve('test/helpers/dist-loader.mjs');
  const script = `import keys from ${JSON.stringify(path.resolve('proxy/cli/keys.ts'))};
    process.exitCode = await keys(process.argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });`;
  const runCli = (sub: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [`--import=${new URL(`file://${loader}`).href}`, '--input-type=module', '-e', script, sub, '--bot', 'cli-bot', '--data-dir', dataDir],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.on('exit', (code) => resolve({ code, out }));
    });
  // Keep the entry hot while the CLI starts up, as a live sidecar would.
  let calls = 0;
  let stop = false;
  const traffic = (async () => {
    while (!stop) {
      await vault.withCredentials('cli-bot', 'call', async () => undefined).catch(() => undefined);
      calls++;
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  let r = await runCli('disable');
  t.equal(r.code, 0, r.out);
  const disableMs = await msUntil(vault, 'cli-bot', 'denied');
  t.comment(`disable effective ${disableMs.toFixed(1)} ms after the CLI exited`);
  r = await runCli('enable');
  t.equal(r.code, 0, r.out);
  const enableMs = await msUntil(vault, 'cli-bot', 'ok');
  t.comment(`enable effective ${enableMs.toFixed(1)} ms after the CLI exited`);
  stop = true;
  await traffic;
  t.ok(calls > 10, 'calls ran throughout');
  t.ok((await metricValue(registry, 'kguard_vault_record_invalidations_total', { source: 'watch' })) >= 2, 'the watcher saw both changes');
});

t.test('without the watcher, the periodic check alone catches changes from another process', async (t) => {
  const dataDir = await tempDir(t);
  const a = await openVault(t, dataDir, { watch: false, revalidateMs: 100, maxStaleMs: 1_000 });
  const b = await openVault(t, dataDir); // stands in for another process: its writes don't touch a's memory
  await b.vault.importCredentials({ botId: 'w', account: 'acct', ...canaryBuffers() });
  t.equal(await a.vault.withCredentials('w', 'call', async (c) => c.appKey.toString()), CANARY_APP_KEY);
  await b.vault.setEnabled('w', false);
  const ms = await msUntil(a.vault, 'w', 'denied');
  t.comment(`disable seen by the sweep after ${ms.toFixed(1)} ms`);
  t.ok((await metricValue(a.registry, 'kguard_vault_record_invalidations_total', { source: 'sweep' })) >= 1);
  t.equal(await metricValue(a.registry, 'kguard_vault_record_invalidations_total', { source: 'watch' }), 0);

  // Rotation and destruction elsewhere reach the running vault too.
  await b.vault.setEnabled('w', true);
  await msUntil(a.vault, 'w', 'ok');
  await b.vault.rotateCredentials({ botId: 'w', appKey: Buffer.from('OTHERprocessAPPKEY01'), secretKey: Buffer.from('OTHERprocessSECRET01') });
  const deadline = performance.now() + 30_000;
  let key = '';
  while (performance.now() < deadline && key !== 'OTHERprocessAPPKEY01') {
    key = await a.vault.withCredentials('w', 'call', async (c) => c.appKey.toString());
    await new Promise((r) => setTimeout(r, 5));
  }
  t.equal(key, 'OTHERprocessAPPKEY01', 'rotated keys in use');
  await b.vault.destroyCredentials('w');
  let code: string | undefined;
  const deadline2 = performance.now() + 30_000;
  while (performance.now() < deadline2 && code !== 'KG4003') {
    code = await a.vault
      .withCredentials('w', 'call', async () => undefined)
      .then(
        () => undefined,
        (e: { code: string }) => e.code,
      );
    await new Promise((r) => setTimeout(r, 5));
  }
  t.equal(code, 'KG4003', 'destroyed elsewhere: no credentials');
});

t.test('an entry nobody confirmed within maxStaleMs is re-read from disk by the call', async (t) => {
  const dataDir = await tempDir(t);
  // The sweep never gets round in time and there is no watcher: only the staleness bound protects.
  const a = await openVault(t, dataDir, { watch: false, revalidateMs: 60_000, maxStaleMs: 50 });
  const b = await openVault(t, dataDir);
  await b.vault.importCredentials({ botId: 's', account: 'acct', ...canaryBuffers() });
  t.equal(await a.vault.withCredentials('s', 'call', async () => 'ok'), 'ok');
  await b.vault.setEnabled('s', false);
  await new Promise((r) => setTimeout(r, 80));
  await t.rejects(
    a.vault.withCredentials('s', 'call', async () => t.fail('stale entry served')),
    { code: 'KG4002' },
  );
  t.equal(await metricValue(a.registry, 'kguard_vault_record_loads_total', { reason: 'stale' }), 1);
});

t.test('a record tampered in place is refused, not served from memory', async (t) => {
  const dataDir = await tempDir(t);
  const { vault } = await openVault(t, dataDir);
  await vault.importCredentials({ botId: 'tam', account: 'acct', ...canaryBuffers() });
  t.equal(await vault.withCredentials('tam', 'call', async () => 'ok'), 'ok');
  const file = path.join(dataDir, 'credentials', 'tam.json');
  const { readFile } = await import('node:fs/promises');
  const r = JSON.parse(await readFile(file, 'utf8'));
  r.account = 'acc2'; // same length: the size does not change
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  let code: string | undefined;
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline && code !== 'KG4004') {
    code = await vault
      .withCredentials('tam', 'call', async () => undefined)
      .then(
        () => undefined,
        (e: { code: string }) => e.code,
      );
  }
  t.equal(code, 'KG4004');
});

t.test('with the record cache off every call reads the file', async (t) => {
  const dataDir = await tempDir(t);
  const { vault, registry } = await openVault(t, dataDir, { enabled: false });
  await vault.importCredentials({ botId: 'off', account: 'acct', ...canaryBuffers() });
  for (let i = 0; i < 5; i++) await vault.withCredentials('off', 'call', async () => undefined);
  t.equal(await metricValue(registry, 'kguard_vault_record_loads_total', { reason: 'uncached' }), 5);
});

t.test('vault.records config: defaults and clear errors', async (t) => {
  t.same(parseVaultConfig({}, '/d').records, { enabled: true, watch: true, revalidateMs: 250, maxStaleMs: 1_000 });
  t.same(parseVaultConfig({ records: { watch: false, revalidateMs: 100, maxStaleMs: 500 } }, '/d').records, {
    enabled: true,
    watch: false,
    revalidateMs: 100,
    maxStaleMs: 500,
  });
  const bad: [unknown, RegExp][] = [
    [{ records: { enabled: 'yes' } }, /records\.enabled: must be true or false/],
    [{ records: { revalidateMs: 5 } }, /records\.revalidateMs: must be an integer from 10/],
    [{ records: { maxStaleMs: 1.5 } }, /records\.maxStaleMs: must be an integer/],
    [{ records: { revalidateMs: 600, maxStaleMs: 1_000 } }, /maxStaleMs must be at least twice revalidateMs/],
    [{ records: { ttl: 1 } }, /records\.ttl: unknown key/],
    [{ records: 3 }, /records: must be a mapping/],
  ];
  for (const [raw, msg] of bad) t.throws(() => parseVaultConfig(raw, '/d'), { code: 'KG4005', message: msg });
});
