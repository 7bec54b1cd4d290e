// A bot's Kiwoom keys rotated (kguard keys rotate) while its old app key's broker token is still live (a call in
// flight, an idle linger): that token can only be revoked with the old app key's credentials. Revoked with the
// bot's new keys, Kiwoom refuses ([8015], read as "no longer known"), and the sidecar recorded the token as revoked
// while it stayed live at Kiwoom. Now the revoke uses a record that still holds the key that issued the token (a bot
// sharing it), and with none left the audit trail and the log say it could not be revoked and until when it lives.
// Real sidecar, real simulator, real sockets; a token's state is asked of the simulator itself.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { keyedFingerprint } from '../../proxy/common/secret.js';
import { CANARY, startHarness, waitFor } from '../helpers/harness.js';

const OTHER = { appKey: 'OTHERappKEY5c2d8e1f3a9b', secretKey: 'OTHERsecretKEY7d1c9e3a5b2f8d6c4a0', account: '7777000021' };
const NEW_A = { appKey: 'ROTATEDaKEY1a2b3c4d5e6f', secretKey: 'ROTATEDaSECRET9f8e7d6c5b4a3f2e1d0' };
const NEW_B = { appKey: 'ROTATEDbKEY6f5e4d3c2b1a', secretKey: 'ROTATEDbSECRET0d1e2f3a4b5c6d7e8f9' };
const RACE = { appKey: 'RACEdAPPkey0a1b2c3d4e5f', secretKey: 'RACEdSECRETkey5f4e3d2c1b0a9f8e7' };
const RACE_NEW = { appKey: 'RACEdNEWkey9e8d7c6b5a4f', secretKey: 'RACEdNEWsecret1a2b3c4d5e6f7a8b9' };
const KINDS = ['kind:query', 'kind:account'];

const issued: string[] = [];
// Tokens stay live between calls (an idle linger), as a bot calling steadily keeps its key's token.
const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 600_000 } }, sim: { onTokenIssued: (tok) => issued.push(tok.toString('latin1')) } });
t.teardown(() => h.close());
const parts = h.sidecar.parts;
h.sim.registerApp({ appKey: NEW_A.appKey, secretKey: NEW_A.secretKey, accountNo: CANARY.account, cash: 100_000_000 });
h.sim.registerApp({ appKey: OTHER.appKey, secretKey: OTHER.secretKey, accountNo: OTHER.account, cash: 100_000_000 });
h.sim.registerApp({ appKey: NEW_B.appKey, secretKey: NEW_B.secretKey, accountNo: OTHER.account, cash: 100_000_000 });
for (const app of [RACE, RACE_NEW]) h.sim.registerApp({ ...app, accountNo: OTHER.account, cash: 100_000_000 });

// Bot A (the harness bot) and bot C share the canary key; bot B has its own.
const tokA = await h.token();
const tokC = await h.addBot('shared-c', KINDS);
const { secret: bSecret } = await parts.bots.add({ id: 'own-b', owner: 'bob', account: OTHER.account, allowed: KINDS });
await parts.vault.importCredentials({ botId: 'own-b', account: OTHER.account, appKey: Buffer.from(OTHER.appKey), secretKey: Buffer.from(OTHER.secretKey) });
const tokB = String(
  (await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'own-b', secretkey: bSecret.toString('latin1') }))).json.token,
);
bSecret.fill(0);

const quote = (token: string) => h.call('ka10001', { stk_cd: '005930' }, { token });
const sessionKey = async (botId: string) => (await parts.vault.appKeyOf(botId, 'revoke')).replace(/^hmac-sha256:/, '');

/** Asked of the simulator with the broker token itself: 0 while Kiwoom honours it, 3 ([8005]) once it ended. */
async function brokerTokenLive(token: string): Promise<boolean> {
  const res = await request(`${h.sim.url}/api/dostk/stkinfo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
    body: JSON.stringify({ stk_cd: '005930' }),
  });
  const answer = (await res.body.json()) as { return_code?: number; return_msg?: string };
  if (answer.return_code === 0) return true;
  if (/8005/.test(String(answer.return_msg))) return false;
  throw new Error(`unexpected simulator answer ${JSON.stringify(answer)}`);
}

async function auditRecords(): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const dir = path.join(h.dataDir, 'audit');
  const out: { type: string; data: Record<string, unknown> }[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of (await readFile(path.join(dir, name), 'utf8')).split('\n')) if (line.trim()) out.push(JSON.parse(line));
  }
  return out;
}
const ofKey = (records: { type: string; data: Record<string, unknown> }[], type: string, key: string) =>
  records.filter((r) => r.type === type && r.data.key === key);

let canaryKey = '';
let otherKey = '';
let canaryToken = '';
let otherToken = '';

t.test('each key has its live broker token, then A and B get new keys', async (t) => {
  for (const tok of [tokA, tokC]) t.equal((await quote(tok)).json.return_code, 0);
  t.equal(issued.length, 1, 'A and C share one token');
  canaryToken = issued[0]!;
  t.equal((await quote(tokB)).json.return_code, 0);
  t.equal(issued.length, 2);
  otherToken = issued[1]!;
  canaryKey = await sessionKey(h.botId);
  otherKey = await sessionKey('own-b');
  await parts.vault.rotateCredentials({ botId: h.botId, appKey: Buffer.from(NEW_A.appKey), secretKey: Buffer.from(NEW_A.secretKey) });
  await parts.vault.rotateCredentials({ botId: 'own-b', appKey: Buffer.from(NEW_B.appKey), secretKey: Buffer.from(NEW_B.secretKey) });
  t.not(await sessionKey(h.botId), canaryKey, "A's record holds its new key");
  t.ok((await brokerTokenLive(canaryToken)) && (await brokerTokenLive(otherToken)), 'both old tokens live at Kiwoom');
});

t.test("a token whose issuer rotated is revoked with a record that still holds its key (C's)", async (t) => {
  const admin = await h.adminToken('ops', 'admin');
  t.equal((await h.admin('POST', '/admin/v1/bots/shared-c/kill-sessions', admin)).status, 200);
  await waitFor(async () => ofKey(await auditRecords(), 'broker_token.revoked', canaryKey).length > 0, 20_000, 'the canary key token revoke record');
  t.equal(await brokerTokenLive(canaryToken), false, 'the token the audit trail calls revoked has ended at Kiwoom');
  const [revoked] = ofKey(await auditRecords(), 'broker_token.revoked', canaryKey);
  t.equal(revoked?.data.notRegistered, undefined, 'Kiwoom revoked it (not "no longer known")');
});

t.test('keys rotated while a call waits for its broker token: no token is filed under the key it does not belong to', async (t) => {
  const { secret } = await parts.bots.add({ id: 'race-d', owner: 'dan', account: OTHER.account, allowed: KINDS });
  await parts.vault.importCredentials({ botId: 'race-d', account: OTHER.account, appKey: Buffer.from(RACE.appKey), secretKey: Buffer.from(RACE.secretKey) });
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'race-d', secretkey: secret.toString('latin1') }));
  secret.fill(0);
  const tokD = String(login.json.token);
  const oldKey = await sessionKey('race-d');
  // The call was admitted under the old key; the rotation lands before it asks for the key's token (a call queued
  // for Kiwoom's rate limit waits right there).
  const sessions = parts.brokerSessions;
  const acquire = sessions.acquire.bind(sessions);
  let raced = false;
  sessions.acquire = async (botId, opts) => {
    if (botId === 'race-d' && !raced) {
      raced = true;
      t.equal(opts?.key, oldKey, 'the call holds the old key');
      await parts.vault.rotateCredentials({ botId: 'race-d', appKey: Buffer.from(RACE_NEW.appKey), secretKey: Buffer.from(RACE_NEW.secretKey) });
    }
    return acquire(botId, opts);
  };
  t.teardown(() => {
    sessions.acquire = acquire;
  });
  const before = issued.length;
  const r = await quote(tokD);
  t.ok(raced, 'the rotation landed in the window');
  t.match(String(r.json.return_msg), /KG4003/, 'the raced call is refused (nothing was sent to Kiwoom)');
  t.equal(issued.length, before, 'no token was issued for it');
  t.same(
    (await parts.brokerSessions.list()).filter((s) => s.key === oldKey),
    [],
    'no session under the old key',
  );
  t.equal((await quote(tokD)).json.return_code, 0, 'the next call trades on the new key');
});

t.test('a token no record can revoke any more is reported live until its expiry, never revoked', async (t) => {
  // The sidecar's drain revokes every idle token; B's old key's token has no credentials left anywhere.
  await h.sidecar.close();
  const records = await auditRecords();
  t.same(ofKey(records, 'broker_token.revoked', otherKey), [], 'no record claims it was revoked');
  const [failed] = ofKey(records, 'broker_token.revoke_failed', otherKey);
  t.equal(failed?.data.unrevocable, true, 'the failure says it cannot be revoked');
  t.match(failed?.data.expiresAt, /^\d{4}-\d\d-\d\dT/, 'and until when it lives');
  t.equal(await brokerTokenLive(otherToken), true, 'which is what Kiwoom says: it is still live');
  t.match(h.logs(), /broker token cannot be revoked: no credential record holds the app key that issued it/, 'the operator is told');
  // Every token the simulator issued in this file: the audit trail's word matches Kiwoom's.
  const fingerprintKey = parts.auditor.fingerprintKey;
  for (const [i, tok] of issued.entries()) {
    const fp = keyedFingerprint(fingerprintKey, Buffer.from(tok));
    const live = await brokerTokenLive(tok);
    const claimed = records.some((r) => r.type === 'broker_token.revoked' && r.data.fingerprint === fp);
    const reported = records.some((r) => r.type === 'broker_token.revoke_failed' && r.data.fingerprint === fp && r.data.unrevocable === true);
    t.same({ live, claimed, reported }, live ? { live, claimed: false, reported: true } : { live, claimed: true, reported: false }, `token ${i}`);
  }
  fingerprintKey.fill(0);
});
