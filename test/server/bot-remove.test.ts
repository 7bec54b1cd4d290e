// Offboarding a bot (POST /admin/v1/bots/:id/remove, server/bot-remove.ts)
// over real sockets: the sidecar, its admin listener and the Kiwoom simulator.
// A removed bot's broker token is revoked at the simulator (unless another
// bot shares its app key, which keeps trading on the same token), its
// sessions are refused, its credential record and bot file are gone, its
// per-bot shared keys deleted; the audit record comes first (no record,
// nothing removed); a locked-down bot and a viewer are refused; a second
// removal is KG2012 and changes nothing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { GuardError } from '../../proxy/common/errors.js';
import { CANARY, startHarness, waitFor, type CallResult } from '../helpers/harness.js';

const OTHER = { appKey: 'OTHERappKEY5c2d8e1f3a9b', secretKey: 'OTHERsecretKEY7d1c9e3a5b2f8d6c4a0', account: '7777000021' };
const ORDER_KINDS = ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel'];

// Tokens stay live between calls (a real idle linger), so the removal has a live broker token to revoke.
const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 600_000 } } });
t.teardown(() => h.close());
const admin = await h.adminToken('ops', 'admin');
const viewer = await h.adminToken('watcher', 'viewer');
const parts = h.sidecar.parts;

const kg = (r: CallResult): string | undefined => /\[?(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const quote = (token: string) => h.call('ka10001', { stk_cd: '005930' }, { token });
const botFile = (id: string) => path.join(h.dataDir, 'bots', `${id}.json`);
const recordFile = (id: string) => path.join(h.dataDir, 'credentials', `${id}.json`);
const remove = (id: string, token = admin, body: unknown = { reason: 'customer offboarded' }) => h.admin('POST', `/admin/v1/bots/${id}/remove`, token, body);

// Bot A (the harness bot, CANARY key), bot C sharing A's key, bot B with its own key and account.
h.sim.registerApp({ appKey: OTHER.appKey, secretKey: OTHER.secretKey, accountNo: OTHER.account, cash: 100_000_000 });
const { secret: bSecret } = await parts.bots.add({ id: 'other-b', owner: 'bob', account: OTHER.account, allowed: ORDER_KINDS });
await parts.vault.importCredentials({ botId: 'other-b', account: OTHER.account, appKey: Buffer.from(OTHER.appKey), secretKey: Buffer.from(OTHER.secretKey) });
const bLogin = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'other-b', secretkey: bSecret.toString('latin1') }));
bSecret.fill(0);
const tokB = String(bLogin.json.token);
const tokA = await h.token();
const tokC = await h.addBot('shared-c', ORDER_KINDS);

t.test('every bot trades before; each key has one live broker token', async (t) => {
  for (const tok of [tokA, tokB, tokC]) t.equal((await quote(tok)).json.return_code, 0);
  t.equal(h.sim.liveTokens(), 2, 'one token per app key');
});

t.test('a viewer may not remove a bot; a removal without a reason is refused; nothing changes', async (t) => {
  const r = await remove(h.botId, viewer);
  t.equal(r.status, 403);
  t.equal(kg(r), 'KG2009');
  const noReason = await remove(h.botId, admin, {});
  t.equal(noReason.status, 400);
  t.equal(kg(noReason), 'KG3016');
  t.ok(existsSync(botFile(h.botId)) && existsSync(recordFile(h.botId)), 'bot file and record kept');
  t.equal((await quote(tokA)).json.return_code, 0, 'the bot still trades');
});

t.test('the audit record comes first: when it cannot be written, nothing is removed (503)', async (t) => {
  const auditor = parts.auditor as unknown as { append: (r: Record<string, unknown>, o?: unknown) => Promise<unknown> };
  const real = auditor.append;
  auditor.append = (r, o) => (r.action === 'bot.remove' ? Promise.reject(new GuardError('KG6001', 'audit sink down')) : real.call(auditor, r, o));
  let r: CallResult;
  try {
    r = await remove(h.botId);
  } finally {
    auditor.append = real;
  }
  t.equal(r.status, 503, r.text);
  t.equal(kg(r), 'KG6001');
  t.ok(existsSync(botFile(h.botId)) && existsSync(recordFile(h.botId)), 'bot file and record kept');
  t.equal(parts.bots.get(h.botId)?.enabled, true, 'still enabled');
  t.equal(await parts.store.get(`bot-disabled:${h.botId}`), null, 'no disabled flag');
  t.equal((await quote(tokA)).json.return_code, 0, 'its session still works');
});

t.test("removing a bot that shares its app key leaves the key's token to the other bot", async (t) => {
  const issued = h.sim.stats().tokensIssued;
  const r = await remove('shared-c');
  t.equal(r.status, 200, r.text);
  t.match(r.json, { botId: 'shared-c', removed: true });
  const steps = r.json.steps as { step: string; ok: boolean; detail: string }[];
  t.same(
    steps.map((s) => [s.step, s.ok]),
    [
      ['disable', true],
      ['broker', true],
      ['credentials', true],
      ['registration', true],
      ['state', true],
    ],
  );
  t.match(steps[1]!.detail, /kept.*1 other bot/);
  t.notOk(existsSync(recordFile('shared-c')), 'its credential record is gone');
  t.notOk(existsSync(botFile('shared-c')), 'its bot file is gone');
  t.match(kg(await quote(tokC)), /^KG200[267]$/, 'its session is refused');
  t.equal((await quote(tokA)).json.return_code, 0, 'the bot sharing the key still trades');
  t.equal(h.sim.stats().tokensIssued, issued, 'on the same broker token');
  t.equal(h.sim.liveTokens(), 2);
  t.notOk(JSON.stringify(r.json).includes(CANARY.appKey), 'no secret in the answer');
  const audit = await h.admin('GET', '/admin/v1/audit/recent?type=admin&bot=shared-c', admin);
  const records = (audit.json.records as { seq: number; action: string; actor?: string; reason?: string }[]).slice().reverse();
  t.match(
    records.map((x) => [x.action, x.actor, x.reason]),
    [
      ['bot.remove', 'ops', 'customer offboarded'],
      ['bot.removed', 'ops', undefined],
    ],
    'the removal audited with actor and reason before it ran, its outcome after',
  );
});

t.test('removing a bot revokes its live broker token and clears it everywhere; an unrelated bot keeps trading', async (t) => {
  const before = h.sim.stats();
  // Per-bot shared state the removal must not leave behind.
  await parts.store.set(`risk:baseline:${h.botId}`, '{}');
  const r = await remove(h.botId);
  t.equal(r.status, 200, r.text);
  t.match(r.json, { botId: h.botId, removed: true });
  const steps = r.json.steps as { step: string; ok: boolean; detail: string }[];
  t.ok(
    steps.every((s) => s.ok),
    'every step ok',
  );
  t.match(steps.find((s) => s.step === 'broker')!.detail, /revoked/);
  t.equal(h.sim.stats().tokensRevoked, before.tokensRevoked + 1, 'the token revoked at the simulator');
  t.equal(h.sim.liveTokens(), 1, "only the unrelated bot's token is live");

  t.match(kg(await quote(tokA)), /^KG200[267]$/, 'its session is refused');
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.equal(kg(login), 'KG2005', 'it can no longer log in');
  t.notOk(existsSync(recordFile(h.botId)), 'credential record gone');
  t.notOk(existsSync(botFile(h.botId)), 'bot file gone');
  t.equal(await parts.vault.describe(h.botId), undefined, 'the vault has no record');
  t.equal(await parts.store.get(`bot-disabled:${h.botId}`), null, 'disabled flag deleted');
  t.equal(await parts.store.get(`risk:baseline:${h.botId}`), null, 'risk baseline deleted');
  t.not(await parts.store.get(`epoch:${h.botId}`), null, 'the session epoch stays (a bot re-created under the id starts past it)');

  t.equal((await quote(tokB)).json.return_code, 0, 'the unrelated bot keeps trading');
  t.equal(h.sim.stats().tokensIssued, before.tokensIssued, 'on its own token, not revoked');
});

t.test('removing it again is KG2012 and changes nothing', async (t) => {
  const before = h.sim.stats();
  const r = await remove(h.botId);
  t.equal(r.status, 404);
  t.equal(kg(r), 'KG2012');
  t.equal(h.sim.stats().tokensRevoked, before.tokensRevoked);
  t.equal((await quote(tokB)).json.return_code, 0, 'the other bot unaffected');
});

t.test('a broker step that cannot tell whether the key is shared stops the removal; the record is kept', async (t) => {
  const { secret } = await parts.bots.add({ id: 'list-e', owner: 'eve', account: OTHER.account, allowed: ['kind:query'] });
  secret.fill(0);
  await parts.vault.importCredentials({
    botId: 'list-e',
    account: OTHER.account,
    appKey: Buffer.from('LISTappKEY9a8b7c6d5e4f'),
    secretKey: Buffer.from('LISTsecretKEY1a2b3c4d5e6f7a8b9c0d'),
  });
  // The look-up of the key's other records (its index, vault/key-index.ts) fails.
  const vault = parts.vault as { holdersOf: typeof parts.vault.holdersOf };
  const realHolders = vault.holdersOf;
  vault.holdersOf = () => Promise.reject(new Error('disk error'));
  let r: CallResult;
  try {
    r = await remove('list-e');
  } finally {
    vault.holdersOf = realHolders;
  }
  t.equal(r.status, 500, r.text);
  t.match(r.json, { removed: false, code: 'KG9001' });
  t.ok(existsSync(recordFile('list-e')) && existsSync(botFile('list-e')), 'record and bot file kept');
  t.equal((await remove('list-e')).status, 200, 'a retry removes it');
});

t.test('a token a call still holds stops the removal before the record goes (503 KG2016); once it is revoked, a retry finishes', async (t) => {
  const held = { appKey: 'HELDappKEY3e8f1a6c2d7b', secretKey: 'HELDsecretKEY2a4c6e8f0b1d3f5a7c9', account: '7777000034' };
  h.sim.registerApp({ appKey: held.appKey, secretKey: held.secretKey, accountNo: held.account });
  const { secret } = await parts.bots.add({ id: 'held-d', owner: 'dan', account: held.account, allowed: ['kind:query'] });
  secret.fill(0);
  await parts.vault.importCredentials({ botId: 'held-d', account: held.account, appKey: Buffer.from(held.appKey), secretKey: Buffer.from(held.secretKey) });
  // A call in flight holds the key's token (a lease) while the removal runs.
  const lease = await parts.brokerSessions.acquire('held-d');
  const revokedBefore = h.sim.stats().tokensRevoked;
  const r = await remove('held-d');
  t.equal(r.status, 503, r.text);
  t.match(r.json, { botId: 'held-d', removed: false, code: 'KG2016' });
  t.same(
    (r.json.steps as { step: string; ok: boolean }[]).map((s) => [s.step, s.ok]),
    [
      ['disable', true],
      ['broker', false],
    ],
    'stopped at the broker step',
  );
  t.ok(existsSync(recordFile('held-d')), 'the credential record is kept (revoking needs it)');
  t.ok(existsSync(botFile('held-d')), 'the bot file is kept');
  t.equal(parts.bots.get('held-d')?.enabled, false, 'the bot stays disabled');
  t.not(await parts.store.get('bot-disabled:held-d'), null, 'on every replica');

  lease.release();
  await waitFor(() => h.sim.stats().tokensRevoked === revokedBefore + 1, 20_000, 'the token revoked once the call let go of it');
  const again = await remove('held-d');
  t.equal(again.status, 200, again.text);
  t.match(again.json, { removed: true });
  t.notOk(existsSync(recordFile('held-d')) || existsSync(botFile('held-d')), 'record and bot file gone');
  t.equal(await parts.store.get('bot-disabled:held-d'), null);
});

t.test('a bot under an open incident cannot be removed until the incident is closed', async (t) => {
  const locked = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'drill', bot: 'other-b' });
  t.equal(locked.status, 201, locked.text);
  const r = await remove('other-b');
  t.equal(r.status, 409, r.text);
  t.equal(kg(r), 'KG2015');
  t.match(String(r.json.return_msg), String(locked.json.id), 'names the incident');
  t.ok(existsSync(botFile('other-b')) && existsSync(recordFile('other-b')), 'bot file and record kept as evidence');
});

t.test(
  'a lockdown raised while a removal runs stops it before the record and bot file go: the incident keeps its evidence and cancel-all its key (409 KG2015)',
  async (t) => {
    const race = { appKey: 'RACEappKEY4f2a9c1e7b3d', secretKey: 'RACEsecretKEY8b6d4f2a0c9e7b5d3f1', account: '7777000045' };
    h.sim.registerApp({ appKey: race.appKey, secretKey: race.secretKey, accountNo: race.account, cash: 50_000_000 });
    const { secret } = await parts.bots.add({ id: 'race-f', owner: 'fay', account: race.account, allowed: ['kind:query'] });
    const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'race-f', secretkey: secret.toString('latin1') }));
    secret.fill(0);
    await parts.vault.importCredentials({ botId: 'race-f', account: race.account, appKey: Buffer.from(race.appKey), secretKey: Buffer.from(race.secretKey) });
    t.equal((await quote(String(login.json.token))).json.return_code, 0, 'it trades: its key has a live token');
    // The broker step's revoke takes a while at Kiwoom; the lockdown comes in meanwhile.
    h.sim.faults.set({ revokeLatencyMs: 1_500 });
    const removal = remove('race-f');
    try {
      // Disabled is its first step; the broker step's revoke then waits at Kiwoom.
      await waitFor(() => parts.bots.get('race-f')?.enabled === false, 10_000, 'the removal is under way');
      const locked = await h.admin('POST', '/admin/v1/lockdown', admin, { reason: 'suspected compromise', bot: 'race-f' });
      t.equal(locked.status, 201, locked.text);
      const r = await removal;
      t.equal(r.status, 409, r.text);
      t.match(r.json, { botId: 'race-f', removed: false, code: 'KG2015' });
      t.ok(existsSync(recordFile('race-f')), 'the credential record is kept (evidence, and what a cancel-all needs)');
      t.ok(existsSync(botFile('race-f')), 'the bot file is kept');
    } finally {
      h.sim.faults.set({ revokeLatencyMs: 0 });
      await removal.catch(() => undefined);
    }
  },
);
