// `npm run bench`: the foundation benchmark. Prints a table, writes
// bench/results/foundation-<timestamp>.json and a percentile chart (.svg).
// Knobs (flag or env): --duration/BENCH_DURATION_S, --warmup/BENCH_WARMUP_S,
// --connections/BENCH_CONNECTIONS, --moderate-connections/BENCH_MODERATE_CONNECTIONS,
// --rate/BENCH_RATE, --revoke-latency/BENCH_REVOKE_LATENCY_MS, --log-level/BENCH_LOG_LEVEL,
// BENCH_GUARD_CONFIG (JSON object merged over the sidecar's bench config).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, METHOD, runFoundationBench, type FoundationOptions, type FoundationResult } from './foundation.js';
import { percentileChartSvg, type ChartSeries } from './lib/svg.js';
import { PERCENTILES } from './lib/stats.js';

// dist/bench/run.js -> <repo>/bench/results
const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');

const KNOBS: Record<string, { key: keyof FoundationOptions; env: string; min: number; max: number }> = {
  '--duration': { key: 'durationS', env: 'BENCH_DURATION_S', min: 1, max: 600 },
  '--warmup': { key: 'warmupS', env: 'BENCH_WARMUP_S', min: 1, max: 60 },
  '--connections': { key: 'connections', env: 'BENCH_CONNECTIONS', min: 1, max: 200 },
  '--moderate-connections': { key: 'moderateConnections', env: 'BENCH_MODERATE_CONNECTIONS', min: 1, max: 200 },
  '--rate': { key: 'moderateRate', env: 'BENCH_RATE', min: 1, max: 100_000 },
  '--revoke-latency': { key: 'revokeLatencyMs', env: 'BENCH_REVOKE_LATENCY_MS', min: 1, max: 10_000 },
};
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): FoundationOptions {
  const out: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  const given = new Map<string, string>();
  for (const [flag, k] of Object.entries(KNOBS)) if (env[k.env] !== undefined) given.set(flag, env[k.env]!);
  let logLevel = env.BENCH_LOG_LEVEL ?? DEFAULT_OPTIONS.logLevel;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--log-level') logLevel = value;
    else if (KNOBS[flag]) given.set(flag, value);
    else throw new Error(`unknown flag ${flag}; known: ${[...Object.keys(KNOBS), '--log-level'].join(', ')}`);
  }
  for (const [flag, raw] of given) {
    const k = KNOBS[flag]!;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < k.min || n > k.max)
      throw new Error(`${flag} (${k.env}) must be an integer in ${k.min}..${k.max}, got ${JSON.stringify(raw)}`);
    out[k.key] = n;
  }
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  out.logLevel = logLevel;
  if (env.BENCH_GUARD_CONFIG) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.BENCH_GUARD_CONFIG);
    } catch {
      throw new Error('BENCH_GUARD_CONFIG must be JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('BENCH_GUARD_CONFIG must be a JSON object');
    out.guardConfig = parsed;
  }
  return out as unknown as FoundationOptions;
}

function chart(result: FoundationResult, phase: 'saturation' | 'moderate', subtitle: string): string {
  const series: ChartSeries[] = result.runs
    .filter((r) => r.phase === phase)
    .map((r) => ({
      name: `${r.workload} ${r.target}${r.variant === 'slow-revoke' ? ' (slow revoke)' : ''}`,
      points: PERCENTILES.map((p) => [p, r.load.latency.percentilesMs[`p${p}`]!] as const),
    }));
  return percentileChartSvg(series, { title: `kiwoom-guard foundation bench: ${phase}`, subtitle });
}

function print(result: FoundationResult): void {
  const lines: string[] = ['', 'workload phase       target  p50 ms   p99 ms   req/s'];
  for (const r of result.runs) {
    const l = r.load.latency.percentilesMs;
    lines.push(
      `${r.workload.padEnd(8)} ${r.phase.padEnd(11)} ${(r.target + (r.variant === 'slow-revoke' ? '*' : '')).padEnd(7)} ${String(l.p50).padStart(7)} ${String(l.p99).padStart(8)} ${String(r.load.throughputRps).padStart(8)}`,
    );
  }
  lines.push('(* = simulator revoke delayed by revokeLatencyMs)', '', 'guard vs bare: ratios (guard/bare) and added latency per call (ms)');
  for (const c of result.comparisons) {
    const h = c.overheadHistogram;
    lines.push(
      `${c.workload} ${c.phase}: p50 x${c.ratios.p50}, p99 x${c.ratios.p99}, throughput x${c.ratios.throughput}` +
        ` | guard-2*bare p50 ${c.addedLatencyMs.guardMinus2xBare.p50} p99 ${c.addedLatencyMs.guardMinus2xBare.p99}` +
        ` | guard-bare-direct p50 ${c.addedLatencyMs.guardMinusBareMinusDirect.p50} p99 ${c.addedLatencyMs.guardMinusBareMinusDirect.p99}` +
        (h
          ? ` | kguard_overhead_seconds p50<=${h.upperBoundMs.p50} p99<=${h.upperBoundMs.p99} ms, mean ${h.meanMs} ms, <=1ms ${(100 * (h.shareAtOrUnderMs['1'] ?? 0)).toFixed(2)}%`
          : ''),
    );
  }
  const rv = result.revocationOffCriticalPath;
  if (rv) {
    lines.push(
      '',
      `revocation off the critical path (query, moderate, upstream revoke +${rv.revokeLatencyMs} ms):`,
      `  normal p50 ${rv.normal.p50} p99 ${rv.normal.p99} ms; slow revoke p50 ${rv.slowRevoke.p50} p99 ${rv.slowRevoke.p99} ms; delta p50 ${rv.deltaMs.p50} p99 ${rv.deltaMs.p99} ms`,
      `  broker tokens issued ${rv.brokerTokens?.issued}, revoked ${rv.brokerTokens?.revoked}, live after drain ${rv.brokerTokens?.liveAfterDrain} (drained in ${rv.brokerTokens?.drainMs} ms)`,
    );
  }
  lines.push(
    '',
    'how added latency is computed:',
    `  guard-2*bare: ${METHOD.guardMinus2xBare}`,
    `  guard-bare-direct: ${METHOD.guardMinusBareMinusDirect}`,
    `  histogram: ${METHOD.overheadHistogram}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  let opts: FoundationOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const started = new Date();
  process.stdout.write(`foundation bench: ${JSON.stringify(opts)}\n`);
  const result = await runFoundationBench(opts, (line) => process.stdout.write(`  ${line}\n`));
  print(result);
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  await mkdir(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, `foundation-${stamp}`);
  const env = { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model };
  await writeFile(`${base}.json`, `${JSON.stringify({ bench: 'foundation', startedAt: started.toISOString(), env, method: METHOD, ...result }, null, 2)}\n`);
  const sub = `${env.cpus} cores, node ${env.node}; ${opts.durationS}s per run`;
  await writeFile(`${base}.svg`, chart(result, 'moderate', `moderate: ${opts.moderateConnections} connections at ${opts.moderateRate} req/s; ${sub}`));
  await writeFile(`${base}-saturation.svg`, chart(result, 'saturation', `saturation: ${opts.connections} connections, closed loop; ${sub}`));
  process.stdout.write(`\nresults: ${base}.json\ncharts:  ${base}.svg, ${base}-saturation.svg\n`);
}

await main();
