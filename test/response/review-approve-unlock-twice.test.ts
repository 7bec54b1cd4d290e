// Review regression (an on-call admin's): `kguard incidents approve-unlock` by the same admin twice said
// "unlock approved" both times and left two unlock_approved audit records, so anyone counting them saw one more
// approval than the incident had, and the admin learned only at unlock time that another was needed. Approving
// again while one's approval counts now records nothing, and the CLI says how many of the approvals needed it has.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { kguardInProcess } from '../cli/run-cli.js';
import { startHarness } from '../helpers/harness.js';
import { confirmRecoverySteps } from '../helpers/lockdown-steps.js';

t.test('approve-unlock twice by one admin: one approval, one audit record, the count said', async (t) => {
  const h = await startHarness({ config: { risk: { enabled: false }, response: { damage: { deadlineMs: 500 } } } });
  t.teardown(() => h.close());
  const lead = await h.adminToken('sec-lead', 'admin');
  const tokenFile = path.join(h.dataDir, 'lead.token');
  await writeFile(tokenFile, `${lead}\n`, { mode: 0o600 });
  const env = { KGUARD_ADMIN_URL: `${h.adminUrl}/admin/v1`, KGUARD_ADMIN_TOKEN_FILE: tokenFile };
  const locked = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason: 'stolen secret' });
  const id = String(locked.json.id);
  await confirmRecoverySteps(t, h, id, lead);

  const first = await kguardInProcess(['incidents', 'approve-unlock', id, '--lang', 'en'], { env });
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stdout, `unlock approvals for incident ${id}: 1 of 2 (1 more admin needed)\n`, 'says how many are still needed');
  const again = await kguardInProcess(['incidents', 'approve-unlock', id, '--lang', 'en'], { env });
  t.equal(again.stdout, `unlock approvals for incident ${id}: 1 of 2 (1 more admin needed)\n`, 'approving again adds none');
  const ko = await kguardInProcess(['incidents', 'approve-unlock', id], { env });
  t.equal(ko.stdout, `사고 ${id}의 차단 해제 승인: 1/2 (관리자 1명 더 필요)\n`, 'in Korean by default');

  const report = await h.admin('GET', `/admin/v1/incidents/${id}`, lead);
  t.equal((report.json.unlockApprovals as unknown[]).length, 1, 'one approval');
  // Audit records are written inline (audit.write: inline): the three calls have been answered, so their records are in.
  const dir = path.join(h.dataDir, 'audit');
  let approvals = 0;
  for (const f of (await readdir(dir)).filter((n) => /^audit-\d+\.jsonl$/.test(n)))
    for (const line of (await readFile(path.join(dir, f), 'utf8')).split('\n'))
      if (line && (JSON.parse(line) as { data?: { action?: string; incidentId?: string } }).data?.action === 'unlock_approved') approvals++;
  t.equal(approvals, 1, 'one unlock_approved audit record');
});
