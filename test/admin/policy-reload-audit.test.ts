// Review (red team): POST /admin/v1/policy/reload puts an edited policy in
// force on the admin's word (with policy.watch off, it is the only way in).
// Like every other admin change it is recorded, with the admin's name, before
// it takes effect: when that record cannot be written, the reload is refused
// and the policy in force stays as it was, not swapped in unrecorded while
// the admin is told it failed.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FIXTURES, startHarness } from '../helpers/harness.js';

t.test('a reload whose audit record cannot be written changes nothing', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-reload-audit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  await copyFile(path.join(FIXTURES, 'policy-open.yaml'), file);
  const h = await startHarness({ policyFile: file, config: { policy: { watch: false } } });
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  const before = h.sidecar.parts.policy.current()?.version;
  await writeFile(file, (await readFile(file, 'utf8')).replace('name: e2e-open', 'name: e2e-open-edited'));

  const auditor = h.sidecar.parts.auditor as unknown as { append: (r: Record<string, unknown>, o?: unknown) => Promise<unknown> };
  const realAppend = auditor.append;
  const seen: Record<string, unknown>[] = [];
  auditor.append = (r, o) => {
    if (r.type === 'admin') {
      seen.push(r);
      return Promise.reject(new Error('audit sink down'));
    }
    return realAppend.call(auditor, r, o);
  };
  let refused: Awaited<ReturnType<typeof h.admin>>;
  try {
    refused = await h.admin('POST', '/admin/v1/policy/reload', admin, {});
  } finally {
    auditor.append = realAppend;
  }
  t.not(refused.status, 200, `the reload is refused: ${refused.status}`);
  t.ok(seen.length > 0, 'an audit record was attempted');
  t.equal(h.sidecar.parts.policy.current()?.version, before, 'the policy in force is the one before the edit');

  const ok = await h.admin('POST', '/admin/v1/policy/reload', admin, {});
  t.equal(ok.status, 200, `with the audit up the reload works: ${ok.text.slice(0, 200)}`);
  t.equal(ok.json.changed, true, 'and puts the edit in force');
  t.not(h.sidecar.parts.policy.current()?.version, before);
});
