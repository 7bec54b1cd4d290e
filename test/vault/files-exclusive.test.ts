// createFileExclusive writes the bytes it is given: the temporary name it
// links from shares the new file's inode, so destroying that name must not
// zero the file (regression: every local master key and fingerprint key came
// out as 32 zero bytes).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createFileExclusive } from '../../proxy/vault/files.js';
import { createLocalKeyProvider } from '../../proxy/vault/local-provider.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-excl-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('the file holds the bytes given, and no temporary file is left', async (t) => {
  const data = randomBytes(32);
  const file = path.join(dir, 'a.key');
  t.equal(await createFileExclusive(file, data), true);
  t.same(await readFile(file), data, 'content kept');
  t.equal(await createFileExclusive(file, randomBytes(32)), false, 'an existing file is kept');
  t.same(await readFile(file), data, 'and not changed');
  t.same(await readdir(dir), ['a.key'], 'no temporary file left');
});

t.test('two first runs of the local keyring make two different, non-zero master keys', async (t) => {
  const a = path.join(dir, 'a', 'master.key');
  const b = path.join(dir, 'b', 'master.key');
  const pa = await createLocalKeyProvider({ masterKeyFile: a });
  const pb = await createLocalKeyProvider({ masterKeyFile: b });
  t.teardown(async () => {
    await pa.close();
    await pb.close();
  });
  const ka = await readFile(a);
  t.notOk(ka.equals(Buffer.alloc(32)), 'not all zeros');
  t.notOk(ka.equals(await readFile(b)), 'different keys');
  const g = await pa.generateDataKey({ x: '1' });
  g.plaintext.fill(0);
  await t.rejects(pb.unwrap(g.wrapped, { x: '1' }), { code: 'KG4004' }, "one keyring cannot unwrap the other's data keys");
});

t.test('a master key left all zero by the old defect is still readable, and the operator is told to rotate it', async (t) => {
  const { chmod, mkdir, writeFile } = await import('node:fs/promises');
  const { createKeyProvider, parseVaultConfig } = await import('../../proxy/vault/index.js');
  const pino = (await import('pino')).default;
  const { Registry } = await import('prom-client');
  const keyDir = path.join(dir, 'zero');
  await mkdir(keyDir, { mode: 0o700 });
  await chmod(keyDir, 0o700);
  await writeFile(path.join(keyDir, 'master.key'), Buffer.alloc(32), { mode: 0o600 });
  const lines: string[] = [];
  const logger = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
  const provider = await createKeyProvider(parseVaultConfig({ local: { masterKeyFile: path.join(keyDir, 'master.key') } }, keyDir), {
    logger,
    registry: new Registry(),
  });
  t.teardown(() => provider.close?.());
  const made = await provider.generateDataKey({ purpose: 't' });
  t.same(await provider.unwrap(made.wrapped, { purpose: 't' }), made.plaintext, 'records under it can still be read (to rewrap them)');
  t.equal(lines.length, 1, 'one error at start');
  t.match(lines[0], /all zero bytes.*kguard keys rewrap --to local --new-master-key/);
});
