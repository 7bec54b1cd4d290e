import t from 'tap';
import type { Test } from 'tap';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GuardError } from '../../proxy/common/errors.js';
import {
  addLocalMasterKeyVersion,
  createLocalKeyProvider,
  createVault,
  parseCredentialInput,
  readSecretInput,
  type DecryptEvent,
  type KeyProvider,
} from '../../proxy/vault/index.js';
import {
  allFileBytes,
  CANARY_APP_KEY,
  CANARY_SECRET_KEY,
  canaryBuffers,
  capturingLogger,
  containsSecret,
  freshRegistry,
  tempDir,
} from '../helpers/vault-fixtures.js';

async function setup(t: Test, extra: { cache?: object; provider?: KeyProvider } = {}) {
  const dataDir = await tempDir(t);
  const provider = extra.provider ?? (await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }));
  const registry = freshRegistry();
  const log = capturingLogger();
  const events: DecryptEvent[] = [];
  const vault = await createVault({
    dataDir,
    provider,
    registry,
    logger: log.logger,
    onDecrypt: (e) => {
      events.push(e);
    },
    ...(extra.cache ? { cache: extra.cache } : {}),
  });
  t.teardown(() => vault.close());
  return { dataDir, provider, registry, log, events, vault };
}
const _tap = t;

function code(c: string) {
  return { name: 'GuardError', code: c };
}

t.test('import then decrypt just in time; plaintext zero-filled afterwards', async (t) => {
  const { vault, dataDir, events, registry } = await setup(t);
  const meta = await vault.importCredentials({ botId: 'bot-1', account: 'acct1', ...canaryBuffers() });
  t.equal(meta.keyVersion, 1);
  t.equal(meta.provider, 'local');
  t.equal(meta.keyId, 'local:v1');
  t.match(meta.appKeyFingerprint, /^hmac-sha256:[0-9a-f]{32}$/);
  let seen: Buffer[] = [];
  const result = await vault.withCredentials('bot-1', 'call', async (c) => {
    t.equal(c.appKey.toString(), CANARY_APP_KEY);
    t.equal(c.secretKey.toString(), CANARY_SECRET_KEY);
    seen = [c.appKey, c.secretKey];
    return 42;
  });
  t.equal(result, 42);
  t.ok(
    seen[0]!.every((b) => b === 0),
    'app key zero-filled',
  );
  t.ok(
    seen[1]!.every((b) => b === 0),
    'secret key zero-filled',
  );
  // zero-filled even when fn throws
  await t.rejects(
    vault.withCredentials('bot-1', 'call', async (c) => {
      seen = [c.appKey, c.secretKey];
      throw new Error('boom');
    }),
    /boom/,
  );
  t.ok(seen.every((b) => b.every((x) => x === 0)));
  t.same(
    events.map((e) => [e.botId, e.purpose, e.outcome]),
    [
      ['bot-1', 'call', 'ok'],
      ['bot-1', 'call', 'ok'],
    ],
  );
  const metrics = await registry.metrics();
  t.match(metrics, /kguard_vault_decrypts_total\{purpose="call",outcome="ok"\} 2/);
  t.match(metrics, /kguard_vault_unwrap_duration_seconds_count\{provider="local"\} 2/);

  const credDir = path.join(dataDir, 'credentials');
  t.equal((await stat(dataDir)).mode & 0o777, 0o700);
  t.equal((await stat(credDir)).mode & 0o777, 0o700);
  t.equal((await stat(path.join(credDir, 'bot-1.json'))).mode & 0o777, 0o600);
  t.equal((await stat(path.join(dataDir, 'master.key'))).mode & 0o777, 0o600);
  const record = JSON.parse(await readFile(path.join(credDir, 'bot-1.json'), 'utf8'));
  t.same(Object.keys(record).sort(), [
    'account',
    'appKey',
    'appKeyFingerprint',
    'botId',
    'createdAt',
    'enabled',
    'format',
    'keyId',
    'keyVersion',
    'provider',
    'secretKey',
    'updatedAt',
    'wrappedKey',
  ]);
  const files = await allFileBytes(dataDir);
  t.notOk(containsSecret(files, CANARY_APP_KEY), 'no plaintext app key on disk');
  t.notOk(containsSecret(files, CANARY_SECRET_KEY), 'no plaintext secret key on disk');
  for (const algo of ['sha256', 'sha1', 'md5']) {
    t.notOk(files.includes(Buffer.from(createHash(algo).update(CANARY_APP_KEY).digest('hex'))), `no unkeyed ${algo} of the app key`);
  }
});

t.test('disabled record: call denied before any unwrap; revoke and lockdown still allowed', async (t) => {
  const { vault, events } = await setup(t);
  await vault.importCredentials({ botId: 'bot-2', account: 'acct2', ...canaryBuffers() });
  await vault.setEnabled('bot-2', false);
  t.equal((await vault.describe('bot-2'))!.enabled, false);
  await t.rejects(
    vault.withCredentials('bot-2', 'call', async () => t.fail('must not run')),
    code('KG4002'),
  );
  t.equal(await vault.withCredentials('bot-2', 'revoke', async (c) => c.appKey.toString()), CANARY_APP_KEY);
  t.equal(await vault.withCredentials('bot-2', 'lockdown', async () => 'ok'), 'ok');
  await vault.setEnabled('bot-2', true);
  t.equal(await vault.withCredentials('bot-2', 'call', async () => 'ok'), 'ok');
  t.same(
    events.map((e) => e.outcome),
    ['denied', 'ok', 'ok', 'ok'],
  );
  t.equal(events[0]!.code, 'KG4002');
});

t.test('bad input gets a clear error and changes nothing', async (t) => {
  const { vault, dataDir, log } = await setup(t);
  const cases: [string, Record<string, unknown>][] = [
    ['bad bot id', { botId: '../etc', account: 'a1', ...canaryBuffers() }],
    ['bad account', { botId: 'b1', account: 'x y', ...canaryBuffers() }],
    ['quote in key', { botId: 'b1', account: 'a1', appKey: Buffer.from('abc"defghijk'), secretKey: Buffer.from(CANARY_SECRET_KEY) }],
    ['backslash in key', { botId: 'b1', account: 'a1', appKey: Buffer.from(CANARY_APP_KEY), secretKey: Buffer.from('abc\\defghijk') }],
    ['too short', { botId: 'b1', account: 'a1', appKey: Buffer.from('short'), secretKey: Buffer.from(CANARY_SECRET_KEY) }],
    ['too long', { botId: 'b1', account: 'a1', appKey: Buffer.alloc(600, 0x41), secretKey: Buffer.from(CANARY_SECRET_KEY) }],
    ['non-ascii', { botId: 'b1', account: 'a1', appKey: Buffer.from('키움키움키움키움'), secretKey: Buffer.from(CANARY_SECRET_KEY) }],
    ['string key', { botId: 'b1', account: 'a1', appKey: CANARY_APP_KEY, secretKey: Buffer.from(CANARY_SECRET_KEY) }],
  ];
  for (const [name, input] of cases) {
    const err = await vault.importCredentials(input as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof GuardError && err.code === 'KG4006', name);
    t.notOk(
      String((err as Error).message).includes(CANARY_APP_KEY) || String((err as Error).message).includes(CANARY_SECRET_KEY),
      `${name}: no secret in message`,
    );
  }
  t.same(await readdir(path.join(dataDir, 'credentials')), []);
  await vault.importCredentials({ botId: 'b1', account: 'a1', ...canaryBuffers() });
  await t.rejects(vault.importCredentials({ botId: 'b1', account: 'a1', ...canaryBuffers('x') }), code('KG4008'));
  await t.rejects(
    vault.withCredentials('nobody', 'call', async () => 1),
    code('KG4003'),
  );
  await t.rejects(
    vault.withCredentials('../x', 'call', async () => 1),
    code('KG4006'),
  );
  await t.rejects(vault.setEnabled('nobody', false), code('KG4003'));
  t.notOk(containsSecret(log.lines(), CANARY_APP_KEY));
  t.notOk(containsSecret(log.lines(), CANARY_SECRET_KEY));
});

t.test('tampered records fail closed (AAD binds context and field)', async (t) => {
  const { vault, dataDir } = await setup(t);
  await vault.importCredentials({ botId: 'b3', account: 'a3', ...canaryBuffers() });
  const file = path.join(dataDir, 'credentials', 'b3.json');
  const original = JSON.parse(await readFile(file, 'utf8'));
  const tamper = async (change: (r: Record<string, unknown>) => void) => {
    const r = structuredClone(original);
    change(r);
    await writeFile(file, JSON.stringify(r));
    await t.rejects(
      vault.withCredentials('b3', 'call', async () => t.fail('decrypted tampered record')),
      code('KG4004'),
    );
  };
  await tamper((r) => {
    r.account = 'other';
  });
  await tamper((r) => {
    r.keyVersion = 2;
  });
  await tamper((r) => {
    r.createdAt = new Date(0).toISOString();
  });
  await tamper((r) => {
    const a = r.appKey;
    r.appKey = r.secretKey;
    r.secretKey = a;
  });
  await tamper((r) => {
    (r.appKey as { tag: string }).tag = Buffer.alloc(16).toString('base64');
  });
  await tamper((r) => {
    r.botId = 'b4';
  });
  await writeFile(file, '{not json');
  await t.rejects(
    vault.withCredentials('b3', 'call', async () => 1),
    code('KG4004'),
  );
  // Another bot's record moved under this bot's name is refused, not served.
  await vault.importCredentials({ botId: 'b5', account: 'a3', ...canaryBuffers('5') });
  const moved = JSON.parse(await readFile(path.join(dataDir, 'credentials', 'b5.json'), 'utf8'));
  moved.botId = 'b3';
  await writeFile(file, JSON.stringify(moved));
  await t.rejects(
    vault.withCredentials('b3', 'call', async () => 1),
    code('KG4004'),
  );
});

t.test('master key file: created 0600, refused when group/world readable or wrong size', async (t) => {
  const dataDir = await tempDir(t);
  const file = path.join(dataDir, 'master.key');
  const p = await createLocalKeyProvider({ masterKeyFile: file });
  await p.close();
  t.equal((await readFile(file)).length, 32);
  await chmod(file, 0o640);
  await t.rejects(createLocalKeyProvider({ masterKeyFile: file }), code('KG4007'));
  await chmod(file, 0o604);
  await t.rejects(createLocalKeyProvider({ masterKeyFile: file }), code('KG4007'));
  await chmod(file, 0o600);
  await writeFile(file, Buffer.alloc(31));
  await t.rejects(createLocalKeyProvider({ masterKeyFile: file }), code('KG4005'));
  const empty = await tempDir(t);
  await t.rejects(createLocalKeyProvider({ masterKeyFile: path.join(empty, 'm.key'), createIfMissing: false }), code('KG4001'));
});

t.test('local provider binds the context and the key version', async (t) => {
  const dataDir = await tempDir(t);
  const file = path.join(dataDir, 'master.key');
  const p1 = await createLocalKeyProvider({ masterKeyFile: file });
  t.teardown(() => p1.close());
  const ctx = { botId: 'b', account: 'a', keyVersion: '1', createdAt: 'now' };
  const { plaintext, wrapped } = await p1.generateDataKey(ctx);
  const back = await p1.unwrap(wrapped, { createdAt: 'now', keyVersion: '1', account: 'a', botId: 'b' });
  t.ok(back.equals(plaintext), 'key order in the context does not matter');
  await t.rejects(p1.unwrap(wrapped, { ...ctx, account: 'z' }), code('KG4004'));
  await t.rejects(p1.unwrap({ ...wrapped, keyId: 'local:v9' }, ctx), code('KG4001'));
  await t.rejects(p1.unwrap({ ...wrapped, provider: 'aws-kms' }, ctx), code('KG4004'));
  t.equal(await addLocalMasterKeyVersion(file), 2);
  const p2 = await createLocalKeyProvider({ masterKeyFile: file });
  t.teardown(() => p2.close());
  t.equal(p2.describe().keyId, 'local:v2');
  t.ok((await p2.unwrap(wrapped, ctx)).equals(plaintext), 'older versions still unwrap');
  t.equal((await p2.generateDataKey(ctx)).wrapped.keyId, 'local:v2');
  await p1.close();
  await t.rejects(p1.unwrap(wrapped, ctx), code('KG4001'));
});

t.test('rotate: in-flight calls finish on the old keys, new calls use the new record', async (t) => {
  const { vault, dataDir } = await setup(t);
  await vault.importCredentials({ botId: 'rot', account: 'acct', ...canaryBuffers() });
  const oldRecordText = await readFile(path.join(dataDir, 'credentials', 'rot.json'), 'utf8');
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let entered!: () => void;
  const inside = new Promise<void>((r) => {
    entered = r;
  });
  const inflight = vault.withCredentials('rot', 'call', async (c) => {
    entered();
    await gate;
    return c.appKey.toString();
  });
  await inside;
  const meta = await vault.rotateCredentials({ botId: 'rot', appKey: Buffer.from('NEWappKEY0123456789'), secretKey: Buffer.from('NEWsecretKEY0123456789') });
  t.equal(meta.keyVersion, 2);
  t.equal(await vault.withCredentials('rot', 'call', async (c) => c.appKey.toString()), 'NEWappKEY0123456789');
  release();
  t.equal(await inflight, CANARY_APP_KEY, 'in-flight call kept the old keys');
  const files = (await readdir(path.join(dataDir, 'credentials'))).filter((n) => !n.startsWith('.') || n.endsWith('.tmp'));
  t.same(files, ['rot.json'], 'no old copy or temp file left behind');
  const old = JSON.parse(oldRecordText);
  t.notOk((await allFileBytes(dataDir)).includes(Buffer.from(old.appKey.ciphertext)), 'old ciphertext gone');
  await t.rejects(vault.rotateCredentials({ botId: 'none', ...canaryBuffers() }), code('KG4003'));
  // Concurrent readers during many rotations never see a torn or zeroed record.
  const readers = Array.from({ length: 40 }, () => vault.withCredentials('rot', 'call', async (c) => c.appKey.length));
  for (let i = 0; i < 5; i++)
    await vault.rotateCredentials({ botId: 'rot', appKey: Buffer.from(`ROTATEDappKEY${i}xxxx`), secretKey: Buffer.from(`ROTATEDsecret${i}xxxx`) });
  for (const r of await Promise.allSettled(readers)) t.equal(r.status, 'fulfilled');
  t.equal((await vault.describe('rot'))!.keyVersion, 7);
});

t.test('rewrap to a new local master key; interrupted run resumes and every record stays readable', async (t) => {
  const dataDir = await tempDir(t);
  const masterKeyFile = path.join(dataDir, 'master.key');
  const registry = freshRegistry();
  const { logger } = capturingLogger();
  const v1 = await createVault({ dataDir, provider: await createLocalKeyProvider({ masterKeyFile }), registry, logger });
  for (let i = 0; i < 6; i++) await v1.importCredentials({ botId: `bot${i}`, account: 'acct', ...canaryBuffers(String(i)) });
  await v1.setEnabled('bot3', false);
  await v1.close();
  await addLocalMasterKeyVersion(masterKeyFile);
  const v2 = await createVault({ dataDir, provider: await createLocalKeyProvider({ masterKeyFile }), registry, logger });
  let n = 0;
  await t.rejects(
    v2.rewrapAll({
      onRecord: () => {
        if (++n === 3) throw new Error('simulated crash');
      },
    }),
    /simulated crash/,
  );
  const metas = await v2.list();
  t.same(
    metas.map((m) => m.keyId),
    ['local:v2', 'local:v2', 'local:v2', 'local:v1', 'local:v1', 'local:v1'],
  );
  for (let i = 0; i < 6; i++) {
    t.equal(await v2.withCredentials(`bot${i}`, 'revoke', async (c) => c.appKey.toString()), CANARY_APP_KEY + i, `bot${i} readable mid-rewrap`);
  }
  const report = await v2.rewrapAll();
  t.equal(report.resumed, true);
  t.same(report.rewrapped, ['bot3', 'bot4', 'bot5']);
  t.same(report.skipped, ['bot0', 'bot1', 'bot2']);
  t.equal((await v2.describe('bot3'))!.enabled, false, 'state survives rewrap');
  t.ok((await v2.list()).every((m) => m.keyId === 'local:v2' && m.keyVersion === 1));
  t.notOk((await readdir(path.join(dataDir, 'credentials'))).includes('.rewrap-journal.json'));
  t.equal((await v2.rewrapAll()).resumed, false);
  await v2.close();
  // With version 1 retired, every record still opens.
  const { rm } = await import('node:fs/promises');
  await rm(masterKeyFile);
  const v3 = await createVault({ dataDir, provider: await createLocalKeyProvider({ masterKeyFile }), registry, logger });
  t.teardown(() => v3.close());
  for (let i = 0; i < 6; i++) t.equal(await v3.withCredentials(`bot${i}`, 'rewrap', async (c) => c.secretKey.toString()), CANARY_SECRET_KEY + i);
});

t.test('optional data-key cache: bounded by uses, off by default', async (t) => {
  const dataDir = await tempDir(t);
  const inner = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  let unwraps = 0;
  const counting: KeyProvider = {
    ...inner,
    id: inner.id,
    unwrap: async (w, c) => {
      unwraps++;
      return inner.unwrap(w, c);
    },
    generateDataKey: (c) => inner.generateDataKey(c),
    health: () => inner.health(),
    describe: () => inner.describe(),
    close: () => inner.close(),
  };
  const { vault, registry } = await setup(t, { provider: counting, cache: { enabled: true, maxUses: 3, maxAgeMs: 60_000, maxEntries: 2 } });
  await vault.importCredentials({ botId: 'c1', account: 'a', ...canaryBuffers() });
  for (let i = 0; i < 7; i++) t.equal(await vault.withCredentials('c1', 'call', async (c) => c.appKey.toString()), CANARY_APP_KEY);
  t.equal(unwraps, 3, '7 calls at 3 uses per entry = 3 unwraps');
  const m = await registry.metrics();
  t.match(m, /kguard_vault_cache_lookups_total\{result="hit"\} 4/);
  t.match(m, /kguard_vault_cache_evictions_total\{reason="uses"\} 2/);

  const plain = await setup(t);
  await plain.vault.importCredentials({ botId: 'c2', account: 'a', ...canaryBuffers() });
  await plain.vault.withCredentials('c2', 'call', async () => 1);
  t.notMatch(await plain.registry.metrics(), /kguard_vault_cache_lookups_total\{/);
});

t.test('readSecretInput and parseCredentialInput', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'creds');
  await writeFile(file, `${CANARY_APP_KEY}\n${CANARY_SECRET_KEY}\n`, { mode: 0o600 });
  const pair = parseCredentialInput(await readSecretInput({ file }));
  t.equal(pair.appKey.toString(), CANARY_APP_KEY);
  t.equal(pair.secretKey.toString(), CANARY_SECRET_KEY);
  await chmod(file, 0o644);
  await t.rejects(readSecretInput({ file }), { code: 'KG4007', message: /0600/ });
  await t.rejects(readSecretInput({ file: path.join(dir, 'missing') }), code('KG4006'));
  const fromStdin = await readSecretInput({ stdin: Readable.from([Buffer.from(`{"appkey": "${CANARY_APP_KEY}",\n "secretkey":"${CANARY_SECRET_KEY}"}`)]) });
  const j = parseCredentialInput(fromStdin);
  t.ok(
    fromStdin.every((b) => b === 0),
    'input buffer zero-filled after parsing',
  );
  t.equal(j.secretKey.toString(), CANARY_SECRET_KEY);
  await t.rejects(readSecretInput({ stdin: Readable.from([Buffer.alloc(100)]) }, { maxBytes: 10 }), code('KG4006'));
  const bad = [
    'onlyoneline12345',
    `a\nb\nc`,
    `{"appkey":"${CANARY_APP_KEY}"}`,
    `{"appkey":"${CANARY_APP_KEY}","secretkey":"abc\\u0041defghij"}`,
    `{"appkey":"${CANARY_APP_KEY}","secretkey":"${CANARY_SECRET_KEY}","extra":"x"}`,
    `{"appkey":"${CANARY_APP_KEY}","secretkey":"${CANARY_SECRET_KEY}"} trailing`,
    `{"appkey":"${CANARY_APP_KEY}","appkey":"${CANARY_APP_KEY}","secretkey":"${CANARY_SECRET_KEY}"}`,
    `${CANARY_APP_KEY}\nhas space inside it`,
  ];
  for (const b of bad) {
    let err: unknown;
    try {
      parseCredentialInput(Buffer.from(b));
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof GuardError && err.code === 'KG4006' && !err.message.includes(CANARY_APP_KEY), b.slice(0, 20));
  }
});

t.test('an onDecrypt hook that rejects refuses the decrypt: the vault waits for the audit record before the keys are used', async (t) => {
  const dataDir = await tempDir(t);
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  let written = 0;
  const vault = await createVault({
    dataDir,
    provider,
    registry: freshRegistry(),
    logger: capturingLogger().logger,
    onDecrypt: async (e) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (e.purpose === 'call') throw new GuardError('KG6001');
      written++;
    },
  });
  t.teardown(() => vault.close());
  await vault.importCredentials({ botId: 'h', account: 'a', ...canaryBuffers() });
  await t.rejects(
    vault.withCredentials('h', 'call', async () => t.fail('ran without its audit record')),
    code('KG6001'),
  );
  let seen: Buffer | undefined;
  await vault.withCredentials('h', 'revoke', async (creds) => {
    seen = creds.appKey;
    t.equal(written, 1, 'the record was written before the keys were handed over');
  });
  t.ok(
    seen?.every((b) => b === 0),
    'the keys are zero-filled after use',
  );
});

t.test('onDecrypt hook failure refuses the decrypt (audit fails closed)', async (t) => {
  const dataDir = await tempDir(t);
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  const vault = await createVault({
    dataDir,
    provider,
    registry: freshRegistry(),
    logger: capturingLogger().logger,
    onDecrypt: () => {
      throw new GuardError('KG6001');
    },
  });
  t.teardown(() => vault.close());
  await vault.importCredentials({ botId: 'h', account: 'a', ...canaryBuffers() });
  await t.rejects(
    vault.withCredentials('h', 'call', async () => t.fail('ran without audit')),
    code('KG6001'),
  );
  t.ok(await vault.destroyCredentials('h'));
  t.notOk(await vault.destroyCredentials('h'));
  t.equal(await vault.describe('h'), undefined);
});
