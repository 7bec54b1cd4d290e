// Which token copy a replica keeps when the shared Store names a session
// record, and that every copy it does not keep is zero-filled: the copy
// opened for a generation it already holds, and the old generation's token
// once no call holds it.
import t from 'tap';
import type { SessionRecord } from '../../proxy/kiwoom/session-ledger.js';
import { adoptGen, type Gen } from '../../proxy/kiwoom/session-types.js';

const record = (version: string): SessionRecord => ({ v: 1, botId: 'bot-a', version, issuedAt: 0, expiresAt: 1, tokenFp: 'fp', sealed: '' });
const zero = (b: Buffer) => b.every((x) => x === 0);
const gen = (version: string, local: number, dead = false): Gen => ({ version, record: record(version), token: Buffer.from('TOKEN-CANARY-OLD'), local, dead });

t.test('the same version keeps the held generation and wipes the copy opened for it', async (t) => {
  const old = gen('v1', 0, true);
  const copy = Buffer.from('TOKEN-CANARY-NEW');
  t.equal(adoptGen(old, record('v1'), copy), old);
  t.ok(zero(copy), 'the unused copy is zero-filled');
  t.notOk(zero(old.token), 'the held token is kept');
  t.equal(adoptGen(old, record('v1'), old.token), old, 'its own token is passed back: nothing is wiped');
  t.notOk(zero(old.token));
});

t.test('a new version replaces the generation; the old token is wiped once no call holds it', async (t) => {
  const idle = gen('v1', 0);
  const fresh = Buffer.from('TOKEN-CANARY-NEW');
  const next = adoptGen(idle, record('v2'), fresh);
  t.equal(next.version, 'v2');
  t.equal(next.token, fresh);
  t.ok(idle.dead && zero(idle.token), 'idle old generation: dead and wiped');
  const busy = gen('v1', 2);
  adoptGen(busy, record('v2'), Buffer.from('x'));
  t.ok(busy.dead, 'busy old generation: dead');
  t.notOk(zero(busy.token), 'kept for the calls that hold it (they wipe it on release)');
  t.equal(adoptGen(undefined, record('v3'), fresh).version, 'v3');
});
