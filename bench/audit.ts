// Audit benchmark: append throughput with fsync per record vs group commit
// (and no fsync) in the same run, reported as ratios; append latency p50/p99
// for durability 'write' vs 'fsync' at 1 and 8 callers (and 8 mixed callers,
// as the pipeline uses them); verify speed over a large log.
// Run: npm run build && node dist/bench/audit.js [records=1000000] (0 skips verify)
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAuditor, parseAuditConfig, type AuditDurability, type FsyncMode } from '../proxy/audit/index.js';
import { verifyLog } from '../proxy/audit/verify.js';

const VERIFY_RECORDS = Number(process.argv[2] ?? 1_000_000);
const APPEND_SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 2);

function event(i: number) {
  return {
    type: 'call.intent' as const,
    requestId: `req-${i}`,
    botId: 'bot-bench',
    apiId: 'kt10000',
    accountNo: '5012345678',
    body: { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '10', ord_uv: '70000', trde_tp: '0' },
  };
}

async function appendRate(fsync: FsyncMode, concurrency: number): Promise<number> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-audit-'));
  try {
    const config = parseAuditConfig({ replicaId: 'bench', sinks: [{ type: 'file', fsync }] }, dataDir);
    const a = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
    let n = 0;
    const deadline = Date.now() + APPEND_SECONDS * 1000;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) await a.append(event(n++));
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await a.close();
    return n / seconds;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface LatencyResult {
  readonly label: string;
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function summarize(label: string, samples: number[]): LatencyResult {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { label, count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1] ?? NaN };
}

/**
 * Append latency on the default config (group commit). `durabilityOf(worker)`
 * picks each caller's durability, so one run can mix orders ('fsync') with
 * queries ('write') the way the pipeline does.
 */
async function appendLatency(callers: number, durabilityOf: (worker: number) => AuditDurability, paceMs = 0): Promise<Map<AuditDurability, number[]>> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-audit-lat-'));
  try {
    const config = parseAuditConfig({ replicaId: 'bench', sinks: [{ type: 'file' }] }, dataDir);
    const a = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
    const samples = new Map<AuditDurability, number[]>([
      ['write', []],
      ['fsync', []],
    ]);
    let n = 0;
    const deadline = Date.now() + LATENCY_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: callers }, async (_, w) => {
        const durability = durabilityOf(w);
        const into = samples.get(durability)!;
        // Paced callers start staggered and issue one append every paceMs (open loop, moderate load).
        if (paceMs > 0) await sleep((paceMs * w) / callers);
        while (Date.now() < deadline) {
          const started = process.hrtime.bigint();
          await a.append(event(n++), { durability });
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          into.push(ms);
          if (paceMs > ms) await sleep(paceMs - ms);
        }
      }),
    );
    await a.close();
    return samples;
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
    const report = await verifyLog(path.join(dataDir, 'audit'), {
      publicKeyFile: path.join(dataDir, 'audit-signing.pub'),
      onProgress: (p) => {
        bytes = p.bytesTotal;
      },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (!report.ok) throw new Error(`verify failed: ${report.failure?.reason}`);
    return { seconds, records: report.records, bytes };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const latency: LatencyResult[] = [];
for (const callers of [1, 8]) {
  for (const durability of ['write', 'fsync'] as const) {
    latency.push(summarize(`${durability}, ${callers} caller${callers > 1 ? 's' : ''}`, (await appendLatency(callers, () => durability)).get(durability)!));
  }
}
// 8 callers, half orders (fsync) and half queries (write), on one sink.
const mixed = await appendLatency(8, (w) => (w % 2 === 0 ? 'fsync' : 'write'));
latency.push(summarize('write, 8 mixed (4 fsync + 4 write)', mixed.get('write')!), summarize('fsync, 8 mixed (4 fsync + 4 write)', mixed.get('fsync')!));
// Moderate load: the same mix paced to ~800 appends/s in all (one every 10 ms per caller).
const paced = await appendLatency(8, (w) => (w % 2 === 0 ? 'fsync' : 'write'), 10);
latency.push(summarize('write, 8 mixed paced (~800/s)', paced.get('write')!), summarize('fsync, 8 mixed paced (~800/s)', paced.get('fsync')!));
console.log(`append latency, group commit (groupCommitMs 2), ${LATENCY_SECONDS} s each:`);
for (const r of latency)
  console.log(`  ${r.label.padEnd(36)} p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  max ${r.maxMs.toFixed(1)} ms  (${r.count} appends)`);

const always = await appendRate('always', CONCURRENCY);
const group = await appendRate('group', CONCURRENCY);
const none = await appendRate('none', CONCURRENCY);
const single = await appendRate('group', 1);
console.log(`append, ${CONCURRENCY} concurrent callers, ${APPEND_SECONDS} s each:`);
console.log(`  fsync per record (always): ${always.toFixed(0)} records/s`);
console.log(`  group commit (group):      ${group.toFixed(0)} records/s  (${(group / always).toFixed(1)}x fsync-per-record)`);
console.log(`  no fsync (none):           ${none.toFixed(0)} records/s  (group commit = ${((group / none) * 100).toFixed(0)}% of no-fsync)`);
console.log(`  group commit, 1 caller:    ${single.toFixed(0)} records/s (latency-bound: one fsync per call)`);
if (VERIFY_RECORDS > 0) {
  const v = await verifySpeed(VERIFY_RECORDS);
  console.log(
    `verify: ${v.records} records, ${(v.bytes / 1048576).toFixed(0)} MiB in ${v.seconds.toFixed(1)} s (${(v.records / v.seconds).toFixed(0)} records/s)`,
  );
}
