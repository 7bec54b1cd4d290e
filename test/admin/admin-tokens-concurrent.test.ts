// Review (red team): admins.json is read, changed and written back whole by
// `kguard admins add|remove`. Two operators running them at once (two shells,
// two `kubectl exec`) must not lose either change: a lost remove brings a
// revoked admin's token back to life, a lost add leaves a token that was
// shown once and never works.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AdminTokens } from '../../proxy/admin/tokens.js';

const bearer = (b: Buffer) => `Bearer ${b.toString('latin1')}`;

t.test('a remove and an add at once: the removed token stays dead, the added one works', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-admins-race-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const old = await AdminTokens.forDataDir(dir).create('old-admin', 'admin');
  const [, added] = await Promise.all([AdminTokens.forDataDir(dir).remove('old-admin'), AdminTokens.forDataDir(dir).create('new-admin', 'admin')]);
  const tokens = AdminTokens.forDataDir(dir);
  t.same(
    (await tokens.list()).map((a) => a.name),
    ['new-admin'],
    'only the new admin is left',
  );
  await t.rejects(tokens.authenticate(bearer(old)), { code: 'KG2002' }, "the removed admin's token is refused");
  t.same(await tokens.authenticate(bearer(added)), { name: 'new-admin', role: 'admin' }, "the added admin's token works");
});

t.test('five adds at once: every one is kept', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-admins-race-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const names = ['a1', 'a2', 'a3', 'a4', 'a5'];
  const made = await Promise.all(names.map((n) => AdminTokens.forDataDir(dir).create(n, 'viewer')));
  const tokens = AdminTokens.forDataDir(dir);
  t.same((await tokens.list()).map((a) => a.name).sort(), names, 'all five are listed');
  for (const [i, tok] of made.entries()) t.equal((await tokens.authenticate(bearer(tok))).name, names[i], `${names[i]}'s token works`);
});

t.test('the same name added twice at once: one wins, the other is refused', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-admins-race-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const results = await Promise.allSettled([AdminTokens.forDataDir(dir).create('ops', 'admin'), AdminTokens.forDataDir(dir).create('ops', 'viewer')]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one add succeeds');
  t.match(
    results.find((r) => r.status === 'rejected'),
    { reason: { code: 'KG2011' } },
    'the other is a duplicate',
  );
  const tokens = AdminTokens.forDataDir(dir);
  t.equal((await tokens.list()).length, 1, 'one admin');
  const ok = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Buffer>;
  t.equal((await tokens.authenticate(bearer(ok.value))).name, 'ops', "the winner's token works");
});
