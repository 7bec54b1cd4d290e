// Every way an insider might edit the log must be caught by verify.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { canonicalJson } from '../../proxy/audit/canonical.js';
import { signCheckpoint, type Checkpoint } from '../../proxy/audit/checkpoint.js';
import { merkleRoot } from '../../proxy/audit/merkle.js';
import { chainRecord, GENESIS_HASH, type AuditRecord } from '../../proxy/audit/record.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { buildLog, editRecord, logFilePaths, readLinesOf, writeLinesOf } from '../helpers/audit-log.js';

async function verifyBuilt(log: Awaited<ReturnType<typeof buildLog>>, extra: { mirror?: boolean } = {}) {
  return verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, ...(extra.mirror === false ? {} : { checkpointSources: [log.mirrorDir] }) });
}

t.test('an untouched log verifies', async (t) => {
  const log = await buildLog(100);
  t.teardown(log.env.cleanup);
  const r = await verifyBuilt(log);
  t.ok(r.ok, r.failure?.reason ?? 'the log verifies');
  t.equal(r.records, 100);
  t.equal(r.lastSeq, 100);
  t.equal(r.uncoveredRecords, 0);
  t.ok(r.checkpoints >= 4, `${r.checkpoints} checkpoints`);
});

t.test('editing a field is caught at that record', async (t) => {
  const log = await buildLog(60);
  t.teardown(log.env.cleanup);
  const [file] = await logFilePaths(log.dir);
  await editRecord(file!, 24, (r) => {
    r.data.apiId = 'kt10001';
  });
  const r = await verifyBuilt(log);
  t.notOk(r.ok);
  t.equal(r.failure?.seq, 25);
  t.match(r.failure?.reason, /hash does not match|unreadable/);
});

t.test('editing a field and fixing up its hash breaks the next link', async (t) => {
  const log = await buildLog(60);
  t.teardown(log.env.cleanup);
  const [file] = await logFilePaths(log.dir);
  await editRecord(file!, 21, (r) => {
    r.data.apiId = 'kt10001';
    const { hash: _h, ...rest } = r;
    r.hash = createHash('sha256').update(canonicalJson(rest)).digest('hex');
  });
  const r = await verifyBuilt(log);
  t.notOk(r.ok);
  // Caught at the next record's link, or at the edited record if a checkpoint pins it.
  t.ok(r.failure?.seq === 23 || r.failure?.seq === 22, `failure at seq ${r.failure?.seq}`);
  t.match(r.failure?.reason, /prev hash|signed checkpoint/);
});

t.test('deleting a record is caught as a gap', async (t) => {
  const log = await buildLog(60);
  t.teardown(log.env.cleanup);
  const [file] = await logFilePaths(log.dir);
  const lines = await readLinesOf(file!);
  lines.splice(30, 1);
  await writeLinesOf(file!, lines);
  const r = await verifyBuilt(log);
  t.notOk(r.ok);
  t.equal(r.failure?.seq, 32);
  t.match(r.failure?.reason, /seq gap: records 31\.\.31/);
});

t.test('deleting the last K records is caught by the checkpoints', async (t) => {
  for (const k of [1, 7, 30]) {
    const log = await buildLog(60);
    const [file] = await logFilePaths(log.dir);
    const lines = await readLinesOf(file!);
    await writeLinesOf(file!, lines.slice(0, lines.length - k));
    const r = await verifyBuilt(log);
    t.notOk(r.ok, `k=${k}`);
    t.match(r.failure?.reason, /truncated|removed/, `k=${k}`);
    // The insider also trims the local checkpoint file: the mirror still knows.
    const cpFile = path.join(log.dir, 'checkpoints.jsonl');
    const cps = (await readLinesOf(cpFile)).filter((l) => (JSON.parse(l) as Checkpoint).seq <= 60 - k);
    await writeLinesOf(cpFile, cps);
    const r2 = await verifyBuilt(log);
    t.notOk(r2.ok, `k=${k} with trimmed local checkpoints`);
    t.match(r2.failure?.reason, /truncated|removed/);
    await log.env.cleanup();
  }
});

t.test('swapping two records is caught', async (t) => {
  const log = await buildLog(40);
  t.teardown(log.env.cleanup);
  const [file] = await logFilePaths(log.dir);
  const lines = await readLinesOf(file!);
  [lines[10], lines[11]] = [lines[11]!, lines[10]!];
  await writeLinesOf(file!, lines);
  const r = await verifyBuilt(log);
  t.notOk(r.ok);
  t.equal(r.failure?.seq, 12);
  t.match(r.failure?.reason, /gap|reordered/);
});

t.test('rotation keeps one chain, and deleting a rotated file is caught', async (t) => {
  const log = await buildLog(200, { sinks: [{ type: 'file', rotateBytes: 4096 }] });
  t.teardown(log.env.cleanup);
  const files = await logFilePaths(log.dir);
  t.ok(files.length >= 5, `rotated into ${files.length} files`);
  const ok = await verifyBuilt(log);
  t.ok(ok.ok, ok.failure?.reason ?? 'the log verifies');
  t.equal(ok.records, 200);

  const saved = await readFile(files[2]!);
  await rm(files[2]!);
  const middle = await verifyBuilt(log);
  t.notOk(middle.ok);
  t.match(middle.failure?.reason, /seq gap/);
  await writeFile(files[2]!, saved);

  const firstSaved = await readFile(files[0]!);
  await rm(files[0]!);
  const first = await verifyBuilt(log);
  t.notOk(first.ok);
  t.match(first.failure?.reason, /records 1\.\.\d+ are missing|not the one the checkpoints/);
  await writeFile(files[0]!, firstSaved);

  await rm(files[files.length - 1]!);
  const newest = await verifyBuilt(log);
  t.notOk(newest.ok);
  t.match(newest.failure?.reason, /truncated|removed/);
});

t.test('rewriting and re-chaining the tail without the signing key is caught', async (t) => {
  const log = await buildLog(60);
  t.teardown(log.env.cleanup);
  const [file] = await logFilePaths(log.dir);
  const lines = await readLinesOf(file!);
  const keep = 20;
  const kept = lines.slice(0, keep);
  const last = JSON.parse(kept[keep - 1]!) as AuditRecord;
  let head = { seq: last.seq, hash: last.hash };
  const forged: string[] = [];
  const forgedRecords: AuditRecord[] = [];
  for (const line of lines.slice(keep)) {
    const r = JSON.parse(line) as AuditRecord;
    const data = { ...r.data, apiId: 'kt10003' };
    const { record, line: out } = chainRecord({ ts: r.ts, replica: r.replica, type: r.type, data }, r.sink, head);
    forged.push(out.slice(0, -1));
    forgedRecords.push(record);
    head = { seq: record.seq, hash: record.hash };
  }
  await writeLinesOf(file!, [...kept, ...forged]);
  const r = await verifyBuilt(log);
  t.notOk(r.ok);
  t.ok((r.failure?.seq ?? 0) > keep, 'caught at the first checkpoint after the forged start');
  t.match(r.failure?.reason, /signed checkpoint/);

  // Even re-signing the checkpoints with a key of their own does not help.
  const { privateKey } = generateKeyPairSync('ed25519');
  const cpFile = path.join(log.dir, 'checkpoints.jsonl');
  const cps = (await readLinesOf(cpFile)).map((l) => JSON.parse(l) as Checkpoint);
  const all = [...kept.map((l) => JSON.parse(l) as AuditRecord), ...forgedRecords];
  const resigned = cps.map((cp) => {
    const hashes = all.filter((x) => x.seq >= cp.fromSeq && x.seq <= cp.seq).map((x) => x.hash);
    const { sig: _s, ...body } = cp;
    return canonicalJson(signCheckpoint({ ...body, head: hashes[hashes.length - 1]!, root: merkleRoot(hashes) }, privateKey));
  });
  await writeLinesOf(cpFile, resigned);
  const r2 = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile });
  t.notOk(r2.ok);
  t.match(r2.failure?.reason, /invalid signature/);
});

t.test('a log replaced wholesale by a fresh chain is caught against the checkpoints', async (t) => {
  const log = await buildLog(30);
  t.teardown(log.env.cleanup);
  const [file] = await logFilePaths(log.dir);
  let head = { seq: 0, hash: GENESIS_HASH };
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    const { record, line } = chainRecord({ ts: new Date().toISOString(), replica: 'test-replica', type: 'call.intent', data: { i } }, 'file', head);
    head = { seq: record.seq, hash: record.hash };
    lines.push(line.slice(0, -1));
  }
  await writeLinesOf(file!, lines);
  const r = await verifyBuilt(log);
  t.notOk(r.ok);
  t.match(r.failure?.reason, /not the one the checkpoints were made for/);
});

t.test('a deleted checkpoint line is caught by the tiling check', async (t) => {
  const log = await buildLog(100);
  t.teardown(log.env.cleanup);
  const cpFile = path.join(log.dir, 'checkpoints.jsonl');
  const cps = await readLinesOf(cpFile);
  t.ok(cps.length >= 3);
  cps.splice(1, 1);
  await writeLinesOf(cpFile, cps);
  const r = await verifyBuilt(log, { mirror: false });
  t.notOk(r.ok);
  t.match(r.failure?.reason, /do not tile/);
});
