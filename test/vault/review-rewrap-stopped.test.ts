// kguard keys rewrap --to aws-kms with KMS failing part-way: the run stops, and the custodian is told where and in
// what state (how many records moved, which one it stopped at, that the rest keep their previous key, that running
// it again resumes), not only KMS's error, which read as if nothing had happened. Every record still decrypts, and a
// second run finishes the move. The CLI in-process against a KMS speaking AWS's wire protocol.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import t from 'tap';
import { main } from '../../proxy/cli/index.js';
import { createKeyProvider, createVault, parseVaultConfig } from '../../proxy/vault/index.js';
import { startFakeKms } from '../helpers/fake-kms.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, capturingLogger, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret-for-sigv4-only' });
const outputs: string[] = [];

async function cli(args: string[], stdin = '', onStdout?: (s: string) => void) {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(c: Buffer, _e, cb) {
        add(c.toString());
        cb();
      },
    });
  const code = await main(args, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: sink((s) => {
      out += s;
      onStdout?.(s);
    }),
    stderr: sink((s) => {
      err += s;
    }),
    env: {},
  });
  outputs.push(out, err);
  return { code, out, err };
}

const fake = await startFakeKms();
t.teardown(() => fake.close());
fake.createKey({ alias: 'alias/custody' });
const dir = await tempDir(t, 'kguard-rewrap-stopped-');
const configFile = path.join(dir, 'kguard.json');
const awsKms = { keyId: 'alias/custody', region: fake.region, endpoint: fake.url, maxAttempts: 2 };
// English: the test reads the rewrap's progress lines.
await writeFile(configFile, JSON.stringify({ dataDir: dir, language: 'en', vault: { provider: 'local', awsKms } }));
const ids = ['c1', 'c2', 'c3'];

t.test('three records under the local keyring', async (t) => {
  for (const [i, id] of ids.entries()) {
    const r = await cli(
      ['keys', 'import', '--bot', id, '--account', '5012345678', '--config', configFile],
      `${CANARY_APP_KEY}${i}\n${CANARY_SECRET_KEY}${i}\n`,
    );
    t.equal(r.code, 0, r.err);
  }
});

t.test('KMS fails after the first record: the error says where the run stopped and what it left', async (t) => {
  let moved = 0;
  const r = await cli(['keys', 'rewrap', '--to', 'aws-kms', '--config', configFile], '', (s) => {
    // The first record is moved: from now on KMS answers 500 (beyond the SDK's retries).
    if (/^rewrapped\t/m.test(s) && ++moved === 1) fake.failNext(1_000);
  });
  fake.failNext(0);
  t.equal(r.code, 1);
  t.match(r.out, /^rewrapped\tc1$/m);
  t.match(r.err, /KG4001/, "KMS's error is kept");
  t.match(r.err, /rewrap stopped at c2: 1 rewrapped, 0 already under the target, 2 not yet \(still under their previous key\)/, 'where and what');
  t.match(r.err, /run the same rewrap again to resume/);
});

t.test('every record still decrypts, and running it again finishes the move', async (t) => {
  const cfg = parseVaultConfig({ provider: 'aws-kms', readProviders: ['local'], awsKms }, dir);
  const { logger } = capturingLogger();
  const registry = freshRegistry();
  const vault = await createVault({
    dataDir: dir,
    provider: await createKeyProvider(cfg, { logger, registry }),
    readProviders: [await createKeyProvider(cfg, { logger, registry }, 'local')],
    registry,
    logger,
  });
  t.teardown(() => vault.close());
  t.same(
    (await vault.list()).map((m) => [m.botId, m.provider]),
    [
      ['c1', 'aws-kms'],
      ['c2', 'local'],
      ['c3', 'local'],
    ],
  );
  for (const [i, id] of ids.entries()) t.equal(await vault.withCredentials(id, 'call', async (c) => c.secretKey.toString()), `${CANARY_SECRET_KEY}${i}`);
  const r = await cli(['keys', 'rewrap', '--to', 'aws-kms', '--config', configFile]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /resumed an interrupted rewrap; 2 rewrapped, 1 already under aws-kms/);
});

t.test('no output carried a key', async (t) => {
  const all = outputs.join('\n');
  for (const s of [CANARY_APP_KEY, CANARY_SECRET_KEY]) t.notOk(all.includes(s));
});
