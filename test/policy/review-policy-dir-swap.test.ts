// A replaced policy directory (an atomic directory swap: write policies.new,
// rename it over policies) left the watch on the old directory's inode: that
// replica never reloaded again, enforcing the old policy with nothing in
// /readyz or /metrics to say so, while replicas whose directory was edited in
// place moved on. Now the directory's watch is re-armed and the file re-read
// every policy.recheckIntervalMs.
import t from 'tap';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { createPolicyEngine, parsePolicyConfig } from '../../proxy/policy/index.js';

const market = { referencePrice: async () => 70000, heldQuantity: async () => 0, openOrderCount: async () => 0 };
const policy = (maxQuantity: number) => `version: 1\nrules:\n  - { id: size, type: order-size, maxQuantity: ${maxQuantity} }\n`;

/** Waits for check (a generous deadline: the machine is shared); false when it never held. */
async function until(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

t.test('a policy directory replaced by another is watched again and its policy enforced', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'kg-dirswap-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'policies');
  await mkdir(dir);
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, policy(10));
  const store = createMemoryStore();
  // Spread, not parsed: with code that does not know the knob, the test fails on behaviour, not on config.
  const config = { ...parsePolicyConfig({ file, reloadDebounceMs: 30 }, root), recheckIntervalMs: 100 };
  const engine = await createPolicyEngine({ config, store, market, registry: new Registry(), logger: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  const allows = async (qty: number) =>
    (
      await engine.evaluate({
        botId: 'b',
        account: 'a',
        apiId: 'kt10000',
        entry: lookupApi('kt10000'),
        body: { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: String(qty), ord_uv: '1', trde_tp: '0' },
      })
    ).outcome === 'allow';
  t.ok(await allows(5), 'maxQuantity 10 at start');

  await mkdir(path.join(root, 'policies.new'));
  await writeFile(path.join(root, 'policies.new', 'policy.yaml'), policy(1));
  await rename(dir, path.join(root, 'policies.old'));
  await rename(path.join(root, 'policies.new'), dir);
  t.ok(await until(async () => !(await allows(5))), 'the swapped-in directory policy is enforced');

  // And the new directory is watched: a later edit in it is enforced too.
  await writeFile(file, policy(3));
  t.ok(await until(async () => (await allows(3)) && !(await allows(4))), 'a later edit is enforced');
});

t.test('policy.recheckIntervalMs: 30 s by default, 0 turns it off, a negative value is refused', async (t) => {
  t.equal(parsePolicyConfig(undefined, '/srv').recheckIntervalMs, 30_000);
  t.equal(parsePolicyConfig({ recheckIntervalMs: '0' }, '/srv').recheckIntervalMs, 0);
  t.throws(() => parsePolicyConfig({ recheckIntervalMs: -1 }, '/srv'), /policy\.recheckIntervalMs: must be an integer >= 0/);
});

t.test('kguard_policy_info names the version in force, so replicas that diverged can be told apart', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-info-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, `name: desk-a\n${policy(10)}`);
  const store = createMemoryStore();
  const registry = new Registry();
  const engine = await createPolicyEngine({
    config: parsePolicyConfig({ file, reloadDebounceMs: 30 }, dir),
    store,
    market,
    registry,
    logger: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  const series = async () => ((await registry.getSingleMetric('kguard_policy_info')?.get())?.values ?? []).map((v) => ({ ...v.labels, value: v.value }));
  const v1 = engine.current()!.version;
  t.same(await series(), [{ version: v1, name: 'desk-a', value: 1 }]);
  await writeFile(file, `name: desk-a\n${policy(20)}`);
  t.ok(await until(async () => engine.current()!.version !== v1), 'reloaded');
  t.same(await series(), [{ version: engine.current()!.version, name: 'desk-a', value: 1 }], 'only the version in force');
  // An invalid edit keeps the version in force, and says so.
  await writeFile(file, 'rules: nope\n');
  t.ok(await until(async () => engine.lastError() !== undefined), 'the invalid edit is seen');
  t.same(await series(), [{ version: engine.current()!.version, name: 'desk-a', value: 1 }], 'the kept version');
});

t.test('a broken file read again by the recheck is not parsed, counted or logged again', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-recheck-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, policy(10));
  const store = createMemoryStore();
  const registry = new Registry();
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const config = { ...parsePolicyConfig({ file, reloadDebounceMs: 30 }, dir), recheckIntervalMs: 50 };
  const engine = await createPolicyEngine({ config, store, market, registry, logger });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  const reloads = async (outcome: string) =>
    ((await registry.getSingleMetric('kguard_policy_reloads_total')?.get())?.values ?? []).find((v) => v.labels.outcome === outcome)?.value ?? 0;
  await writeFile(file, 'rules: nope\n');
  t.ok(await until(async () => engine.lastError() !== undefined), 'the broken edit is seen');
  // Many rechecks later (each re-reads the file): still one rejection, one error line, the error kept.
  const seen = await reloads('invalid');
  await until(async () => false, 1000);
  t.equal(await reloads('invalid'), seen, 'counted once');
  t.equal(lines.filter((l) => l.includes('policy file invalid')).length, seen, 'logged once');
  t.ok(engine.lastError(), 'still reported');
  // A fix is picked up as usual.
  await writeFile(file, policy(3));
  t.ok(await until(async () => engine.lastError() === undefined), 'the fix clears the error');
});
