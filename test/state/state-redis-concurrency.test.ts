// Two clients and two processes racing on the same limits never overshoot:
// the totals are exact because each consume is one atomic Lua script.
import { spawn } from 'node:child_process';
import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../../proxy/state/index.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const logger = pino({ level: 'silent' });

t.test('two ioredis clients, 600 parallel layered consumes: exact totals', async (t) => {
  const mk = () => createRedisStore({ url: redis.url, logger, registry: new Registry(), commandTimeoutMs: 2_000 });
  const [a, b] = await Promise.all([mk(), mk()]);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const limits = [
    { key: '{acct:1}:orders:1m', limit: 97, windowMs: 60_000 },
    { key: '{acct:1}:orders:day', limit: 120, windowMs: 60_000, mode: 'fixed' as const },
    { key: '{acct:1}:krw:day', limit: 90 * 10_000, windowMs: 60_000, mode: 'fixed' as const, cost: 10_000 },
  ];
  const results = await Promise.all(Array.from({ length: 600 }, (_, i) => (i % 2 ? a : b).consume(limits)));
  const allowed = results.filter((r) => r.allowed).length;
  t.equal(allowed, 90, 'exactly the tightest limit (notional: 90 orders of 10,000)');
  t.same(await a.peek(limits), [90, 90, 900_000], 'stored usage matches the allowed calls');
  const failedAt = new Set(results.filter((r) => !r.allowed).map((r) => r.failedIndex));
  t.same([...failedAt], [2], 'denials name the notional cap');
});

function runChild(keyBase: string, calls: number, concurrency: number) {
  const child = spawn(
    process.execPath,
    [...process.execArgv, new URL('./state-consumer-child.ts', import.meta.url).pathname, redis.url, keyBase, String(calls), String(concurrency)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on('data', (d) => {
    out += d;
    if (out.startsWith('ready\n')) {
      out = out.slice(6);
      markReady();
    }
  });
  const done = new Promise<{ allowed: number; errors: number }>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))));
  });
  return { child, done, ready };
}

t.test('two processes racing: exact totals, no overshoot', async (t) => {
  const keyBase = `proc:${Date.now()}`;
  const kids = [runChild(keyBase, 400, 25), runChild(keyBase, 400, 25)];
  // Release them together once both are connected.
  await Promise.all(kids.map((k) => k.ready));
  for (const k of kids) k.child.stdin.end('go\n');
  const [r1, r2] = await Promise.all(kids.map((k) => k.done));
  t.equal(r1!.errors + r2!.errors, 0, 'no errors');
  t.equal(r1!.allowed + r2!.allowed, 173, `allowed ${r1!.allowed} + ${r2!.allowed} = the sliding limit exactly`);
  t.ok(r1!.allowed > 0 && r2!.allowed > 0, 'both processes got some');
  const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry: new Registry() });
  t.teardown(() => store.close());
  t.same(
    await store.peek([
      { key: `{${keyBase}}:sliding`, limit: 173, windowMs: 60_000 },
      { key: `{${keyBase}}:day`, limit: 190, windowMs: 60_000, mode: 'fixed' },
      { key: `{${keyBase}}:krw`, limit: 1_000_000, windowMs: 60_000 },
    ]),
    [173, 173, 173 * 5_000],
  );
});
