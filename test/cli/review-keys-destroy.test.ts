// Removing a customer's keys that no registered bot uses: keys imported under a mistyped id (kguard keys import does
// not ask the registry), or left by a registration gone by other means. `bots remove` refuses an id no bot has
// (KG2012) and nothing else removed a record, so the ciphertext stayed, decryptable with the master key. Now
// `kguard keys destroy --bot ID` overwrites and deletes such a record; a registered bot's record is refused (its
// broker token must be revoked first: bots remove). The real binary on a real data directory.
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, tempDir } from '../helpers/vault-fixtures.js';
import { kguard } from './run-cli.js';

const dir = await tempDir(t, 'kguard-keys-destroy-');
const keysIn = (i: number) => `${CANARY_APP_KEY}${i}\n${CANARY_SECRET_KEY}${i}\n`;
const record = (id: string) => path.join(dir, 'credentials', `${id}.json`);
const outputs: string[] = [];
const cli = async (args: string[], stdin?: string) => {
  const r = await kguard([...args, '--data-dir', dir, ...(args[0] === 'keys' ? ['--lang', 'en'] : [])], stdin === undefined ? {} : { stdin });
  outputs.push(r.stdout, r.stderr);
  return r;
};

t.test('a record under an id no bot is registered under is overwritten and deleted', async (t) => {
  t.equal((await cli(['keys', 'import', '--bot', 'trnd-bot', '--account', '5012345678'], keysIn(1))).code, 0, 'imported under a mistyped id');
  // The record's inode, held open: what the deletion leaves on it.
  const held = await open(record('trnd-bot'), 'r');
  t.teardown(() => held.close());
  const r = await cli(['keys', 'destroy', '--bot', 'trnd-bot', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { botId: 'trnd-bot', destroyed: true });
  t.notOk(existsSync(record('trnd-bot')), 'the record file is gone');
  const { size } = await held.stat();
  const left = Buffer.alloc(size);
  await held.read(left, 0, size, 0);
  t.ok(size > 0 && left.every((b) => b === 0), 'its bytes were zeroed before the unlink');
  t.match((await cli(['keys', 'list'])).stdout, /no credentials registered/);
});

t.test('a registered bot is refused (bots remove revokes its broker token first); its record stays', async (t) => {
  t.equal((await cli(['bots', 'add', 'trend-bot', '--account', '5012345678', '--owner', 'alice'])).code, 0);
  t.equal((await cli(['keys', 'import', '--bot', 'trend-bot', '--account', '5012345678'], keysIn(2))).code, 0);
  const r = await cli(['keys', 'destroy', '--bot', 'trend-bot']);
  t.equal(r.code, 1);
  t.match(r.stderr, /KG2011.*bots remove/);
  t.ok(existsSync(record('trend-bot')), 'the record is kept');
  t.match((await cli(['keys', 'list'])).stdout, /^trend-bot\t/m);
});

t.test('no record: KG4003, nothing changes', async (t) => {
  const r = await cli(['keys', 'destroy', '--bot', 'trnd-bot']);
  t.equal(r.code, 1);
  t.match(r.stderr, /KG4003/);
});

t.test('no output carried a key', async (t) => {
  const all = outputs.join('\n');
  t.ok(all.length > 0);
  for (const s of [CANARY_APP_KEY, CANARY_SECRET_KEY]) t.notOk(all.includes(s), 'no canary');
});
