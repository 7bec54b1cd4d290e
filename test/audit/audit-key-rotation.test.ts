// Rotating the audit signing key: `kguard audit rotate-signing-key` keeps the
// current key as <key>.retiring and puts a new one in place; the next start
// hands each log over (an audit.key_rotated record and a checkpoint signed by
// the old key naming the new one) before anything is signed with the new key.
// An auditor holding only the old public key follows the hand-over; a key no
// trusted key handed over to fails verification, naming its id. Before this,
// the only way to change the key was to move the log aside and start a new chain.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, copyFile, link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { canonicalJson } from '../../proxy/audit/canonical.js';
import { signCheckpoint, type Checkpoint } from '../../proxy/audit/checkpoint.js';
import { loadPublicKey, publicKeyFileFor, publicKeyId, publicKeyPem } from '../../proxy/audit/keys.js';
import { buildReceipt, verifyReceipt } from '../../proxy/audit/receipt.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { main } from '../../proxy/cli/index.js';
import type { CliIO } from '../../proxy/cli/types.js';
import { auditEnv, type AuditEnv } from '../helpers/audit-env.js';
import { fileTexts } from '../helpers/canary-scan.js';
import { logFilePaths, readLinesOf, writeLinesOf } from '../helpers/audit-log.js';

async function kguard(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdin: Readable.from([]),
    stdout: new PassThrough().on('data', (d: Buffer) => {
      stdout += d.toString();
    }),
    stderr: new PassThrough().on('data', (d: Buffer) => {
      stderr += d.toString();
    }),
    env: {},
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** Every encoding of a private key file's secret a leak could take: PEM body lines, the seed as base64url, base64 and hex. */
async function privateForms(file: string): Promise<string[]> {
  const pem = await readFile(file, 'utf8');
  const d = createPrivateKey(pem).export({ format: 'jwk' }).d!;
  const seed = Buffer.from(d, 'base64url');
  return [...pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')), d, seed.toString('base64'), seed.toString('hex')];
}

interface Logged {
  env: AuditEnv;
  oldPub: string;
  oldKeyCopy: string;
  oldKeyId: string;
}

/** A log of 12 records under the first key, closed; the auditors' copy of its public key and (for forgery tests) of its private key. */
async function logged(records = 12): Promise<Logged> {
  const env = await auditEnv({ checkpoint: { everyRecords: 5, mirrorDir: 'mirror' } });
  const a = await env.open();
  for (let i = 0; i < records; i++) await a.append({ type: 'call.intent', requestId: `old-${i}`, accountNo: '5012345678' });
  const oldKeyId = a.keyId;
  await a.close();
  const oldPub = path.join(env.dataDir, 'auditor-old.pub');
  await copyFile(publicKeyFileFor(env.config.signingKeyFile), oldPub);
  const oldKeyCopy = path.join(env.dataDir, 'old-key-copy.pem');
  await copyFile(env.config.signingKeyFile, oldKeyCopy);
  return { env, oldPub, oldKeyCopy, oldKeyId };
}

const dataDirFlag = (env: AuditEnv) => ['--data-dir', env.dataDir];
const checkpointsOf = async (env: AuditEnv) => (await readLinesOf(path.join(env.logDir, 'checkpoints.jsonl'))).map((l) => JSON.parse(l) as Checkpoint);
const recordsOf = async (env: AuditEnv) =>
  (await Promise.all((await logFilePaths(env.logDir)).map(readLinesOf)))
    .flat()
    .map((l) => JSON.parse(l) as { seq: number; type: string; data: Record<string, unknown> });

t.test('rotate, restart, more records: one chain that verifies with only the old public key', async (t) => {
  const { env, oldPub, oldKeyId } = await logged();
  t.teardown(env.cleanup);
  const keyFile = env.config.signingKeyFile;
  const retiring = `${keyFile}.retiring`;
  const secretsBefore = await privateForms(keyFile);

  const rotated = await kguard(['audit', 'rotate-signing-key', '--lang', 'en', ...dataDirFlag(env)]);
  t.equal(rotated.code, 0, `rotate exits 0: ${rotated.stderr}`);
  const newPub = await loadPublicKey(publicKeyFileFor(keyFile));
  const newKeyId = publicKeyId(newPub);
  t.not(newKeyId, oldKeyId, 'a new key is in place');
  t.match(rotated.stdout, newKeyId, 'prints the new key id');
  t.match(rotated.stdout, publicKeyPem(newPub).trim(), 'prints the new public key');
  t.match(rotated.stdout, /give this/, 'says it is for auditors');
  t.equal((await stat(keyFile)).mode & 0o777, 0o600, 'new private key is 0600');
  t.equal((await stat(retiring)).mode & 0o777, 0o600, 'retiring key is 0600');
  const history = (await readFile(path.join(env.dataDir, 'audit-signing-keys.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.same(
    history.map((h) => [h.keyId, h.introducedBy]),
    [
      [oldKeyId, undefined],
      [newKeyId, oldKeyId],
    ],
    'the key history lists both public keys in order',
  );
  const secrets = [...secretsBefore, ...(await privateForms(keyFile))];

  // Next start: hand-over first, then the new key signs.
  const a = await env.open();
  t.equal(a.keyId, newKeyId, 'the restarted sidecar signs with the new key');
  for (let i = 0; i < 7; i++) await a.append({ type: 'call.intent', requestId: `new-${i}` });
  await a.checkpointNow();
  const lateReceipt = await a.receipt(18);
  await a.close();
  t.notOk(await exists(retiring), 'the retiring key file is removed after the hand-over');

  const rotations = (await recordsOf(env)).filter((r) => r.type === 'audit.key_rotated');
  t.same(
    rotations.map((r) => [r.seq, r.data]),
    [[13, { fromKeyId: oldKeyId, toKeyId: newKeyId }]],
    'one chained record of the rotation',
  );
  const handover = (await checkpointsOf(env)).find((c) => c.nextKeyId !== undefined)!;
  t.match(handover, { keyId: oldKeyId, nextKeyId: newKeyId, seq: 13, fromSeq: 13 }, 'the hand-over is signed by the old key and names the new one');
  t.ok(
    (await checkpointsOf(env)).filter((c) => c.seq > 13).every((c) => c.keyId === newKeyId),
    'every later checkpoint is signed by the new key',
  );

  const mirror = path.join(env.dataDir, 'mirror');
  const r = await verifyLog(env.logDir, { publicKeyFile: oldPub, checkpointSources: [mirror] });
  t.ok(r.ok, `verifies with only the old public key: ${r.failure?.reason ?? 'ok'}`);
  t.equal(r.records, 20);
  t.same(r.handovers, [{ seq: 13, fromKeyId: oldKeyId, toKeyId: newKeyId }], 'reports the hand-over');
  const cli = await kguard(['audit', 'verify', env.logDir, '--lang', 'en', '--public-key', oldPub, '--checkpoints', mirror, ...dataDirFlag(env)]);
  t.equal(cli.code, 0, cli.stdout);
  t.match(cli.stdout, `signing key handed over at seq 13: ${oldKeyId} -> ${newKeyId}`, 'verify prints the hand-over');
  const byDefault = await kguard(['audit', 'verify', ...dataDirFlag(env)]);
  t.equal(byDefault.code, 0, `verify with no --public-key (the .pub and the key history beside the key): ${byDefault.stdout}`);

  // Receipts under either key, trusting only the old one.
  const oldKey = await loadPublicKey(oldPub);
  const early = await buildReceipt(env.logDir, 3);
  t.same(verifyReceipt(early!, oldKey), { ok: true }, 'a receipt signed by the old key verifies');
  t.ok(lateReceipt?.handovers?.length === 1, 'a receipt under the new key carries the hand-over');
  t.same(verifyReceipt(lateReceipt!, oldKey), { ok: true }, 'a receipt signed by the new key verifies with the old key through the hand-over');
  t.same(verifyReceipt(lateReceipt!, newPub), { ok: true }, 'and with the new key');
  t.notOk(verifyReceipt({ ...lateReceipt!, handovers: [] }, oldKey).ok, 'without the hand-over the old key does not vouch for it');
  const receiptFile = path.join(env.dataDir, 'late.json');
  await writeFile(receiptFile, JSON.stringify(lateReceipt));
  const rcli = await kguard(['audit', 'receipt', '--verify', receiptFile, '--lang', 'en', '--public-key', oldPub, ...dataDirFlag(env)]);
  t.equal(rcli.code, 0, rcli.stdout);
  t.match(rcli.stdout, /VALID receipt for seq 18/);
  const rdefault = await kguard(['audit', 'receipt', '--verify', receiptFile, ...dataDirFlag(env)]);
  t.equal(rdefault.code, 0, `receipt --verify with the configured keys: ${rdefault.stdout}`);
  const earlyFile = path.join(env.dataDir, 'early.json');
  await writeFile(earlyFile, JSON.stringify(early));
  const edefault = await kguard(['audit', 'receipt', '--verify', earlyFile, ...dataDirFlag(env)]);
  t.equal(edefault.code, 0, `an old-key receipt verifies with the configured keys (history): ${edefault.stdout}`);

  // Only the new key, handed over out of band: the part signed by the old key is not vouched for.
  const newPubFile = publicKeyFileFor(keyFile);
  const onlyNew = await verifyLog(env.logDir, { publicKeyFile: newPubFile });
  t.notOk(onlyNew.ok, 'the new key alone does not vouch for checkpoints signed before the hand-over');
  t.match(onlyNew.failure?.reason, new RegExp(`signed by key ${oldKeyId}, which is not trusted`), 'names the untrusted key');
  const both = await kguard(['audit', 'verify', env.logDir, '--public-key', oldPub, '--public-key', newPubFile, ...dataDirFlag(env)]);
  t.equal(both.code, 0, `several --public-key: ${both.stdout}`);

  // A second start after the completed hand-over: nothing more to do.
  const b = await env.open();
  t.equal(b.keyId, newKeyId);
  await b.append({ type: 'call.intent', requestId: 'after' });
  await b.close();
  t.equal((await recordsOf(env)).filter((r) => r.type === 'audit.key_rotated').length, 1, 'no second hand-over');
  t.ok((await verifyLog(env.logDir, { publicKeyFile: oldPub })).ok, 'still verifies');

  // No private key material anywhere it could leak to.
  const outputs: [string, string][] = [
    ['rotate stdout', rotated.stdout],
    ['rotate stderr', rotated.stderr],
    ['verify stdout', cli.stdout],
    ...(await fileTexts(env.logDir)),
    ...(await fileTexts(mirror)),
    ['history', await readFile(path.join(env.dataDir, 'audit-signing-keys.jsonl'), 'utf8')],
  ];
  const json = await kguard(['audit', 'rotate-signing-key', '--json', ...dataDirFlag(env)]);
  outputs.push(['rotate --json', json.stdout + json.stderr]);
  const leaks = outputs.flatMap(([where, text]) => secrets.filter((s) => text.includes(s)).map(() => where));
  t.same(leaks, [], 'no private key material in outputs, logs, checkpoints or the history');
});

t.test('the rotate command refuses a pending rotation, a foreign key and loose modes (KG6003, exit 1)', async (t) => {
  const { env } = await logged();
  t.teardown(env.cleanup);
  const keyFile = env.config.signingKeyFile;
  t.equal((await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)])).code, 0);
  const keyAfterFirst = await readFile(keyFile);
  const again = await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)]);
  t.equal(again.code, 1, 'a second rotation before the hand-over is refused');
  t.match(again.stderr, /KG6003.*already pending/);
  t.same(await readFile(keyFile), keyAfterFirst, 'the key in place is untouched');

  const env2 = (await logged()).env;
  t.teardown(env2.cleanup);
  const other = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  await writeFile(env2.config.signingKeyFile, other, { mode: 0o600 });
  const foreign = await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env2)]);
  t.equal(foreign.code, 1, 'a key other than the log’s is refused');
  t.match(foreign.stderr, /KG6003.*signed by key/);
  t.notOk(await exists(`${env2.config.signingKeyFile}.retiring`), 'nothing was rotated');

  const env3 = (await logged()).env;
  t.teardown(env3.cleanup);
  await chmod(env3.config.signingKeyFile, 0o644);
  const loose = await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env3)]);
  t.equal(loose.code, 1, 'a key readable by others is refused');
  t.match(loose.stderr, /KG6003.*chmod 600/);
  t.notOk(await exists(`${env3.config.signingKeyFile}.retiring`));
});

t.test('crash states: each start completes or refuses clearly', async (t) => {
  t.test('rotate interrupted before the new key was in place: the next start drops the leftover', async (t) => {
    const { env, oldPub, oldKeyId } = await logged();
    t.teardown(env.cleanup);
    await link(env.config.signingKeyFile, `${env.config.signingKeyFile}.retiring`);
    const a = await env.open();
    t.equal(a.keyId, oldKeyId, 'still the old key');
    await a.append({ type: 'call.intent', requestId: 'x' });
    await a.close();
    t.notOk(await exists(`${env.config.signingKeyFile}.retiring`), 'leftover removed');
    t.equal((await recordsOf(env)).filter((r) => r.type === 'audit.key_rotated').length, 0, 'no hand-over');
    t.ok((await verifyLog(env.logDir, { publicKeyFile: oldPub })).ok);
  });

  t.test('crash after the rotation record, before the hand-over checkpoint: the next start hands over', async (t) => {
    const { env, oldPub, oldKeyId } = await logged();
    t.teardown(env.cleanup);
    t.equal((await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)])).code, 0);
    const retiring = `${env.config.signingKeyFile}.retiring`;
    const saved = path.join(env.dataDir, 'retiring-copy');
    await copyFile(retiring, saved);
    const a = await env.open();
    const newKeyId = a.keyId;
    await a.close();
    // Undo the hand-over checkpoint (and what followed) as if the process died right after the record.
    const cpFile = path.join(env.logDir, 'checkpoints.jsonl');
    await writeLinesOf(
      cpFile,
      (await readLinesOf(cpFile)).filter((l) => (JSON.parse(l) as Checkpoint).keyId === oldKeyId && !(JSON.parse(l) as Checkpoint).nextKeyId),
    );
    await rm(path.join(env.dataDir, 'mirror'), { recursive: true });
    await copyFile(saved, retiring);
    await chmod(retiring, 0o600);
    const b = await env.open();
    t.equal(b.keyId, newKeyId);
    await b.append({ type: 'call.intent', requestId: 'y' });
    await b.close();
    t.notOk(await exists(retiring));
    const r = await verifyLog(env.logDir, { publicKeyFile: oldPub });
    t.ok(r.ok, `verifies with the old key: ${r.failure?.reason ?? 'ok'}`);
    t.equal(r.handovers?.length, 1);
    t.equal((await recordsOf(env)).filter((x) => x.type === 'audit.key_rotated').length, 2, 'the second start wrote its own rotation record');
  });

  t.test('the retiring file still there after a completed hand-over: removed, nothing re-signed', async (t) => {
    const { env, oldPub } = await logged();
    t.teardown(env.cleanup);
    t.equal((await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)])).code, 0);
    const retiring = `${env.config.signingKeyFile}.retiring`;
    const saved = path.join(env.dataDir, 'retiring-copy');
    await copyFile(retiring, saved);
    const a = await env.open();
    await a.close();
    await copyFile(saved, retiring);
    await chmod(retiring, 0o600);
    const cpsBefore = (await checkpointsOf(env)).length;
    const b = await env.open();
    await b.close();
    t.notOk(await exists(retiring), 'removed');
    t.equal((await recordsOf(env)).filter((x) => x.type === 'audit.key_rotated').length, 1, 'no second hand-over');
    t.equal((await checkpointsOf(env)).length, cpsBefore, 'nothing signed by the retiring key again');
    t.ok((await verifyLog(env.logDir, { publicKeyFile: oldPub })).ok);
  });

  t.test('a retiring file readable by others, or one beside a log signed by a third key: KG6003', async (t) => {
    const { env } = await logged();
    t.teardown(env.cleanup);
    t.equal((await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)])).code, 0);
    const retiring = `${env.config.signingKeyFile}.retiring`;
    await chmod(retiring, 0o644);
    const err = await env.open().then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    t.equal(err?.code, 'KG6003', `refused: ${err?.message}`);
    t.match(err?.message, /retiring.*chmod 600/);
    await chmod(retiring, 0o600);
    // A third key in the retiring place: the log is signed by neither.
    await writeFile(retiring, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const err2 = await env.open().then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    t.equal(err2?.code, 'KG6003', `refused: ${err2?.message}`);
    t.match(err2?.message, /retiring key .* is key .*but the audit log .* is signed by key/);
  });
});

/** Re-signs checkpoints of `env` from index `from` on with `signer`; the one at `from` optionally as a hand-over to `next`. */
async function resign(env: AuditEnv, from: number, signer: KeyObject, next?: KeyObject, nextOnwards?: KeyObject): Promise<void> {
  const cpFile = path.join(env.logDir, 'checkpoints.jsonl');
  const cps = await checkpointsOf(env);
  const out = cps.map((cp, i) => {
    if (i < from) return canonicalJson(cp);
    const { sig: _sig, nextKeyId: _n, nextPublicKey: _p, ...body } = cp;
    const key = i > from && nextOnwards ? nextOnwards : signer;
    const pub = publicKeyId(createPublicKey(key));
    const extra = i === from && next ? { nextKeyId: publicKeyId(next), nextPublicKey: publicKeyPem(next) } : {};
    return canonicalJson(signCheckpoint({ ...body, keyId: pub, ...extra }, key));
  });
  await writeLinesOf(cpFile, out);
}

t.test('forged rotations fail verification, naming the key', async (t) => {
  t.test('a key swapped in by hand is still refused at start', async (t) => {
    const { env } = await logged();
    t.teardown(env.cleanup);
    await writeFile(env.config.signingKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const err = await env.open().then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    t.equal(err?.code, 'KG6003');
  });

  t.test('new-key checkpoints with no hand-over', async (t) => {
    const { env, oldPub } = await logged();
    t.teardown(env.cleanup);
    const evil = generateKeyPairSync('ed25519');
    await resign(env, 1, evil.privateKey);
    const r = await verifyLog(env.logDir, { publicKeyFile: oldPub });
    t.notOk(r.ok);
    t.match(r.failure?.reason, new RegExp(`signed by key ${publicKeyId(evil.publicKey)}, which is not trusted .* and no trusted key handed over to`));
  });

  t.test('a hand-over signed by a key that is not trusted', async (t) => {
    const { env, oldPub } = await logged();
    t.teardown(env.cleanup);
    const evil = generateKeyPairSync('ed25519');
    const evil2 = generateKeyPairSync('ed25519');
    await resign(env, 1, evil.privateKey, evil2.publicKey, evil2.privateKey);
    const r = await verifyLog(env.logDir, { publicKeyFile: oldPub });
    t.notOk(r.ok);
    t.match(
      r.failure?.reason,
      new RegExp(`a hand-over to key ${publicKeyId(evil2.publicKey)}\\) is signed by key ${publicKeyId(evil.publicKey)}, which is not trusted`),
    );
  });

  t.test('the old key, once it handed over, signs nothing later (a leaked old key)', async (t) => {
    const { env, oldPub, oldKeyCopy } = await logged();
    t.teardown(env.cleanup);
    t.equal((await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)])).code, 0);
    const a = await env.open();
    for (let i = 0; i < 6; i++) await a.append({ type: 'call.intent', requestId: `n${i}` });
    await a.close();
    const cps = await checkpointsOf(env);
    const at = cps.findIndex((c) => c.nextKeyId !== undefined);
    t.ok(at > 0 && at < cps.length - 1, 'checkpoints after the hand-over');
    const oldPrivate = createPrivateKey(await readFile(oldKeyCopy));
    await resign(env, at + 1, oldPrivate);
    const r = await verifyLog(env.logDir, { publicKeyFile: oldPub });
    t.notOk(r.ok);
    t.match(r.failure?.reason, /which handed over to key .* and signs nothing after it/);
  });
});

t.test('several file sinks: each hands over; the retiring key goes only when all have', async (t) => {
  const env = await auditEnv({
    checkpoint: { everyRecords: 5 },
    sinks: [
      { type: 'file', id: 'a', dir: 'audit' },
      { type: 'file', id: 'b', dir: 'audit-b' },
    ],
  });
  t.teardown(env.cleanup);
  const a = await env.open();
  for (let i = 0; i < 6; i++) await a.append({ type: 'call.intent', requestId: `r${i}` });
  const oldKeyId = a.keyId;
  await a.close();
  const oldPub = path.join(env.dataDir, 'old.pub');
  await copyFile(publicKeyFileFor(env.config.signingKeyFile), oldPub);
  t.equal((await kguard(['audit', 'rotate-signing-key', ...dataDirFlag(env)])).code, 0);
  const retiring = `${env.config.signingKeyFile}.retiring`;

  // Sink b cannot open (its directory is a file): it has not handed over, so the retiring key stays.
  const bDir = path.join(env.dataDir, 'audit-b');
  const moved = path.join(env.dataDir, 'audit-b-away');
  await rename(bDir, moved);
  await writeFile(bDir, 'not a directory');
  const b = await env.open();
  await b.append({ type: 'call.intent', requestId: 'only-a' });
  await b.close();
  t.ok(await exists(retiring), 'kept while sink b has not handed over');
  t.ok((await verifyLog(env.logDir, { publicKeyFile: oldPub })).ok, 'sink a handed over');

  await rm(bDir);
  await rename(moved, bDir);
  const c = await env.open();
  await c.append({ type: 'call.intent', requestId: 'both' });
  await c.close();
  t.notOk(await exists(retiring), 'removed once every file sink handed over');
  for (const dir of [env.logDir, bDir]) {
    const r = await verifyLog(dir, { publicKeyFile: oldPub });
    t.ok(r.ok, `${path.basename(dir)} verifies with the old key: ${r.failure?.reason ?? 'ok'}`);
    t.equal(r.handovers?.[0]?.fromKeyId, oldKeyId);
  }
});
