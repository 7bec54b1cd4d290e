// Per-record durability: 'write' acks once the record is written in chain
// order (no fsync wait), 'fsync' once a group fdatasync covers it; a later
// fsync covers earlier 'write' records; a failed write still rejects; and a
// power loss after a 'write' ack can lose only records past the last fsync.
// The crash part spawns this file as a child (KGUARD_DURABILITY_CHILD=<dataDir>).
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, symlink, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAuditor, parseAuditConfig, type AuditDurability } from '../../proxy/audit/index.js';
import { listLogFiles, logFileName } from '../../proxy/audit/logfiles.js';
import { verifyLog } from '../../proxy/audit/verify.js';

const CHILD_ENV = 'KGUARD_DURABILITY_CHILD';
const childConfig = (dataDir: string) =>
  parseAuditConfig(
    {
      replicaId: 'durability-child',
      // Frequent checkpoints: each must fsync first, or a power loss would leave a signed checkpoint past the log's end.
      checkpoint: { everyRecords: 50, everyMs: 600_000, mirrorDir: 'mirror' },
      sinks: [{ type: 'file' }],
    },
    dataDir,
  );

interface ChildReport {
  acks: { seq: number; durability: AuditDurability; syncedAtAck: number }[];
  writtenSeq: number;
  syncedSeq: number;
}

async function runChild(dataDir: string): Promise<void> {
  const auditor = await createAuditor({ config: childConfig(dataDir), logger: pino({ level: 'silent' }), registry: new Registry() });
  const synced = () => auditor.status()[0]!.syncedSeq!;
  const acks: ChildReport['acks'] = [];
  // 8 callers, orders and queries mixed (75 each), then queries only.
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      const durability: AuditDurability = w % 2 === 0 ? 'fsync' : 'write';
      for (let i = 0; i < 75; i++) {
        const ack = await auditor.append(
          { type: 'call.intent', requestId: `w${w}-${i}`, apiId: durability === 'fsync' ? 'kt10000' : 'ka10001' },
          { durability },
        );
        acks.push({ seq: ack.seq, durability, syncedAtAck: synced() });
      }
    }),
  );
  // A checkpoint fsyncs everything written; the 5 queries after it stay only in the page cache.
  await auditor.checkpointNow();
  for (let i = 0; i < 5; i++) {
    const ack = await auditor.append({ type: 'call.outcome', requestId: `tail${i}`, apiId: 'ka10001' }, { durability: 'write' });
    acks.push({ seq: ack.seq, durability: 'write', syncedAtAck: synced() });
  }
  const { writtenSeq, syncedSeq } = auditor.status()[0]! as { writtenSeq: number; syncedSeq: number };
  process.stdout.write(`${JSON.stringify({ acks, writtenSeq, syncedSeq } satisfies ChildReport)}\n`);
  setInterval(() => undefined, 60_000); // wait for kill -9
}

const childDir = process.env[CHILD_ENV];
if (childDir) {
  await runChild(childDir);
} else {
  const { default: t } = await import('tap');
  const { isGuardError } = await import('../../proxy/common/errors.js');
  const { auditEnv } = await import('../helpers/audit-env.js');

  const lines = async (dir: string) => (await Promise.all((await listLogFiles(dir)).map((f) => readFile(f.path, 'utf8')))).join('').trim().split('\n');

  t.test("'write' resolves without the fsync; a later 'fsync' covers it", async (t) => {
    const env = await auditEnv({ sinks: [{ type: 'file', groupCommitMs: 1000 }], checkpoint: { everyMs: 600_000 } });
    t.teardown(env.cleanup);
    const a = await env.open();
    const base = a.status()[0]!.syncedSeq!;
    const started = Date.now();
    const w1 = await a.append({ type: 'call.intent', requestId: 'q1', apiId: 'ka10001' }, { durability: 'write' });
    const w2 = await a.append({ type: 'call.intent', requestId: 'q2', apiId: 'ka10001' }, { durability: 'write' });
    // The proof is the status below (acked while not yet fsynced); the time is only reported.
    t.comment(`'write' acks took ${Date.now() - started} ms (group commit every 1000 ms)`);
    t.same([w1.seq, w2.seq], [base + 1, base + 2]);
    t.match(a.status()[0], { writtenSeq: w2.seq, syncedSeq: base }, 'written, not yet fsynced');
    t.equal((await lines(env.logDir)).length, w2.seq, 'both lines are in the file at ack time');

    const orderStarted = Date.now();
    const o = await a.append({ type: 'call.intent', requestId: 'o1', apiId: 'kt10000' }, { durability: 'fsync' });
    t.ok(Date.now() - orderStarted >= 900, `'fsync' waits for the group commit (${Date.now() - orderStarted} ms)`);
    t.equal(o.seq, w2.seq + 1);
    t.equal(a.status()[0]!.syncedSeq, o.seq, 'the fsync covers the earlier write records too');
    await a.close();
  });

  // Inline writes (the default) and writes on the thread pool keep the same chain and fail closed the same way.
  for (const write of ['inline', 'pool'] as const) {
    t.test(`mixed durability, write: ${write}: one chain in append order, every fsync ack already synced`, async (t) => {
      const env = await auditEnv({ sinks: [{ type: 'file', write }], checkpoint: { everyRecords: 37 } });
      t.teardown(env.cleanup);
      const a = await env.open();
      const notSynced: number[] = [];
      const acks = await Promise.all(
        Array.from({ length: 300 }, (_, i) => {
          const durability: AuditDurability = i % 3 === 0 ? 'fsync' : 'write';
          return a.append({ type: 'call.intent', requestId: `m${i}` }, { durability }).then((ack) => {
            if (durability === 'fsync' && a.status()[0]!.syncedSeq! < ack.seq) notSynced.push(ack.seq);
            return ack;
          });
        }),
      );
      t.same(
        acks.map((x) => x.seq),
        Array.from({ length: 300 }, (_, i) => i + 1),
        'seq follows append order',
      );
      t.same(notSynced, [], 'no fsync ack before its fdatasync');
      const recorded = (await lines(env.logDir)).map((l) => JSON.parse(l) as { seq: number; hash: string; data: { requestId: string } });
      t.same(
        recorded.map((r) => r.data.requestId),
        Array.from({ length: 300 }, (_, i) => `m${i}`),
        'lines in chain order',
      );
      t.same(
        recorded.map((r) => r.hash),
        acks.map((x) => x.hash),
      );
      await a.close();
      const report = await verifyLog(env.logDir, { publicKeyFile: path.join(env.dataDir, 'audit-signing.pub') });
      t.ok(report.ok, report.failure?.reason ?? 'the log verifies');
      t.equal(report.uncoveredRecords, 0);
    });
  }

  t.test('group commit at its default (no delay): a lone fsync record waits for one fsync; records written meanwhile share one', async (t) => {
    const env = await auditEnv({ checkpoint: { everyMs: 600_000, everyRecords: 100_000 } });
    t.teardown(env.cleanup);
    const a = await env.open();
    const fsyncs = async () => {
      const m = (await env.registry.getSingleMetric('kguard_audit_fsync_seconds')!.get()).values;
      return m.find((v) => (v as { metricName?: string }).metricName === 'kguard_audit_fsync_seconds_count')?.value ?? 0;
    };
    const before = await fsyncs();
    const lone = await a.append({ type: 'call.intent', requestId: 'lone' }, { durability: 'fsync' });
    t.equal(a.status()[0]!.syncedSeq, lone.seq, 'acked once synced');
    t.equal((await fsyncs()) - before, 1, 'one fsync for one record');
    const mid = await fsyncs();
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => a.append({ type: 'call.intent', requestId: `g${i}` }, { durability: 'fsync' })));
    const used = (await fsyncs()) - mid;
    t.ok(used >= 1 && used < 200, `200 records, ${used} fsyncs`);
    t.equal(a.status()[0]!.syncedSeq, acks.at(-1)!.seq);
    await a.close();
  });

  t.test("inline: a turn's first record is written at once, the rest of the turn share one write", async (t) => {
    const env = await auditEnv({ checkpoint: { everyMs: 600_000, everyRecords: 100_000 } });
    t.teardown(env.cleanup);
    const a = await env.open();
    await new Promise((r) => setImmediate(r)); // a fresh turn
    let turnEnded = false;
    setImmediate(() => {
      turnEnded = true;
    });
    const first = await a.append({ type: 'call.intent', requestId: 'now' }, { durability: 'write' });
    t.notOk(turnEnded, 'acknowledged within the turn it was appended in');
    t.equal((await lines(env.logDir)).length, first.seq, 'and in the file');
    const rest = await Promise.all(Array.from({ length: 20 }, (_, i) => a.append({ type: 'call.intent', requestId: `r${i}` }, { durability: 'write' })));
    t.same(
      rest.map((x) => x.seq),
      Array.from({ length: 20 }, (_, i) => first.seq + 1 + i),
      'in chain order',
    );
    const batches = (await env.registry.getSingleMetric('kguard_audit_batch_records')!.get()).values;
    const count = batches.find((v) => (v as { metricName?: string }).metricName === 'kguard_audit_batch_records_count')?.value ?? 0;
    t.ok(count <= 4, `21 records in ${count} writes`);
    await a.close();
  });

  t.test('bad durability is refused and changes nothing; the config default applies', async (t) => {
    const env = await auditEnv({ durability: { default: 'write' }, sinks: [{ type: 'file', groupCommitMs: 1000 }], checkpoint: { everyMs: 600_000 } });
    t.teardown(env.cleanup);
    const a = await env.open();
    const err = await a.append({ type: 'call.intent' }, { durability: 'maybe' as AuditDurability }).catch((e: unknown) => e);
    t.ok(isGuardError(err) && err.code === 'KG6002', 'KG6002');
    t.match(a.status()[0], { writtenSeq: 0 });
    const ack = await a.append({ type: 'call.intent' });
    t.equal(ack.seq, 1);
    // Acked while not yet fsynced: the config's 'write', not the built-in 'fsync' (which waits for the group commit).
    t.match(a.status()[0], { writtenSeq: 1, syncedSeq: 0 }, 'default durability write from config');
    t.throws(() => parseAuditConfig({ durability: { default: 'eventually' } }, '/d'), /audit\.durability\.default: must be one of fsync, write/);
    t.throws(() => parseAuditConfig({ durability: 'write' }, '/d'), /audit\.durability: must be an object/);
    t.equal(parseAuditConfig(undefined, '/d').durability.default, 'fsync');
  });

  for (const write of ['inline', 'pool'] as const) {
    t.test(`write: ${write}: a failed write still rejects a 'write' append (fail closed)`, async (t) => {
      const env = await auditEnv({ sinks: [{ type: 'file', rotateBytes: 4096, write }] });
      t.teardown(env.cleanup);
      const a = await env.open();
      let seq = 0;
      // Fill the first file past rotateBytes; the next record rotates into a file that cannot take it.
      for (;;) {
        seq = (await a.append({ type: 'call.intent', pad: 'x'.repeat(200) }, { durability: 'write' })).seq;
        if ((await stat(path.join(env.logDir, logFileName(1)))).size >= 4096) break;
      }
      await symlink('/dev/full', path.join(env.logDir, logFileName(seq + 1)));
      const err = await a.append({ type: 'call.intent', requestId: 'lost' }, { durability: 'write' }).catch((e: unknown) => e);
      t.ok(isGuardError(err) && err.code === 'KG6001', `rejected with KG6001 (${String(err)})`);
      t.match(a.status()[0], { up: false });
      await t.rejects(a.health(), { code: 'KG6001' });
    });
  }

  t.test("kill -9 keeps every 'write' record; a power loss loses only what was not fsynced", async (t) => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-audit-durability-'));
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
    const logDir = path.join(dataDir, 'audit');
    const opts = { publicKeyFile: path.join(dataDir, 'audit-signing.pub'), checkpointSources: [path.join(dataDir, 'mirror')] };
    await mkdir(dataDir, { recursive: true });

    const report = await new Promise<ChildReport>((resolve, reject) => {
      const self = fileURLToPath(import.meta.url);
      const proc = spawn(process.execPath, [...process.execArgv, self], {
        env: { ...process.env, [CHILD_ENV]: dataDir },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      let parsed: ChildReport | undefined;
      const guard = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.startsWith('{"acks"'));
        if (line && !parsed) {
          parsed = JSON.parse(line) as ChildReport;
          proc.kill('SIGKILL');
        }
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(guard);
        if (parsed && signal === 'SIGKILL') resolve(parsed);
        else reject(new Error(`child exited (code ${code}, signal ${signal}) without its report`));
      });
    });

    const fsyncAcks = report.acks.filter((a) => a.durability === 'fsync');
    const writeAcks = report.acks.filter((a) => a.durability === 'write');
    t.same([fsyncAcks.length, writeAcks.length], [300, 305], 'both kinds were acknowledged');
    t.same(
      fsyncAcks.filter((a) => a.syncedAtAck < a.seq),
      [],
      'every fsync ack came after an fdatasync covering it',
    );
    t.equal(report.writtenSeq, 605);
    // What a power loss may take: everything after the last fsync ack (a later
    // group fsync may or may not have covered the 'write' tail by the kill).
    const durableSeq = Math.max(...fsyncAcks.map((a) => a.seq));
    t.equal(durableSeq, 600);
    t.ok(report.syncedSeq >= durableSeq, 'the fsync acks are durable');

    // kill -9: the page cache survives, so every acknowledged record is there, in order.
    const afterKill = await verifyLog(logDir, opts);
    t.ok(afterKill.ok, afterKill.failure?.reason ?? 'the log verifies');
    t.equal(afterKill.lastSeq, report.writtenSeq, "every 'write' ack survives a process crash");
    const seqs = (await lines(logDir)).map((l) => (JSON.parse(l) as { seq: number }).seq);
    t.same(
      seqs,
      Array.from({ length: report.writtenSeq }, (_, i) => i + 1),
      'in chain order',
    );

    // Power loss: the disk keeps what was fdatasynced, plus perhaps a torn piece of the next write.
    const files = await listLogFiles(logDir);
    t.equal(files.length, 1);
    const text = await readFile(files[0]!.path, 'utf8');
    const all = text.split('\n');
    const keptBytes = Buffer.byteLength(`${all.slice(0, durableSeq).join('\n')}\n`);
    await truncate(files[0]!.path, keptBytes);
    await appendFile(files[0]!.path, all[durableSeq]!.slice(0, 40));
    const lost = report.acks.filter((a) => a.seq > durableSeq);
    t.equal(lost.length, 5);
    t.ok(
      lost.every((a) => a.durability === 'write'),
      "only 'write' records are lost",
    );

    // Restart: signed checkpoints never cover unsynced records, so the chain resumes after a sealed torn tail.
    const config = parseAuditConfig({ replicaId: 'restarted', checkpoint: { mirrorDir: 'mirror' } }, dataDir);
    const auditor = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
    const ack = await auditor.append({ type: 'incident', note: 'after power loss' });
    t.equal(ack.seq, durableSeq + 2, 'resumes after the recovery record sealing the torn write');
    await auditor.close();
    const final = await verifyLog(logDir, opts);
    t.ok(final.ok, final.failure?.reason ?? 'the log verifies');
    t.equal(final.lastSeq, ack.seq);
  });
}
