// After a signing-key rotation the newest checkpoint, until the new key signs
// one, is the hand-over, signed by the old key; the ones before it in the
// dashboard's window are too. The dashboard called them 'other-key' and the
// chain not intact: a false alarm after every rotation (overnight, when no
// records come, until the next morning). A hand-over to the key in use,
// validly signed by an earlier key of this sidecar (its key history), now
// counts, and so do the old key's checkpoints up to it; a hand-over signed by
// any other key still does not.
import { generateKeyPairSync } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { checkCheckpoints, readAuditTail } from '../../proxy/admin/dashboard/audit-tail.js';
import { canonicalJson } from '../../proxy/audit/canonical.js';
import { signCheckpoint, type Checkpoint } from '../../proxy/audit/checkpoint.js';
import { publicKeyId, publicKeyPem } from '../../proxy/audit/keys.js';
import { main } from '../../proxy/cli/index.js';
import { auditEnv } from '../helpers/audit-env.js';

const quiet = () => ({ stdin: Readable.from([]), stdout: new PassThrough(), stderr: new PassThrough(), env: {} });

t.test('the dashboard follows a hand-over to the key in use', async (t) => {
  const env = await auditEnv({ checkpoint: { everyRecords: 5 } });
  t.teardown(env.cleanup);
  const a = await env.open();
  for (let i = 0; i < 12; i++) await a.append({ type: 'call.intent', requestId: `r${i}` });
  await a.close();
  t.equal(await main(['audit', 'rotate-signing-key', '--data-dir', env.dataDir], quiet()), 0, 'rotated');
  const b = await env.open(); // hands over; no record after it yet
  const cpFile = path.join(env.logDir, 'checkpoints.jsonl');
  const lines = (await readFile(cpFile, 'utf8')).trim().split('\n');
  const handover = JSON.parse(lines[lines.length - 1]!) as Checkpoint;
  t.equal(handover.nextKeyId, b.keyId, 'the newest checkpoint is the hand-over');

  const tail = await readAuditTail(env.logDir, 1 << 20);
  const c = await checkCheckpoints(env.logDir, b, tail);
  t.equal(c.newest?.signature, 'handed-over', 'the hand-over is recognised');
  t.notOk(c.problem, `no problem reported: ${c.problem?.reason ?? 'none'}`);

  // A "hand-over" to the key in use signed by a key that is not one of the sidecar's: still a problem.
  const evil = generateKeyPairSync('ed25519');
  const { sig: _sig, ...body } = handover;
  const forged = signCheckpoint(
    { ...body, seq: handover.seq, keyId: publicKeyId(evil.publicKey), nextKeyId: b.keyId, nextPublicKey: publicKeyPem(evil.publicKey) },
    evil.privateKey,
  );
  await appendFile(cpFile, `${canonicalJson(forged)}\n`);
  const f = await checkCheckpoints(env.logDir, b, tail);
  t.equal(f.newest?.signature, 'other-key', 'a hand-over by a foreign key is not');
  t.ok(f.problem, 'and is reported');
  await b.close();
});
