// Each key provider end to end through the running sidecar: bot call →
// unwrap under the provider → broker token → call → revoke. AWS KMS is the
// real SDK against a server speaking KMS's wire protocol; PKCS#11 is SoftHSM.
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startFakeKms, useFakeAwsCredentials } from '../helpers/fake-kms.js';
import { createSoftHsmToken } from '../helpers/softhsm.js';

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

async function roundTrip(t: Test, h: Harness, provider: string): Promise<void> {
  const meta = await h.sidecar.parts.vault.describe(h.botId);
  t.equal(meta?.provider, provider, `the credential record is wrapped by ${provider}`);
  const before = h.sim.stats();
  const r = await h.call('kt10000', BUY);
  t.equal(r.json.return_code, 0, r.text);
  await h.waitNoLiveTokens();
  const after = h.sim.stats();
  t.equal(after.tokensIssued - before.tokensIssued, 1, 'one broker token issued');
  t.equal(after.tokensRevoked - before.tokensRevoked, 1, 'and revoked');
  const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
  t.match(metrics, /kguard_vault_decrypts_total\{purpose="call",outcome="ok"\} [1-9]/, 'unwrapped for the call');
  t.match(metrics, /kguard_vault_decrypts_total\{purpose="revoke",outcome="ok"\} [1-9]/, 'unwrapped again for the revoke');
}

t.test('aws-kms', async (t) => {
  const kms = await startFakeKms();
  t.teardown(() => kms.close());
  const key = kms.createKey({ alias: 'alias/kguard-e2e' });
  useFakeAwsCredentials(t);
  const h = await startHarness({
    config: { vault: { provider: 'aws-kms', awsKms: { keyId: 'alias/kguard-e2e', region: kms.region, endpoint: kms.url, maxAttempts: 2 } } },
  });
  t.teardown(() => h.close());
  await roundTrip(t, h, 'aws-kms');
  t.ok(
    kms.requests.some((r) => /Decrypt$/.test(r.target) && r.status === 200),
    'the SDK called KMS Decrypt',
  );

  // KMS key disabled: fail closed, nothing reaches the broker.
  const sent = h.sim.requestLog().filter((r) => r.apiId === 'kt10000').length;
  kms.setKeyState(key.keyId, 'Disabled');
  const refused = await h.call('kt10000', BUY);
  t.not(refused.json.return_code, 0, refused.text);
  t.match(String(refused.json.return_msg), /KG4/, 'a key-custody error');
  t.equal(h.sim.requestLog().filter((r) => r.apiId === 'kt10000').length, sent, 'no order sent');
});

t.test('pkcs11 (SoftHSM)', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-hsm-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const token = await createSoftHsmToken(dir);
  const h = await startHarness({
    config: { vault: { provider: 'pkcs11', pkcs11: { module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel } } },
  });
  t.teardown(() => h.close());
  await roundTrip(t, h, 'pkcs11');
});
