// Review regression (an operator's): KiwoomGuardPolicyReloadRejected fired on an increase of
// kguard_policy_reloads_total{outcome="invalid"} over 15 minutes, but a recheck of the same rejected bytes counts no
// new reload (deliberately: it is neither parsed nor logged again), so the alert cleared 15 minutes after the edit
// while the file still held it and /readyz still warned. Now kguard_policy_edit_rejected is 1 for as long as the
// file holds a rejected edit, 0 once it loads or is back to the policy in force, and the alert reads it.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { createPolicyEngine, parsePolicyConfig } from '../../proxy/policy/index.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { ROOT } from '../helpers/harness.js';

const GOOD = 'version: 1\nrules:\n  - { id: least-privilege, type: allow-apis, kinds: [query] }\n';
const BAD = `${GOOD}  - { id: typo, type: order-sise, maxQuantity: 1 }\n`;

t.test('kguard_policy_edit_rejected is 1 while the file holds a rejected edit, rechecks included, and 0 once fixed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-edit-rejected-'));
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, GOOD);
  const registry = new Registry();
  const store = createMemoryStore();
  const engine = await createPolicyEngine({
    config: { ...parsePolicyConfig({ file, watch: false }, dir) },
    store,
    market: { referencePrice: async () => 70000, heldQuantity: async () => 0, openOrderCount: async () => 0 },
    registry,
    logger: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await engine.close();
    await store.close();
  });
  const gauge = async () => Number(/^kguard_policy_edit_rejected (\d+)$/m.exec(await registry.getSingleMetricAsString('kguard_policy_edit_rejected'))?.[1]);
  const invalid = async () => Number(/outcome="invalid"} (\d+)/.exec(await registry.getSingleMetricAsString('kguard_policy_reloads_total'))?.[1]);
  t.equal(await gauge(), 0, 'a valid policy: 0');

  await writeFile(file, BAD);
  t.equal((await engine.reload()).ok, false);
  t.equal(await gauge(), 1, 'the edit rejected: 1');
  for (let i = 0; i < 3; i++) await engine.reload();
  t.equal(await invalid(), 1, 'rechecks of the same bytes count no new rejected reload');
  t.equal(await gauge(), 1, 'and the gauge stays 1 while the file holds the edit');

  await writeFile(file, GOOD);
  await engine.reload();
  t.equal(await gauge(), 0, 'back to the policy in force: 0');
  await writeFile(file, BAD);
  await engine.reload();
  await writeFile(file, `${GOOD}  - { id: size, type: order-size, maxQuantity: 1 }\n`);
  t.equal((await engine.reload()).ok, true);
  t.equal(await gauge(), 0, 'a fixed edit loaded: 0');
});

t.test('the alert reads the gauge', async (t) => {
  const doc = parseYaml(await readFile(path.join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === 'KiwoomGuardPolicyReloadRejected');
  t.match(rule?.expr, /kguard_policy_edit_rejected\) == 1/);
  t.notMatch(rule?.expr, /increase\(/, 'not an increase that clears while nothing is fixed');
});
