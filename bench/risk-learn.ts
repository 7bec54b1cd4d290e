// npm run bench:risk-learn — what learning one call costs the shared Redis: a bot's baseline is one document (13 KB
// and more with the learned model), read by assess() and written back by learn(). Two engines on one real
// redis-server, the same calls: the baseline (risk.baselineCacheBots 0: every learn reads the document again before
// its compare-and-set, as every learn did before the write without a read) against the default (a learn after its
// own assess writes without reading), and the default against the learned model turned off (risk.model.enabled
// false: the shadow model is most of a document). Reports Redis' own byte counters per call and the time per call, as ratios;
// the baseline also parses every document it reads (no cache at all), so its time is an upper bound on what the
// write without a read saves, its bytes are exact.
// Knobs: LEARN_BOTS (200), LEARN_CALLS (3000), LEARN_WARM (120 calls per bot first).
import pino from 'pino';
import { Registry } from 'prom-client';
import { Redis } from 'ioredis';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../proxy/risk/index.js';
import { createRedisStore } from '../proxy/state/index.js';
import { startBenchRedis } from './state-redis.js';

const BOTS = Number(process.env.LEARN_BOTS ?? 200);
const CALLS = Number(process.env.LEARN_CALLS ?? 3000);
const WARM = Number(process.env.LEARN_WARM ?? 120);
const START = seoulToEpoch('2026-01-05', 9, 0);

const redis = await startBenchRedis();
const info = new Redis(redis.url);
const bytes = async (): Promise<{ in: number; out: number }> => {
  const text = await info.info('stats');
  const field = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { in: field('total_net_input_bytes'), out: field('total_net_output_bytes') };
};

/** Bot i's call k: quotes of three names, a balance read and a buy now and then (a swing trader's mix). */
function call(prefix: string, i: number, k: number): RiskInput {
  const now = START + k * 20_000 + i;
  const base = { botId: `${prefix}-${i}`, account: `a${i}`, sourceIp: '10.0.0.5', now } as const;
  if (k % 10 === 9) return { ...base, apiId: 'kt10000', kind: 'order', side: 'buy', stkCd: '005930', qty: 10 + (k % 7), price: 74_000 };
  if (k % 10 === 4) return { ...base, apiId: 'kt00018', kind: 'account' };
  return { ...base, apiId: 'ka10001', kind: 'query', stkCd: ['005930', '000660', '035420'][k % 3]! };
}

async function run(label: string, risk: Record<string, unknown>) {
  const store = await createRedisStore({ url: redis.url, logger: pino({ level: 'silent' }), registry: new Registry(), commandTimeoutMs: 10_000 });
  let clock = START;
  const engine = createRiskEngine({ config: parseRiskConfig(risk), store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => clock });
  const one = async (input: RiskInput) => {
    clock = input.now as number;
    await engine.assess(input);
    await engine.learn(input, { allowed: true, completed: true });
  };
  for (let k = 0; k < WARM; k++) await Promise.all(Array.from({ length: BOTS }, (_, i) => one(call(label, i, k))));
  const doc = (await store.get(`risk:baseline:${label}-0`))?.length ?? 0;
  const before = await bytes();
  const started = process.hrtime.bigint();
  const rounds = Math.ceil(CALLS / BOTS);
  for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: BOTS }, (_, i) => one(call(label, i, WARM + r))));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const after = await bytes();
  const n = rounds * BOTS;
  await store.close();
  return { label, calls: n, docBytes: doc, inPerCall: (after.in - before.in) / n, outPerCall: (after.out - before.out) / n, msPerCall: ms / n };
}

try {
  const reread = await run('reread', { baselineCacheBots: 0 });
  const cached = await run('cached', {});
  const noModel = await run('no-model', { model: { enabled: false } });
  const kb = (x: number) => `${(x / 1024).toFixed(1)} KB`;
  for (const r of [reread, cached, noModel]) {
    process.stdout.write(
      `${r.label}: ${r.calls} calls of ${BOTS} bots, document ${kb(r.docBytes)}; Redis in ${kb(r.inPerCall)} / out ${kb(r.outPerCall)} per call; ${r.msPerCall.toFixed(3)} ms per call\n`,
    );
  }
  process.stdout.write(
    `ratio (default / reread): Redis out ${(cached.outPerCall / reread.outPerCall).toFixed(2)}, in ${(cached.inPerCall / reread.inPerCall).toFixed(2)}, time ${(cached.msPerCall / reread.msPerCall).toFixed(2)}\n` +
      `ratio (model.enabled false / default): Redis out ${(noModel.outPerCall / cached.outPerCall).toFixed(2)}, in ${(noModel.inPerCall / cached.inPerCall).toFixed(2)}, time ${(noModel.msPerCall / cached.msPerCall).toFixed(2)}\n`,
  );
} finally {
  info.disconnect();
  await redis.stop();
}
