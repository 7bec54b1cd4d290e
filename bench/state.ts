// State benchmark: consume() latency on the memory store vs the Redis store
// (a redis-server started here on a free loopback port), same run, same
// layered limits (sliding + fixed + notional). Prints JSON with p50/p99 in
// microseconds, the Redis/memory ratio, Redis' added p99, and a bare PING
// round trip as the machine's floor.
// Run: npm run build && node dist/bench/state.js   (BENCH_CALLS, BENCH_CONCURRENCY)
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore, createRedisStore, type LimitRequest, type Store } from '../proxy/state/index.js';
import { startBenchRedis } from './state-redis.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);
const BOTS = 50;

function limitsFor(bot: number): LimitRequest[] {
  return [
    { key: `{bot:${bot}}:orders:1s`, limit: 1e9, windowMs: 1_000 },
    { key: `{bot:${bot}}:orders:day`, limit: 1e9, windowMs: 86_400_000, mode: 'fixed' },
    { key: `{bot:${bot}}:krw:day`, limit: 1e15, windowMs: 86_400_000, mode: 'fixed', cost: 700_000 },
  ];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(store: Pick<Store, 'consume'>): Promise<{ p50us: number; p99us: number; opsPerSec: number }> {
  for (let i = 0; i < 2_000; i++) await store.consume(limitsFor(i % BOTS)); // warm-up (JIT, EVALSHA cache)
  const samples: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await store.consume(limitsFor(i % BOTS));
        samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort((a, b) => a - b);
  return { p50us: Math.round(quantile(samples, 0.5)), p99us: Math.round(quantile(samples, 0.99)), opsPerSec: Math.round(CALLS / seconds) };
}

const logger = pino({ level: 'silent' });
const memory = createMemoryStore();
const mem = await measure(memory);
await memory.close();

const redisServer = await startBenchRedis();
try {
  const redis = await createRedisStore({ url: redisServer.url, logger, registry: new Registry(), commandTimeoutMs: 5_000 });
  const red = await measure(redis);
  await redis.close();
  // Baseline: one bare PING round trip on the same server, to tell the network
  // + scheduler floor of this machine apart from the script's own cost.
  const bare = new Redis(redisServer.url);
  const ping = await measure({
    consume: async () => {
      await bare.ping();
      return { allowed: true, usage: [] };
    },
  });
  bare.disconnect();
  console.log(
    JSON.stringify(
      {
        bench: 'state.consume',
        calls: CALLS,
        concurrency: CONCURRENCY,
        limitsPerCall: 3,
        memory: mem,
        redis: red,
        redisBarePing: ping,
        ratioP50: Number((red.p50us / Math.max(1, mem.p50us)).toFixed(1)),
        ratioP99: Number((red.p99us / Math.max(1, mem.p99us)).toFixed(1)),
        redisAddedP99us: red.p99us - mem.p99us,
        scriptOverPingP50us: red.p50us - ping.p50us,
        loadAverage: (await import('node:os')).loadavg().map((x) => Number(x.toFixed(2))),
      },
      null,
      2,
    ),
  );
} finally {
  await redisServer.stop();
}
