// `npm run bench:profile [-- query|order] [--duration S] [--rate R]`: the
// sidecar at saturation (or at R calls/s) under a V8 CPU profile, beside the
// bare pass-through in the same run. Prints the throughput ratio and the functions with the most self time,
// grouped by function and file, and writes the .cpuprofile to bench/results/
// (open it in Chrome DevTools' Performance tab).
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { WORKLOADS } from './foundation.js';
import { startChild, type BenchChild } from './lib/children.js';
import { runLoad } from './lib/load.js';

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name + file:line), as a share of all samples. */
export function selfTimeTable(profile: CpuProfile, top: number): { name: string; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const f = node.callFrame;
    const file = f.url
      .replace(/^file:\/\//, '')
      .replace(/.*\/node_modules\//, 'npm:')
      .replace(/.*\/dist\//, '');
    const key = `${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => ({ name, share: Math.round((t / total) * 1000) / 10 }));
}

/** User + system CPU seconds a process has used (Linux /proc; clock ticks at 100 Hz). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Per stage of the tr route, from the sidecar's kguard_stage_seconds histogram: mean, and p50/p99 as bucket upper bounds. */
async function stageTimes(metricsUrl: string): Promise<{ stage: string; meanUs: number; p50Us: number; p99Us: number }[]> {
  const text = await (await request(metricsUrl)).body.text();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  const buckets = new Map<string, { le: number; n: number }[]>();
  for (const m of text.matchAll(/^kguard_stage_seconds_(sum|count)\{route="tr",stage="([^"]+)"\} (\S+)$/gm)) {
    (m[1] === 'sum' ? sums : counts).set(m[2]!, Number(m[3]));
  }
  for (const m of text.matchAll(/^kguard_stage_seconds_bucket\{le="([^"]+)",route="tr",stage="([^"]+)"\} (\S+)$/gm)) {
    const list = buckets.get(m[2]!) ?? [];
    list.push({ le: Number(m[1]), n: Number(m[3]) });
    buckets.set(m[2]!, list);
  }
  const quantile = (stage: string, q: number): number => {
    const list = (buckets.get(stage) ?? []).sort((a, b) => a.le - b.le);
    const total = counts.get(stage) ?? 0;
    return (list.find((b) => b.n >= q * total)?.le ?? Number.NaN) * 1e6;
  };
  return [...sums].map(([stage, sum]) => ({
    stage,
    meanUs: (sum / Math.max(1, counts.get(stage) ?? 0)) * 1e6,
    p50Us: quantile(stage, 0.5),
    p99Us: quantile(stage, 0.99),
  }));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const workload = WORKLOADS.find((w) => w.name === (args.find((a) => !a.startsWith('--')) ?? 'query'));
  if (!workload) throw new Error('workload must be query or order');
  const durIdx = args.indexOf('--duration');
  const durationS = durIdx >= 0 ? Number(args[durIdx + 1]) : 10;
  const rateIdx = args.indexOf('--rate');
  const rate = rateIdx >= 0 ? Number(args[rateIdx + 1]) : undefined;
  const profDir = await mkdtemp(path.join(tmpdir(), 'kguard-prof-'));
  const creds = { appKey: randomBytes(24).toString('hex'), secretKey: randomBytes(24).toString('hex'), account: `5${randomInt(100_000_000, 999_999_999)}` };
  const children: BenchChild[] = [];
  try {
    const sim = await startChild('sim', { type: 'start', ...creds });
    children.push(sim);
    const bare = await startChild('bare', { type: 'start', ...creds, simUrl: sim.url, connections: 32 });
    children.push(bare);
    // Kiwoom's call limits lifted (thousands of calls a second on one key measure the sidecar), its
    // token-issue pacing kept: with every limit off an idle moment revokes and the next call issues again.
    // BENCH_GUARD_CONFIG (a JSON object) is merged over it, e.g. '{"audit":{"sinks":[{"type":"file","groupCommitMs":0}]}}'.
    const guardConfig = {
      ...(process.env.BENCH_LIMITS_OFF
        ? {}
        : { upstream: { target: 'custom', url: sim.url, limits: { queriesPerSecond: 10_000, ordersPerSecond: 10_000, maxQueuePerKey: 10_000 } } }),
      ...(JSON.parse(process.env.BENCH_GUARD_CONFIG ?? '{}') as Record<string, unknown>),
    };
    const logLevel = process.env.BENCH_LOG_LEVEL ?? 'info';
    const guard = await startChild('guard', { type: 'start', ...creds, simUrl: sim.url, logLevel, guardConfig }, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    children.push(guard);
    const own = await request(`${sim.url}/oauth2/token`, {
      method: 'POST',
      body: JSON.stringify({ grant_type: 'client_credentials', appkey: creds.appKey, secretkey: creds.secretKey }),
      headers: { 'content-type': 'application/json' },
    });
    const ownToken = String(((await own.body.json()) as Record<string, unknown>).token);
    const guardToken = await guard.ask({ type: 'token' }, 'token');
    const shape = { path: workload.path, body: workload.body, connections: rate ? 2 : 10, ...(rate ? { rate } : {}) };
    const results: Record<string, number> = {};
    for (const [name, child, token] of [
      ['bare', bare, ownToken],
      ['guard', guard, guardToken.type === 'token' ? guardToken.token : ''],
    ] as const) {
      const headers = { 'api-id': workload.apiId, authorization: `Bearer ${token}` };
      await runLoad({ url: child.url, headers, durationS: 2, ...shape });
      const cpu0 = await cpuSeconds(child.pid);
      const r = await runLoad({ url: child.url, headers, durationS, ...shape });
      const cpuUs = ((await cpuSeconds(child.pid)) - cpu0) * 1e6;
      results[name] = r.throughputRps;
      results[`${name}Cpu`] = cpuUs / Math.max(1, r.requests);
      console.log(
        `${name.padEnd(6)} ${r.throughputRps} req/s  p50 ${r.latency.percentilesMs.p50} ms  p99 ${r.latency.percentilesMs.p99} ms  non2xx ${r.non2xx}  CPU ${results[`${name}Cpu`]!.toFixed(0)} us/call`,
      );
    }
    console.log(`guard/bare throughput: ${Math.round((results.guard! / results.bare!) * 100) / 100}`);
    const simStats = (await (await request(`${sim.url}/_sim/stats`)).body.json()) as Record<string, unknown>;
    console.log(`broker tokens issued ${String(simStats.tokensIssued)}, revoked ${String(simStats.tokensRevoked)} (warm-up included)`);
    // CPU per call holds on a busy machine where throughput does not: its inverse ratio is the saturation ratio on an idle one.
    console.log(`bare/guard CPU per call: ${Math.round((results.bareCpu! / results.guardCpu!) * 100) / 100}`);
    console.log('\ntime per stage (tr route, warm-up included):');
    console.log('    mean   p50<=   p99<=  (us)');
    for (const row of await stageTimes(`${guard.adminUrl}/metrics`)) {
      console.log(`${[row.meanUs, row.p50Us, row.p99Us].map((v) => v.toFixed(0).padStart(8)).join('')}  ${row.stage}`);
    }
    await guard.close();
    children.pop();
    const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no CPU profile was written');
    const profile = JSON.parse(await readFile(path.join(profDir, file), 'utf8')) as CpuProfile;
    console.log('\nself time, top 40 (share of the guard process, warm-up and set-up included):');
    for (const row of selfTimeTable(profile, 40)) console.log(`${String(row.share).padStart(5)} %  ${row.name}`);
    await mkdir(RESULTS_DIR, { recursive: true });
    const out = path.join(RESULTS_DIR, `profile-${workload.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    await rename(path.join(profDir, file), out);
    console.log(`\nprofile: ${out}`);
  } finally {
    for (const c of children.reverse()) await c.close().catch(() => undefined);
  }
}

await main();
