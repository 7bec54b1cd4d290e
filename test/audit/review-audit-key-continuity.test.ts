// Review regression: the audit keys must outlive the process that writes the
// log. With the signing key file gone (a lost volume, a wrong path in a new
// config), the sidecar minted a new key, overwrote audit-signing.pub beside it
// and kept forwarding calls: every checkpoint from then on was signed by a key
// no auditor holds, and `verify --public-key TRUSTED` failed the log for good.
// A lost HMAC key was replaced the same way, so earlier records' keyed hashes
// could no longer be searched for. Now the sidecar refuses to start (KG6003)
// and says which key the log needs.
import { copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { generateSigningKeyFiles, publicKeyFileFor } from '../../proxy/audit/keys.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { auditEnv, type AuditEnv } from '../helpers/audit-env.js';

const exists = (file: string) =>
  readFile(file).then(
    () => true,
    () => false,
  );

/** A log with records and signed checkpoints, its keys as the sidecar created them, and an auditor's copy of the public key. */
async function loggedEnv(): Promise<{ env: AuditEnv; trusted: string; keyId: string }> {
  const env = await auditEnv({ checkpoint: { everyRecords: 5 } });
  const a = await env.open();
  for (let i = 0; i < 12; i++) await a.append({ type: 'call.intent', requestId: `r${i}`, accountNo: '5012345678' });
  const keyId = a.keyId;
  await a.close();
  const trusted = path.join(env.dataDir, 'trusted.pub');
  await copyFile(publicKeyFileFor(env.config.signingKeyFile), trusted);
  return { env, trusted, keyId };
}

t.test('a missing signing key is not replaced by a new one while the log has signed checkpoints', async (t) => {
  const { env, trusted, keyId } = await loggedEnv();
  t.teardown(env.cleanup);
  await rm(env.config.signingKeyFile);
  const err = await env.open().then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  t.equal(err?.code, 'KG6003', `refused with KG6003: ${err?.message}`);
  t.match(err?.message, /audit-signing\.key is missing/, 'names the missing key file');
  t.match(err?.message, new RegExp(keyId), 'names the key the log was signed with');
  t.notOk(await exists(env.config.signingKeyFile), 'no new key was minted');
  t.equal(await readFile(publicKeyFileFor(env.config.signingKeyFile), 'utf8'), await readFile(trusted, 'utf8'), 'the .pub beside the key is untouched');
  const r = await verifyLog(env.logDir, { publicKeyFile: trusted });
  t.ok(r.ok, `the log still verifies against the auditors' key: ${r.failure?.reason ?? 'ok'}`);
});

t.test('another signing key in place of the log’s own is refused before anything is signed with it', async (t) => {
  const { env, trusted, keyId } = await loggedEnv();
  t.teardown(env.cleanup);
  const other = path.join(env.dataDir, 'other', 'audit-signing.key');
  await generateSigningKeyFiles(other);
  await copyFile(other, env.config.signingKeyFile);
  const err = await env.open().then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  t.equal(err?.code, 'KG6003', `refused with KG6003: ${err?.message}`);
  t.match(err?.message, new RegExp(`signed by key ${keyId}`), 'names the key the log was signed with');
  t.equal(await readFile(publicKeyFileFor(env.config.signingKeyFile), 'utf8'), await readFile(trusted, 'utf8'), 'the .pub beside the key is untouched');
});

t.test('a missing HMAC key is not replaced by a new one while the log holds records', async (t) => {
  const { env } = await loggedEnv();
  t.teardown(env.cleanup);
  await rm(env.config.hmacKeyFile);
  const err = await env.open().then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  t.equal(err?.code, 'KG6003', `refused with KG6003: ${err?.message}`);
  t.match(err?.message, /audit-hmac\.key is missing/, 'names the missing key file');
  t.notOk(await exists(env.config.hmacKeyFile), 'no new key was minted');
});

t.test('a fresh data dir still gets its keys on first run', async (t) => {
  const env = await auditEnv();
  t.teardown(env.cleanup);
  const a = await env.open();
  await a.append({ type: 'call.intent', requestId: 'first' });
  await a.close();
  t.ok(await exists(env.config.signingKeyFile));
  t.ok(await exists(env.config.hmacKeyFile));
});
