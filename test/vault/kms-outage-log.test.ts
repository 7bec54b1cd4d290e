// KMS not answering (stopped, unreachable): every /readyz probe
// (vault.healthProbeMs) and every cold decrypt failed with a log line each
// ("kms request failed", "credential decrypt failed"), for as long as the
// outage lasted. Now each is logged when the outage starts, then at most once
// per log.outageReminderMs with a count, and once when KMS answers again.
// A KMS that answers no (a disabled key) is still logged every time: an
// operator has to act on it. The real SDK against the KMS wire protocol.
import t from 'tap';
import { startKmsVault } from '../helpers/kms-vault.js';
import { canaryBuffers } from '../helpers/vault-fixtures.js';

const count = (logs: string, msg: string) => logs.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;

t.test('KMS down: one line for the outage, not one per probe or decrypt; one when it answers again', async (t) => {
  // No data-key cache: every decrypt asks KMS, as a cold key or a replica just started does.
  const { fake, key, log, provider, vault } = await startKmsVault(t, { awsKms: { maxAttempts: 1 }, vault: { cache: { enabled: false } } });
  await vault.importCredentials({ botId: 'kbot', account: 'acct9', ...canaryBuffers() });
  t.equal(await vault.withCredentials('kbot', 'call', async () => 'ok'), 'ok', 'a decrypt while KMS answers');

  await fake.stop();
  const attempts = 15;
  for (let i = 0; i < attempts; i++) {
    await t.rejects(provider.health(), { code: 'KG4001' }, `probe ${i} fails closed`);
    await t.rejects(
      vault.withCredentials('kbot', 'call', async () => 'never'),
      { code: 'KG4001' },
      `decrypt ${i} fails closed`,
    );
  }
  const during = log.lines();
  t.equal(count(during, 'kms request failed'), 1, `one KMS line for ${attempts * 2} failed requests`);
  t.equal(count(during, 'credential decrypt failed'), 1, `one decrypt line for ${attempts} failed decrypts`);

  await fake.start();
  await provider.health();
  t.equal(await vault.withCredentials('kbot', 'call', async () => 'ok'), 'ok', 'decrypts work again');
  const after = log.lines();
  t.equal(count(after, 'kms answers again'), 1, 'the end of the KMS outage, once');
  t.equal(count(after, 'credential decrypts succeed again'), 1, 'the end of the decrypt failures, once');
  t.match(after, /"downForMs":\d+,"failures":\d+,"msg":"kms answers again"/, 'with the outage length and count');

  // An answer, not an outage: a disabled key is logged each time (an operator has to act).
  fake.setKeyState(key.keyId, 'Disabled');
  for (let i = 0; i < 3; i++) await t.rejects(vault.withCredentials('kbot', 'call', async () => 'never'));
  t.equal(count(log.lines(), 'kms request failed') - count(after, 'kms request failed'), 3, 'each refusal by KMS is logged');
});
