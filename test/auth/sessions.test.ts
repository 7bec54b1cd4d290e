// Session tokens: a signature is checked once and its claims remembered by
// the token's digest, but only the signature: revocation, disable and epoch
// are still read on every call, an expired token is refused even when
// remembered, and a token altered by one character is checked afresh.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Sessions } from '../../proxy/auth/index.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { createMemoryStore } from '../../proxy/state/index.js';

const opts = { ttlSeconds: 60, issuer: 'i', audience: 'a', clockToleranceSeconds: 0 };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    return isGuardError(err) ? err.code : String(err);
  }
}

t.test('a remembered token is still revoked, disabled and epoch-checked on every call', async (t) => {
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const sessions = new Sessions(randomBytes(32), store, opts);
  const a = await sessions.issue('bot-a');
  const first = await sessions.verify(a.token);
  t.equal(first.botId, 'bot-a');
  t.same(await sessions.verify(a.token), first, 'the same claims the second time');
  await sessions.revoke(first);
  t.equal(await code(sessions.verify(a.token)), 'KG2004', 'revoked after it was remembered');
  const b = await sessions.issue('bot-b');
  await sessions.verify(b.token);
  await sessions.setDisabled('bot-b', true);
  t.equal(await code(sessions.verify(b.token)), 'KG2006', 'disabled after it was remembered');
  await sessions.setDisabled('bot-b', false);
  const c = await sessions.issue('bot-b');
  await sessions.verify(c.token);
  await sessions.killAll('bot-b');
  t.equal(await code(sessions.verify(c.token)), 'KG2007', 'an older epoch after kill-all');
});

t.test('a token altered by one character is checked afresh and refused', async (t) => {
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const sessions = new Sessions(randomBytes(32), store, opts);
  const { token } = await sessions.issue('bot-a');
  await sessions.verify(token);
  // The signature's first character carries six bits of it (the last one carries padding bits too).
  const sig = token.lastIndexOf('.') + 1;
  const altered = token.slice(0, sig) + (token[sig] === 'A' ? 'B' : 'A') + token.slice(sig + 1);
  t.equal(await code(sessions.verify(altered)), 'KG2002', 'bad signature');
  const other = new Sessions(randomBytes(32), store, opts);
  t.equal(await code(other.verify(token)), 'KG2002', "another key's sessions do not share what was checked");
});

t.test('an expired token is refused even when remembered', async (t) => {
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const sessions = new Sessions(randomBytes(32), store, { ...opts, ttlSeconds: 1 });
  const { token } = await sessions.issue('bot-a');
  t.equal((await sessions.verify(token)).botId, 'bot-a', 'fresh');
  // Waits for the expiry to happen (no bound on how long that takes on a busy machine).
  let result = 'accepted';
  while (result === 'accepted') {
    await new Promise((r) => setTimeout(r, 200));
    result = await code(sessions.verify(token));
  }
  t.equal(result, 'KG2003');
  t.equal((await sessions.verify(token, { allowExpired: true })).botId, 'bot-a', 'still readable for revoke');
});

t.test('with the cache off every call checks the signature, with the same results', async (t) => {
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const sessions = new Sessions(randomBytes(32), store, { ...opts, verifiedCacheSize: 0 });
  const { token } = await sessions.issue('bot-a');
  t.equal((await sessions.verify(token)).botId, 'bot-a');
  t.equal((await sessions.verify(token)).botId, 'bot-a');
  t.equal(await code(sessions.verify(`${token}x`)), 'KG2002');
});

t.test('the cache is bounded: the oldest entries go first', async (t) => {
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const sessions = new Sessions(randomBytes(32), store, { ...opts, verifiedCacheSize: 2 });
  const tokens = await Promise.all(['a', 'b', 'c'].map((b) => sessions.issue(`bot-${b}`)));
  for (const x of tokens) await sessions.verify(x.token);
  t.equal((sessions as unknown as { verified: Map<string, unknown> }).verified.size, 2);
  for (const x of tokens) t.ok((await sessions.verify(x.token)).botId.startsWith('bot-'), 'an evicted token is simply checked again');
});
