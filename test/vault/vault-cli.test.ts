// kguard keys, driven in-process through its CliCommand and, for the
// interrupted rewrap, as a real child process killed mid-run.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import keys from '../../proxy/cli/keys.js';
import type { CliIO } from '../../proxy/cli/types.js';
import { createKeyProvider, createLocalKeyProvider, createVault, parseVaultConfig } from '../../proxy/vault/index.js';
import { startFakeKms } from '../helpers/fake-kms.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, capturingLogger, containsSecret, freshRegistry, tempDir } from '../helpers/vault-fixtures.js';

const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret-for-sigv4-only' };
Object.assign(process.env, AWS_ENV);
const transcript: string[] = [];

async function run(args: string[], opts: { stdin?: Buffer | string; tty?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(c: Buffer, _e, cb) {
        add(c.toString('utf8'));
        cb();
      },
    });
  const stdin = Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]) as Readable & { isTTY?: boolean };
  if (opts.tty) stdin.isTTY = true;
  const io: CliIO = {
    stdin,
    stdout: sink((s) => {
      out += s;
    }),
    stderr: sink((s) => {
      err += s;
    }),
    // The English text (the Korean default is checked in test/cli/review-cli-language.test.ts).
    env: { KGUARD_LANGUAGE: 'en', ...opts.env },
  };
  let code: number;
  try {
    code = await keys(args, io);
  } catch (e) {
    // What main() would print.
    err += `${(e as { code?: string }).code ?? ''}: ${(e as Error).message}\n`;
    code = 1;
  }
  await new Promise((r) => setTimeout(r, 20)); // let pino flush to stderr
  transcript.push(out, err);
  return { code, out, err };
}

t.test('import, list, disable, enable, rotate, rewrap to a new local master key', async (t) => {
  const dir = await tempDir(t);
  const dd = ['--data-dir', dir];
  let r = await run(['import', '--bot', 'alpha', '--account', 'acct1', ...dd], { stdin: `${CANARY_APP_KEY}\n${CANARY_SECRET_KEY}\n` });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /imported credentials for alpha \(version 1, provider local\)/);
  const jsonFile = path.join(dir, '..', `${path.basename(dir)}-beta.json`);
  t.teardown(() => import('node:fs/promises').then((f) => f.rm(jsonFile, { force: true })));
  await writeFile(jsonFile, JSON.stringify({ appkey: `${CANARY_APP_KEY}B`, secretkey: `${CANARY_SECRET_KEY}B` }), { mode: 0o644 });
  r = await run(['import', '--bot', 'beta', '--account', 'acct2', '--from-file', jsonFile, ...dd]);
  t.equal(r.code, 1);
  t.match(r.err, /KG4007.*0600/);
  const { chmod } = await import('node:fs/promises');
  await chmod(jsonFile, 0o600);
  r = await run(['import', '--bot', 'beta', '--account', 'acct2', '--from-file', jsonFile, ...dd]);
  t.equal(r.code, 0, r.err);
  r = await run(['import', '--bot', 'gamma', '--account', 'acct3', ...dd], { tty: true });
  t.equal(r.code, 1);
  t.match(r.err, /pipe the keys in/);
  r = await run(['import', '--bot', 'gamma', '--account', 'acct3', CANARY_APP_KEY, ...dd]);
  t.equal(r.code, 1);
  t.match(r.err, /never taken from arguments/);
  r = await run(['import', '--bot', 'alpha', '--account', 'acct1', ...dd], { stdin: `${CANARY_APP_KEY}\n${CANARY_SECRET_KEY}\n` });
  t.match(r.err, /KG4008/);

  r = await run(['list', '--json', ...dd]);
  const metas = JSON.parse(r.out) as { botId: string; enabled: boolean; keyId: string; keyVersion: number }[];
  t.same(
    metas.map((m) => [m.botId, m.enabled, m.keyId, m.keyVersion]),
    [
      ['alpha', true, 'local:v1', 1],
      ['beta', true, 'local:v1', 1],
    ],
  );
  t.equal((await run(['disable', '--bot', 'beta', ...dd])).code, 0);
  r = await run(['list', ...dd]);
  t.match(r.out, /beta\taccount=acct2\tversion=1\tDISABLED/);
  t.equal((await run(['enable', '--bot', 'beta', ...dd])).code, 0);
  t.match((await run(['disable', '--bot', 'nobody', ...dd])).err, /KG4003/);
  t.match((await run(['disable', ...dd])).err, /--bot is required/);

  r = await run(['rotate', '--bot', 'alpha', ...dd], { stdin: 'ROTATEDappKEY12345\r\nROTATEDsecretKEY12345\r\n' });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /version 2; the previous ciphertext was destroyed/);

  r = await run(['rewrap', '--to', 'local', '--new-master-key', ...dd]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /created local master key version 2/);
  t.match(r.out, /2 rewrapped, 0 already under local local:v2/);
  t.match((await run(['rewrap', '--to', 'hsm', ...dd])).err, /--to must be one of/);
  t.match((await run(['rewrap', '--to', 'aws-kms', ...dd])).err, /KG4005.*awsKms/);
  t.match((await run(['frobnicate', ...dd])).err, /usage/);

  const vault = await createVault({
    dataDir: dir,
    provider: await createLocalKeyProvider({ masterKeyFile: path.join(dir, 'master.key') }),
    registry: freshRegistry(),
    logger: capturingLogger().logger,
  });
  t.teardown(() => vault.close());
  t.equal(await vault.withCredentials('alpha', 'call', async (c) => `${c.appKey}/${c.secretKey}`), 'ROTATEDappKEY12345/ROTATEDsecretKEY12345');
  t.equal(await vault.withCredentials('beta', 'call', async (c) => c.appKey.toString()), `${CANARY_APP_KEY}B`);
});

t.test('rewrap local -> aws-kms survives SIGKILL midway and resumes', async (t) => {
  const fake = await startFakeKms();
  t.teardown(() => fake.close());
  fake.createKey({ alias: 'alias/cli' });
  const dir = await tempDir(t);
  const configFile = path.join(dir, 'kguard.json');
  await writeFile(
    configFile,
    JSON.stringify({ dataDir: dir, vault: { provider: 'local', awsKms: { keyId: 'alias/cli', region: fake.region, endpoint: fake.url } } }),
  );
  const count = 6;
  for (let i = 0; i < count; i++) {
    const r = await run(['import', '--bot', `k${i}`, '--account', 'acct', '--config', configFile], {
      stdin: `${CANARY_APP_KEY}${i}\n${CANARY_SECRET_KEY}${i}\n`,
    });
    t.equal(r.code, 0, r.err);
  }
  fake.delayMs = 150; // slow KMS so the kill lands midway
  const loader = path.resolve('node_modules/@tapjs/typescript/dist/esm/import.mjs');
  const script = `import keys from ${JSON.stringify(path.resolve('proxy/cli/keys.ts'))};
    const code = await keys(process.argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
    process.exitCode = code;`;
  const child = spawn(
    process.execPath,
    [`--import=${new URL(`file://${loader}`).href}`, '--input-type=module', '-e', script, 'rewrap', '--to', 'aws-kms', '--config', configFile],
    {
      env: { ...process.env, ...AWS_ENV, KGUARD_LANGUAGE: 'en' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const killed = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if ((out.match(/^rewrapped\t/gm) ?? []).length >= 2) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`child exited before the kill: ${err}`)));
  });
  t.equal(await killed, 'SIGKILL');
  transcript.push(out, err);
  fake.delayMs = 0;
  const names = await readdir(path.join(dir, 'credentials'));
  t.ok(names.includes('.rewrap-journal.json'), 'journal marks the interrupted run');

  const cfg = parseVaultConfig({ provider: 'aws-kms', readProviders: ['local'], awsKms: { keyId: 'alias/cli', region: fake.region, endpoint: fake.url } }, dir);
  const { logger } = capturingLogger();
  const registry = freshRegistry();
  const mixed = await createVault({
    dataDir: dir,
    provider: await createKeyProvider(cfg, { logger, registry }),
    readProviders: [await createKeyProvider(cfg, { logger, registry }, 'local')],
    registry,
    logger,
  });
  const providers = (await mixed.list()).map((m) => m.provider);
  t.ok(providers.includes('aws-kms') && providers.includes('local'), `interrupted midway: ${providers.join(',')}`);
  for (let i = 0; i < count; i++)
    t.equal(await mixed.withCredentials(`k${i}`, 'call', async (c) => c.appKey.toString()), `${CANARY_APP_KEY}${i}`, `k${i} readable after the kill`);
  await mixed.close();

  const r = await run(['rewrap', '--to', 'aws-kms', '--config', configFile]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /resumed an interrupted rewrap/);
  t.notOk(
    (await readdir(path.join(dir, 'credentials'))).some((n) => n.startsWith('.')),
    'journal and temp files gone',
  );
  const after = await createVault({ dataDir: dir, provider: await createKeyProvider(cfg, { logger, registry }), registry, logger });
  t.teardown(() => after.close());
  t.ok((await after.list()).every((m) => m.provider === 'aws-kms'));
  for (let i = 0; i < count; i++) t.equal(await after.withCredentials(`k${i}`, 'call', async (c) => c.secretKey.toString()), `${CANARY_SECRET_KEY}${i}`);
});

t.test('no CLI output ever carried a canary secret', async (t) => {
  const all = transcript.join('\n');
  t.ok(all.length > 0);
  t.notOk(containsSecret(all, CANARY_APP_KEY));
  t.notOk(containsSecret(all, CANARY_SECRET_KEY));
  t.notOk(containsSecret(all, 'ROTATEDsecretKEY12345'));
});
