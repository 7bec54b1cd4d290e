// Review regression: a compliance officer handed a copy of the log without its
// checkpoints.jsonl (an export of the audit-*.jsonl files) ran `verify` with
// the public key they trust and read VERIFIED, exit 0, "signing key …", for a
// log in which an order's quantity had been edited and every hash after it
// recomputed: nothing in it was signed, so nothing proved it was the
// sidecar's. A log that no signed checkpoint covers now fails, saying so.
import t from 'tap';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { chainRecord, GENESIS_HASH } from '../../proxy/audit/record.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { kguardInProcess } from '../cli/run-cli.js';
import { buildLog, logFilePaths, readLinesOf, writeLinesOf } from '../helpers/audit-log.js';

t.test('an export without its checkpoints, edited and re-chained, does not verify', async (t) => {
  const log = await buildLog(30);
  t.teardown(log.env.cleanup);
  const intact = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile });
  t.ok(intact.ok, intact.failure?.reason ?? 'the untouched log verifies');

  await rm(path.join(log.dir, 'checkpoints.jsonl'));
  const [file] = await logFilePaths(log.dir);
  // The insider's edit: record 12's quantity, and every record's prev/hash recomputed from there on.
  const lines = await readLinesOf(file!);
  let head = { seq: 0, hash: GENESIS_HASH };
  const edited = lines.map((line) => {
    const r = JSON.parse(line) as Record<string, any>;
    if (r.seq === 12) r.data.body.ord_qty = '9999';
    const { record, line: out } = chainRecord({ ts: r.ts, replica: r.replica, type: r.type, data: r.data }, r.sink, head);
    head = { seq: record.seq, hash: record.hash };
    return out.slice(0, -1);
  });
  await writeLinesOf(file!, edited);

  const r = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile });
  t.notOk(r.ok, 'not verified: no signature covers any record');
  t.match(r.failure?.reason, /no signed checkpoint/);
  t.equal(r.checkpoints, 0);

  const cli = await kguardInProcess(['audit', 'verify', log.dir, '--public-key', log.publicKeyFile]);
  t.equal(cli.code, 1, 'kguard audit verify exits 1');
  t.match(cli.stdout, /^FAILED/m);
  t.notMatch(cli.stdout, /VERIFIED/);
});

t.test('an empty-of-checkpoints copy of an untouched log fails the same way (nothing signed, nothing proven)', async (t) => {
  const log = await buildLog(5);
  t.teardown(log.env.cleanup);
  await rm(path.join(log.dir, 'checkpoints.jsonl'));
  const r = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile });
  t.notOk(r.ok);
  t.match(r.failure?.reason, /5 record\(s\)/);
  // Given the independent copy, the same log verifies: the copy's signatures cover it.
  const withMirror = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, checkpointSources: [log.mirrorDir] });
  t.ok(withMirror.ok, withMirror.failure?.reason ?? 'verified against the mirror');
});
