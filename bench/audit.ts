// Audit benchmark: append throughput with fsync per record vs group commit
// (and no fsync) in the same run, reported as ratios, and verify speed over a
// large log. Run: npm run build && node dist/bench/audit.js [records=1000000]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAuditor, parseAuditConfig, type FsyncMode } from '../proxy/audit/index.js';
import { verifyLog } from '../proxy/audit/verify.js';

const VERIFY_RECORDS = Number(process.argv[2] ?? 1_000_000);
const APPEND_SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);

function event(i: number) {
  return { type: 'call.intent' as const, requestId: `req-${i}`, botId: 'bot-bench', apiId: 'kt10000', accountNo: '5012345678', body: { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '70000', trde_tp: '0' } };
}

async function appendRate(fsync: FsyncMode, concurrency: number): Promise<number> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-audit-'));
  try {
    const config = parseAuditConfig({ replicaId: 'bench', sinks: [{ type: 'file', fsync }] }, dataDir);
    const a = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
    let n = 0;
    const deadline = Date.now() + APPEND_SECONDS * 1000;
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) await a.append(event(n++));
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await a.close();
    return n / seconds;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function verifySpeed(records: number): Promise<{ seconds: number; records: number; bytes: number }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-verify-'));
  try {
    const config = parseAuditConfig({ replicaId: 'bench', sinks: [{ type: 'file', fsync: 'none' }] }, dataDir);
    const a = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
    for (let i = 0; i < records; i += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, records - i) }, (_, j) => a.append(event(i + j))));
    }
    await a.close();
    const started = process.hrtime.bigint();
    let bytes = 0;
    const report = await verifyLog(path.join(dataDir, 'audit'), { publicKeyFile: path.join(dataDir, 'audit-signing.pub'), onProgress: (p) => { bytes = p.bytesTotal; } });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (!report.ok) throw new Error(`verify failed: ${report.failure?.reason}`);
    return { seconds, records: report.records, bytes };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const always = await appendRate('always', CONCURRENCY);
const group = await appendRate('group', CONCURRENCY);
const none = await appendRate('none', CONCURRENCY);
const single = await appendRate('group', 1);
console.log(`append, ${CONCURRENCY} concurrent callers, ${APPEND_SECONDS} s each:`);
console.log(`  fsync per record (always): ${always.toFixed(0)} records/s`);
console.log(`  group commit (group):      ${group.toFixed(0)} records/s  (${(group / always).toFixed(1)}x fsync-per-record)`);
console.log(`  no fsync (none):           ${none.toFixed(0)} records/s  (group commit = ${((group / none) * 100).toFixed(0)}% of no-fsync)`);
console.log(`  group commit, 1 caller:    ${single.toFixed(0)} records/s (latency-bound: one fsync per call)`);
const v = await verifySpeed(VERIFY_RECORDS);
console.log(`verify: ${v.records} records, ${(v.bytes / 1048576).toFixed(0)} MiB in ${v.seconds.toFixed(1)} s (${(v.records / v.seconds).toFixed(0)} records/s)`);
