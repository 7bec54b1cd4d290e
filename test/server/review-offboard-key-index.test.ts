// Offboarding at scale: the removal's broker step asks whether another bot's
// credential record holds the removed bot's app key (it keeps the token
// then). It read every record to find out (vault.list: 0.66 s per removal at
// 1,000 customers); now the vault's app-key index names the key's bots and
// only their records are read (vault/key-index.ts). Real sidecar, simulator
// and admin API; "the CLI" is a second vault on the same data dir (another
// process's writes: the index is files, nothing of it is shared in memory).
import { chmod, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { createLogger } from '../../proxy/common/logger.js';
import { createLocalKeyProvider, createVault, type ManagedVault } from '../../proxy/vault/index.js';
import { CANARY, startHarness } from '../helpers/harness.js';

const KINDS = ['kind:query', 'kind:account'];
const OTHERS = 40;

const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 600_000 } } });
t.teardown(() => h.close());
const admin = await h.adminToken('ops', 'admin');
const parts = h.sidecar.parts;
const credFile = (id: string) => path.join(h.dataDir, 'credentials', `${id}.json`);
const quote = (token: string) => h.call('ka10001', { stk_cd: '005930' }, { token });
const remove = (id: string) => h.admin('POST', `/admin/v1/bots/${id}/remove`, admin, { reason: 'customer offboarded' });
const brokerDetail = (r: { json: Record<string, unknown> }) =>
  (r.json.steps as { step: string; detail: string }[] | undefined)?.find((s) => s.step === 'broker')?.detail ?? '';

/** Removes a bot whose app key nobody else holds: the removal revokes the key's broker token, once. */
async function removeRevoking(t: Test, id: string, why: string): Promise<void> {
  const revoked = h.sim.stats().tokensRevoked;
  const r = await remove(id);
  t.equal(r.status, 200, r.text);
  t.match(brokerDetail(r), /revoked/, why);
  t.equal(h.sim.stats().tokensRevoked, revoked + 1, 'the broker token revoked once');
}

/** Another process's vault on the sidecar's data dir (what `kguard keys ...` opens). */
async function cliVault(): Promise<ManagedVault> {
  const v = await createVault({
    dataDir: h.dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile: path.join(h.dataDir, 'master.key') }),
    registry: new Registry(),
    logger: createLogger({ level: 'silent' }),
    hmacKey: parts.auditor.fingerprintKey,
  });
  t.teardown(() => v.close());
  return v;
}
const canary = (suffix = '') => ({ appKey: Buffer.from(CANARY.appKey + suffix), secretKey: Buffer.from(CANARY.secretKey + suffix) });

// Customers of their own keys, whose records the removal of another key's bot has no business reading.
const cli = await cliVault();
await cli.importMany(Array.from({ length: OTHERS }, (_, i) => ({ botId: `cust-${i}`, account: `5555${String(i).padStart(6, '0')}`, ...canary(`-own-${i}`) })));

t.test('a removal reads no record of another app key (measured: every one, 0.66 s at 1,000)', async (t) => {
  const tok = await h.addBot('solo', KINDS, '8888000011');
  await cli.rotateCredentials({ botId: 'solo', ...canary('-solo') }); // its own key now
  h.sim.registerApp({ appKey: `${CANARY.appKey}-solo`, secretKey: `${CANARY.secretKey}-solo`, accountNo: '8888000011', cash: 1_000_000 });
  t.equal((await quote(tok)).json.return_code, 0, 'it trades on its own key');
  await parts.vault.verifyKeyIndex();
  // Records that cannot be read (group-readable: refused KG4007) show which ones the removal opens.
  for (let i = 0; i < OTHERS; i++) await chmod(credFile(`cust-${i}`), 0o640);
  const logged = h.logs().length;
  const r = await remove('solo');
  for (let i = 0; i < OTHERS; i++) await chmod(credFile(`cust-${i}`), 0o600);
  t.equal(r.status, 200, r.text);
  t.match(brokerDetail(r), /revoked/);
  const opened = h
    .logs()
    .slice(logged)
    .split('\n')
    .filter((l) => /"botId":"cust-\d+"/.test(l) && l.includes('unreadable credential record'));
  t.same(opened.length, 0, 'no other customer record was read');
});

t.test('a bot sharing the key, imported by another process after the start, keeps the token', async (t) => {
  const tok = await h.addBot('leaving', KINDS);
  await cli.importCredentials({ botId: 'stays', account: CANARY.account, ...canary() });
  t.equal((await quote(tok)).json.return_code, 0);
  const live = h.sim.liveTokens();
  const r = await remove('leaving');
  t.equal(r.status, 200, r.text);
  t.match(brokerDetail(r), /kept.*other bot/, 'the token is kept for the sharer');
  t.equal(h.sim.liveTokens(), live, 'no token revoked');
});

t.test("a sharer rotated to another key by another process no longer counts: the removed bot's token is revoked", async (t) => {
  // 'stays' and the harness bot hold the canary key; move both away, leaving 'last' alone on it.
  const tok = await h.addBot('last', KINDS);
  await cli.rotateCredentials({ botId: 'stays', ...canary('-moved') });
  await cli.rotateCredentials({ botId: h.botId, ...canary('-moved2') });
  t.equal((await quote(tok)).json.return_code, 0);
  await removeRevoking(t, 'last', 'nobody else holds the key');
});

t.test('a sharer from a batch import is seen; one destroyed is not; a stale entry keeps nothing live', async (t) => {
  const tok = await h.addBot('batch-leaver', KINDS);
  await cli.importMany([{ botId: 'batch-sharer', account: CANARY.account, ...canary() }]);
  const tok2 = await h.addBot('batch-leaver-2', KINDS);
  t.equal((await quote(tok)).json.return_code, 0);
  const kept = await remove('batch-leaver');
  t.match(brokerDetail(kept), /kept.*2 other bot/, 'both sharers counted');
  t.ok(await cli.destroyCredentials('batch-sharer'));
  // An entry a crash left behind (its record holds another key): named by the index, refused by the record.
  const fp = (await parts.vault.appKeyOf('batch-leaver-2', 'revoke')).replace(/^hmac-sha256:/, '');
  await writeFile(path.join(h.dataDir, 'credential-keys', fp, 'cust-0'), '', { mode: 0o600 });
  t.same(await parts.vault.holdersOf(fp), ['batch-leaver-2'], 'only records that hold the key');
  t.equal((await quote(tok2)).json.return_code, 0);
  await removeRevoking(t, 'batch-leaver-2', 'the stale entry and the destroyed sharer keep nothing live');
});

t.test('records written without the index (restored, older release) are found once a process verifies it', async (t) => {
  await rm(path.join(h.dataDir, 'credential-keys'), { recursive: true, force: true });
  const fresh = await cliVault();
  const key = await fresh.appKeyOf('cust-3', 'revoke');
  t.same(await fresh.holdersOf(key), ['cust-3'], 'found after the verification rebuilt its entry');
});
