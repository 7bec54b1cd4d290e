// `npm run bench:flood` (many tenants: does one customer hurt another?):
// measured in one run, not a test. The sidecar and the simulator each in
// their own process (bench/lib/tenant-worker.ts). BENCH_BOTS quiet bots
// (default 10), each on its own app key, call at BENCH_RATE per second
// (default 2; the mix of bench:tenants), first alone, then while one more
// bot on another key calls as fast as BENCH_FLOOD connections allow (default
// 64: a retry loop without back-off), from its own process. The policy is
// the bench policy plus the default policy's per-bot query rate (20/s), so
// the flooding bot is refused by the policy (KG3005) for almost every call,
// as a real one would be. Prints the quiet bots' latency both ways, the
// ratio, and the flood's calls; writes nothing under bench/results.
// BENCH_FLOOD_TOKEN=forged floods with a token whose signature is wrong
// instead: each call is refused at authentication (KG2002), before the body,
// risk, policy and audit, which shows what refusing a flood early would cost.
// Knobs: BENCH_SECONDS (measured per phase, default 15), BENCH_WARMUP (3),
// BENCH_BOTS, BENCH_RATE, BENCH_FLOOD, BENCH_FLOOD_TOKEN (valid | forged),
// BENCH_SIM (ideal | faithful), BENCH_HOLD_MS (the sidecar's limits.refusalHoldMs and
// limits.authFailureHold.holdMs; 0 answers every refusal at once, as before the holds; unset: the defaults).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_POLICY } from './lib/bench-policy.js';
import { batchBody, exchangeAll, postBatch, runMix, type MixResult } from './lib/tenant-load.js';
import { startTenantChild, type TenantChild } from './lib/tenant-protocol.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const SECONDS = env('BENCH_SECONDS', 15);
const WARMUP = env('BENCH_WARMUP', 3);
const BOTS = env('BENCH_BOTS', 10);
const RATE = env('BENCH_RATE', 2);
const FLOOD = env('BENCH_FLOOD', 64);
const IDEAL = (process.env.BENCH_SIM ?? 'ideal') !== 'faithful';
const FORGED = process.env.BENCH_FLOOD_TOKEN === 'forged';
const HOLD_MS = process.env.BENCH_HOLD_MS ? Number(process.env.BENCH_HOLD_MS) : undefined;
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'flood-worker.js');
const POLICY = `${BENCH_POLICY}  - id: query-rate
    type: rate-limit
    when: { kinds: [query, account] }
    limits:
      - { max: 20, per: 1s }
`;
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const brief = (r: MixResult) => ({ ...r.all.percentilesMs, maxMs: r.all.maxMs, calls: r.calls, ok: r.ok, failures: r.failures });

const root = await mkdtemp(path.join(tmpdir(), 'kguard-bench-flood-'));
await chmod(root, 0o700);
const children: TenantChild[] = [];
try {
  const sim = await startTenantChild('sim', { type: 'start', apps: BOTS + 1, ideal: IDEAL });
  children.push(sim);
  const policyFile = path.join(root, 'flood-policy.yaml');
  await writeFile(policyFile, POLICY);
  const dataDir = path.join(root, 'guard', 'data');
  await mkdir(path.dirname(dataDir), { mode: 0o700 });
  const guardConfig = {
    risk: { enabled: false },
    policy: { file: policyFile },
    ...(HOLD_MS === undefined ? {} : { limits: { refusalHoldMs: HOLD_MS, authFailureHold: { holdMs: HOLD_MS } } }),
  };
  const guard = await startTenantChild('guard', { type: 'start', dataDir, simUrl: sim.ready.url, logLevel: 'warn', guardConfig });
  children.push(guard);
  // Tenant 0 floods; tenants 1..BOTS are the quiet ones.
  const { body, secrets } = batchBody(0, BOTS + 1);
  await postBatch(guard.ready.adminUrl!, guard.ready.adminToken!, body);
  body.fill(0);
  const tokens = await exchangeAll(guard.ready.url, 0, secrets, BOTS + 1);
  for (const s of secrets) s.fill(0);
  const quiet = { url: guard.ready.url, tokens: tokens.slice(1), ratePerBot: RATE, warmupS: WARMUP, seconds: SECONDS, connectionsPerBot: 2 };

  log(`${BOTS} quiet bots x ${RATE}/s, alone`);
  const alone = await runMix(quiet);
  log(`the same, while one bot on another key calls through ${FLOOD} connections`);
  // Forged: the signature's last character changed, so no cached verification matches and every call is checked.
  const floodToken = FORGED ? `${tokens[0]!.slice(0, -1)}${tokens[0]!.endsWith('A') ? 'B' : 'A'}` : tokens[0]!;
  const flooder = fork(WORKER, [guard.ready.url, floodToken, String(FLOOD), String((WARMUP + SECONDS + 2) * 1000)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const floodResult = once(flooder, 'message');
  const flooded = await runMix(quiet);
  const [flood] = (await floodResult) as [{ calls: number; codes: Record<string, number> }];
  const p = (r: MixResult, k: string) => r.all.percentilesMs[k] ?? Number.NaN;
  const result = {
    bench: 'flood',
    when: new Date().toISOString(),
    options: {
      seconds: SECONDS,
      warmupS: WARMUP,
      quietBots: BOTS,
      ratePerBot: RATE,
      floodConnections: FLOOD,
      floodToken: FORGED ? 'forged' : 'valid',
      simulator: IDEAL ? 'ideal' : 'faithful',
      refusalHoldMs: HOLD_MS ?? 'default',
    },
    alone: brief(alone),
    flooded: brief(flooded),
    ratio: { p50: +(p(flooded, 'p50') / p(alone, 'p50')).toFixed(2), p99: +(p(flooded, 'p99') / p(alone, 'p99')).toFixed(2) },
    flood: { ...flood, perSecond: Math.round(flood.calls / (WARMUP + SECONDS + 2)) },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const c of children.reverse()) await c.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
