// Review regression: the independent checkpoint copy must vouch for the log
// it is checked against. An insider who replaces the whole log by a fresh
// chain of their own and deletes checkpoints.jsonl beside it left `verify
// --checkpoints MIRROR` saying VERIFIED (a warning only): the log's first
// record named the chain, and the mirror's checkpoints, all of the real
// chain, were set aside as another chain's.
import t from 'tap';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { chainRecord, GENESIS_HASH } from '../../proxy/audit/record.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { buildLog, logFilePaths, writeLinesOf } from '../helpers/audit-log.js';

t.test('a log replaced by a fresh chain, its checkpoints.jsonl deleted, fails against the independent copy', async (t) => {
  const log = await buildLog(30);
  t.teardown(log.env.cleanup);
  const intact = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, checkpointSources: [log.mirrorDir] });
  t.ok(intact.ok, intact.failure?.reason ?? 'the untouched log verifies against the mirror');

  const [file] = await logFilePaths(log.dir);
  let head = { seq: 0, hash: GENESIS_HASH };
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    const { record, line } = chainRecord({ ts: new Date().toISOString(), replica: 'test-replica', type: 'call.intent', data: { i } }, 'file', head);
    head = { seq: record.seq, hash: record.hash };
    lines.push(line.slice(0, -1));
  }
  await writeLinesOf(file!, lines);
  await rm(path.join(log.dir, 'checkpoints.jsonl'));

  const r = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, checkpointSources: [log.mirrorDir] });
  t.notOk(r.ok, 'not verified');
  t.match(r.failure?.reason, /no.*signed checkpoint of this log's chain|hold a signed checkpoint of this log's chain/);

  // Without an independent copy it fails too: no signature covers any of its records (review-audit-verify-unsigned).
  const alone = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile });
  t.notOk(alone.ok);
  t.match(alone.failure?.reason, /checkpoints\.jsonl holds no signed checkpoint of this log's chain/);
});
