import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import type { Store } from '../../proxy/state/types.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { GuardError } from '../../proxy/common/errors.js';

const logger = pino({ level: 'silent' });

// Deterministic PRNG so the replay is reproducible.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function setup(raw: unknown = {}, startMs = seoulToEpoch('2026-01-05', 9, 0)) {
  let clock = startMs;
  const store = createMemoryStore({ now: () => clock });
  const registry = new Registry();
  const config = parseRiskConfig(raw);
  const engine = createRiskEngine({ config, store, registry, logger, now: () => clock, language: 'en' });
  return {
    engine,
    store,
    registry,
    config,
    setClock: (ms: number) => {
      clock = ms;
    },
    close: () => store.close(),
  };
}

const SYMBOLS = ['005930', '000660', '035420', '051910', '006400', '035720', '068270', '105560'];
const PRICES: Record<string, number> = {
  '005930': 74000,
  '000660': 180000,
  '035420': 210000,
  '051910': 400000,
  '006400': 380000,
  '035720': 50000,
  '068270': 180000,
  '105560': 80000,
};

function order(over: Partial<RiskInput> & { now: number }): RiskInput {
  return {
    botId: 'b1',
    account: '5555-01',
    apiId: 'kt10000',
    kind: 'order',
    side: 'buy',
    stkCd: '005930',
    qty: 10,
    price: 74000,
    sourceIp: '10.0.0.5',
    clientId: 'pod-a',
    ...over,
  };
}

/** Normal weekday trading: 09:00-15:20 Seoul, mostly quotes, some orders, few cancels. */
function* normalDay(rand: () => number, dateMs: number, perDay = 120, drift = 1, noisy = false): Generator<RiskInput> {
  // dateMs is Seoul midnight as epoch; trading starts 09:00.
  const t = dateMs + 9 * 3_600_000;
  // Noisy replay: the pod moves to a new address each week (same identity) and
  // 0.5% of calls touch a symbol from a wider universe.
  const week = Math.floor(dateMs / (7 * 86_400_000));
  const span = (6 * 60 + 20) * 60_000;
  const times = Array.from({ length: perDay }, () => t + Math.floor(rand() * span)).sort((a, b) => a - b);
  for (const now of times) {
    const wide = noisy && rand() < 0.005;
    const sym = wide ? String(100000 + Math.floor(rand() * 300) * 10) : SYMBOLS[Math.floor(rand() * SYMBOLS.length)]!;
    if (wide) PRICES[sym] ??= 10000 + Math.floor(rand() * 90000);
    const r = rand();
    const ip = noisy ? `10.1.${week % 250}.${rand() < 0.5 ? 5 : 6}` : rand() < 0.5 ? '10.0.0.5' : '10.0.0.6';
    const base = { botId: 'b1', account: '5555-01', sourceIp: ip, clientId: 'pod-a', now } as const;
    if (r < 0.55) yield { ...base, apiId: 'ka10001', kind: 'query', stkCd: sym };
    else if (r < 0.65) yield { ...base, apiId: 'kt00018', kind: 'account' };
    else if (r < 0.93) {
      const qty = Math.max(1, Math.round(100 * drift * Math.exp(0.6 * gauss(rand))));
      yield { ...base, apiId: rand() < 0.5 ? 'kt10000' : 'kt10001', kind: 'order', side: rand() < 0.5 ? 'buy' : 'sell', stkCd: sym, qty, price: PRICES[sym]! };
    } else yield { ...base, apiId: 'kt10003', kind: 'cancel', stkCd: sym };
  }
}

function weekdaysFrom(startDate: string, count: number): number[] {
  const out: number[] = [];
  let d = seoulToEpoch(startDate);
  while (out.length < count) {
    const dow = new Date(d + 9 * 3_600_000).getUTCDay();
    if (dow >= 1 && dow <= 5) out.push(d);
    d += 86_400_000;
  }
  return out;
}

async function train(s: ReturnType<typeof setup>, days: number[], rand: () => number, perDay = 120, drift = (_i: number) => 1): Promise<void> {
  for (const [i, day] of days.entries()) {
    for (const call of normalDay(rand, day, perDay, drift(i))) {
      s.setClock(call.now as number);
      await s.engine.assess(call);
      await s.engine.learn(call, { allowed: true, completed: true });
    }
  }
}

t.test('config: defaults, knobs and clear errors', async (t) => {
  const c = parseRiskConfig(undefined);
  t.equal(c.thresholds.stepUp, 0.7);
  t.equal(c.thresholds.admin, 0.9);
  t.equal(c.thresholds.lockdown, 0.95);
  t.equal(c.warmupCalls, 50);
  t.equal(c.sessions.length, 1);
  const custom = parseRiskConfig({
    weights: { time: 0.2 },
    sessions: [{ days: [1, 2], start: '09:00', end: '15:30' }],
    location: { allowedCidrs: ['10.0.0.0/8'] },
  });
  t.equal(custom.weights.time, 0.2);
  t.equal(custom.sessions[0]!.endMin, 15 * 60 + 30);
  const bad = (raw: unknown, re: RegExp) => {
    try {
      parseRiskConfig(raw);
      t.fail(`accepted ${JSON.stringify(raw)}`);
    } catch (e) {
      t.ok(e instanceof GuardError && e.code === 'KG3013' && re.test(e.detail ?? ''), `${JSON.stringify(raw)} -> ${(e as Error).message}`);
    }
  };
  bad({ wieghts: {} }, /risk\.wieghts: unknown key/);
  bad({ weights: { time: 2 } }, /risk\.weights\.time: must be between 0 and 1/);
  bad({ thresholds: { stepUp: 0.95 } }, /alert <= stepUp <= admin <= lockdown/);
  bad({ location: { allowedCidrs: ['10.0.0.0/33'] } }, /allowedCidrs\[0\]/);
  bad({ sessions: [{ start: '25:00', end: '26:00' }] }, /sessions\[0\]\.start/);
  bad({ lockdownDetectors: ['nope'] }, /unknown detector/);
  bad({ volume: { zWarn: 5, zMax: 4 } }, /zMax must be above zWarn/);
  bad({ warmupMaxScore: 0.7 }, /risk\.warmupMaxScore: must be below thresholds\.stepUp/);
  bad({ warmupHours: -1 }, /risk\.warmupHours: must be between/);
  t.equal(parseRiskConfig({}).warmupMs, 24 * 3_600_000);
  t.equal(parseRiskConfig({}).warmupMaxScore, 0.6);
});

t.test('warm-up: a brand-new bot is not judged on volume or novelty', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const now = seoulToEpoch('2026-01-05', 10, 0);
  const a = await s.engine.assess(order({ now, qty: 1_000_000 }));
  t.ok(a.warmingUp);
  t.notOk(
    a.contributions.some((c) => c.detector === 'volume' || c.detector === 'location' || c.detector === 'new_symbol'),
    'no warm-up-gated detector fired',
  );
  t.equal(a.level, 'none');
});

t.test('warm-up bot at sustained load is never held (engine)', async (t) => {
  const s = setup();
  t.teardown(s.close);
  // A bot with no history sends ~200 orders/s (the foundation benchmark's shape) for 10 seconds
  // (2,000 calls, past the absolute burst cap of 600 a minute within 3 s), in trading hours and again at 03:00
  // (outside sessions: an absolute rule fires).
  for (const [label, start] of [
    ['10:00', seoulToEpoch('2026-01-05', 10, 0)],
    ['03:00', seoulToEpoch('2026-01-06', 3, 0)],
  ] as const) {
    let max = 0,
      calls = 0,
      warm = 0,
      highRisk = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 200 * 10; i++) {
      const now = start + i * 5;
      s.setClock(now);
      const call =
        i % 50 === 49
          ? { ...order({ now }), apiId: 'kt10003', kind: 'cancel' as const, side: undefined }
          : order({
              now,
              side: i % 2 ? 'sell' : 'buy',
              stkCd: i % 3 ? '005930' : '000660',
              qty: 1 + (i % 7),
              price: i % 3 ? 71_000 : 180_000,
              sourceIp: i % 2 ? '10.0.0.5' : '10.0.0.6',
            });
      const a = await s.engine.assess(call);
      calls++;
      max = Math.max(max, a.score);
      for (const c of a.contributions) seen.add(c.detector);
      if (!a.warmingUp) warm++;
      if (s.engine.isHighRisk(a)) highRisk++;
      if (a.score >= s.config.thresholds.stepUp) {
        t.fail(`${label}: call ${i} scored ${a.score}: ${a.contributions.map((c) => c.reason).join('; ')}`);
        break;
      }
      await s.engine.learn(call, { allowed: true, completed: true });
    }
    t.comment(`${label}: ${calls} calls, max score ${max}, detectors seen ${[...seen].join(', ')}`);
    t.equal(warm, 0, `${label}: every call was assessed as warming up`);
    t.equal(highRisk, 0, `${label}: nothing high-risk`);
    t.ok(seen.has('burst'), `${label}: the burst is still reported (explainable), only capped`);
    t.ok(max <= Math.max(s.config.warmupMaxScore, s.config.weights.session), `${label}: max score ${max}`);
  }
  // Absolute rules still hold or lock a warming-up bot.
  const c = setup({ location: { allowedCidrs: ['10.0.0.0/8'] }, lockdownDetectors: ['cidr', 'location'] });
  t.teardown(c.close);
  const out = await c.engine.assess(order({ now: seoulToEpoch('2026-01-05', 10, 0), sourceIp: '203.0.113.9' }));
  t.ok(out.warmingUp);
  t.equal(out.score, 1, 'outside the allowed CIDRs scores 1 even during warm-up');
  t.ok(c.engine.isHighRisk(out));
});

t.test('warm-up ends after warmupCalls AND warmupHours; then baseline detectors can hold', async (t) => {
  const s = setup({ warmupHours: 24 });
  t.teardown(s.close);
  const day1 = seoulToEpoch('2026-01-05', 10, 0);
  for (let i = 0; i < 200; i++) {
    const now = day1 + i * 60_000;
    s.setClock(now);
    await s.engine.learn(order({ now }), { allowed: true, completed: true });
  }
  // 200 calls but only ~3 h old: a new address, api-id and symbol are reported, not held.
  s.setClock(day1 + 4 * 3_600_000);
  const young = await s.engine.assess(
    order({ now: day1 + 4 * 3_600_000, apiId: 'kt10001', side: 'sell', sourceIp: '203.0.113.9', clientId: 'laptop', stkCd: '035420', qty: 10 }),
  );
  t.ok(young.warmingUp);
  t.ok(
    young.contributions.some((c) => c.detector === 'location' && c.warmupCapped),
    'location reported during warm-up',
  );
  t.ok(young.score <= s.config.warmupMaxScore, `capped at ${s.config.warmupMaxScore}: ${young.score}`);
  // The next day (baseline older than 24 h), the same call is judged in full.
  const day2 = day1 + 26 * 3_600_000;
  s.setClock(day2);
  const warm = await s.engine.assess(
    order({ now: day2, apiId: 'kt10001', side: 'sell', sourceIp: '203.0.113.9', clientId: 'laptop', stkCd: '035420', qty: 10 }),
  );
  t.notOk(warm.warmingUp);
  t.notOk(warm.contributions.some((c) => c.warmupCapped));
  t.ok(warm.score > s.config.thresholds.stepUp, `judged in full: ${warm.score}`);
});

t.test('warm-up also ends after calls on warmupDays Seoul days: a bot that calls a few times a day is judged in its second week', async (t) => {
  const sellAtNight = (now: number): RiskInput =>
    order({ now, apiId: 'kt10001', side: 'sell', sourceIp: '203.0.113.9', clientId: 'laptop', stkCd: '035420', qty: 10 });
  // A DCA buyer's routine: five calls a morning, on weekdays, far under warmupCalls (50).
  const routine = async (s: ReturnType<typeof setup>, days: number): Promise<number> => {
    let last = 0;
    for (const day of weekdaysFrom('2026-01-05', days)) {
      for (let i = 0; i < 5; i++) {
        last = day + 9 * 3_600_000 + 30 * 60_000 + i * 6_000;
        s.setClock(last);
        await s.engine.learn(order({ now: last }), { allowed: true, completed: true });
      }
    }
    return last;
  };
  t.equal(parseRiskConfig({}).warmupDays, 5, 'five days by default');
  t.throws(() => parseRiskConfig({ warmupDays: -1 }), /risk\.warmupDays/);
  for (const [label, raw, days, warm] of [
    ['four days', {}, 4, false],
    ['five days', {}, 5, true],
    ['five days, warmupDays 0 (calls only)', { warmupDays: 0 }, 5, false],
  ] as const) {
    const s = setup(raw);
    const last = await routine(s, days);
    const at = last + 3_600_000;
    s.setClock(at);
    const out = await s.engine.assess(sellAtNight(at));
    t.equal(out.warmingUp, !warm, `${label} (${days * 5} calls): ${warm ? 'warm' : 'warming up'}`);
    if (warm) t.ok(out.score > s.config.thresholds.stepUp, `${label}: a sell from a new address and client, never done, is held: ${out.score}`);
    else t.ok(out.score <= s.config.warmupMaxScore, `${label}: capped at ${s.config.warmupMaxScore}: ${out.score}`);
    await s.close();
  }
});

t.test('volume: robust z flags a jump after warm-up, slow drift never alarms', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const rand = mulberry32(7);
  // 30 weekdays with a slow 1.5%/day growth in size: ~55% larger at the end.
  const days = weekdaysFrom('2026-01-05', 30);
  let maxVolume = 0;
  let buys = 0,
    aboveEnvelope = 0;
  for (const [i, day] of days.entries()) {
    for (const call of normalDay(rand, day, 120, 1.015 ** i)) {
      s.setClock(call.now as number);
      const a = await s.engine.assess(call);
      if (call.side === 'buy') buys++;
      // Size counts once: a new order on a side with enough history is judged by order_size, the rest by volume.
      for (const v of a.contributions.filter((c) => c.detector === 'volume' || c.detector === 'order_size')) {
        // The buy envelope (larger than any buy learned) is not a drift signal: its cost on this very wide bot
        // (quantities spread 0.6 in log, prices 50k-400k) is counted apart.
        if (/the largest buy/.test(v.reason)) aboveEnvelope += v.score >= 0.9 ? 1 : 0;
        else maxVolume = Math.max(maxVolume, v.score);
      }
      await s.engine.learn(call, { allowed: true, completed: true });
    }
  }
  t.ok(maxVolume < 0.3, `slow drift stays quiet (max volume score ${maxVolume})`);
  t.ok(aboveEnvelope <= Math.ceil(0.01 * buys), `buys at 1.5x the largest learned: ${aboveEnvelope} of ${buys} (at most 1%)`);
  const now = days.at(-1)! + 11 * 3_600_000;
  s.setClock(now);
  const big = await s.engine.assess(order({ now, qty: 20_000, sourceIp: '10.0.0.5' }));
  const v = big.contributions.find((c) => c.detector === 'order_size');
  // By notional per side (this traffic mixes symbols from 50k to 400k KRW, so 100x the qty is ~60x the usual
  // notional), and by the envelope: far above the largest buy learned. Size counts once: the stronger.
  t.ok(v && v.score >= 0.5, `a 100x order is flagged: ${v?.reason}`);
  t.match(v!.reason, /this bot's usual|the largest buy/);
  t.notOk(
    big.contributions.find((c) => c.detector === 'volume'),
    'and not counted twice by volume',
  );
  t.ok(big.score >= 0.5);
});

t.test('time, session, location, CIDR and the 03:00 sell-everything drill', async (t) => {
  const s = setup({ location: { botCidrs: { b2: ['192.168.0.0/16'] } } });
  t.teardown(s.close);
  const days = weekdaysFrom('2026-01-05', 12);
  await train(s, days, mulberry32(11));
  // A normal call in hours from a known address is quiet.
  const normalAt = days.at(-1)! + 86_400_000 * 3 + 10 * 3_600_000; // next Monday 10:00
  s.setClock(normalAt);
  const quiet = await s.engine.assess(order({ now: normalAt, qty: 100 }));
  t.ok(quiet.score < 0.4, `normal order scores ${quiet.score}`);

  // 03:00 Tuesday, new address, selling whole positions across many names.
  const at3 = days.at(-1)! + 86_400_000 * 4 + 3 * 3_600_000;
  let last;
  for (const [i, sym] of SYMBOLS.slice(0, 6).entries()) {
    s.setClock(at3 + i * 1000);
    last = await s.engine.assess(
      order({
        now: at3 + i * 1000,
        apiId: 'kt10001',
        side: 'sell',
        stkCd: sym,
        qty: 500,
        price: PRICES[sym]!,
        holdingQty: 500,
        sourceIp: '203.0.113.9',
        clientId: 'laptop',
      }),
    );
  }
  const byName = Object.fromEntries(last!.contributions.map((c) => [c.detector, c]));
  t.ok(byName.time, 'unusual hour');
  t.ok(byName.session, 'outside sessions');
  t.ok(byName.location, 'new address');
  t.ok(byName.client, 'new client identity');
  t.ok(byName.drain && byName.drain.score >= 0.9, `drain: ${byName.drain?.reason}`);
  t.ok(last!.score >= 0.95, `score ${last!.score}`);
  t.equal(last!.level, 'lockdown');
  t.ok(s.engine.isHighRisk(last!));
  t.same(
    last!.contributions.map((c) => c.contribution),
    [...last!.contributions.map((c) => c.contribution)].sort((a, b) => b - a),
    'sorted by contribution',
  );

  // CIDR: b2 only from 192.168/16.
  const inside = await s.engine.assess(order({ botId: 'b2', now: normalAt, sourceIp: '::ffff:192.168.1.4' }));
  t.notOk(inside.contributions.some((c) => c.detector === 'cidr'));
  const outside = await s.engine.assess(order({ botId: 'b2', now: normalAt, sourceIp: '10.1.1.1' }));
  t.equal(outside.contributions[0]!.detector, 'cidr');
  t.equal(outside.score, 1);
});

t.test('patterns: new api / symbol, burst, cancel storm, query-to-order switch, illiquid buy', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const days = weekdaysFrom('2026-01-05', 6);
  await train(s, days, mulberry32(3));
  const at = days.at(-1)! + 3 * 86_400_000 + 11 * 3_600_000;
  s.setClock(at);
  const newSym = await s.engine.assess(order({ now: at, stkCd: '999990_NX', qty: 100 }));
  t.ok(
    newSym.contributions.find((c) => c.detector === 'new_symbol'),
    'new symbol',
  );
  const newApi = await s.engine.assess({ ...order({ now: at }), apiId: 'kt10006', kind: 'order' });
  t.ok(
    newApi.contributions.find((c) => c.detector === 'new_api'),
    'new api-id',
  );

  // Burst: 200 calls within one minute (usual is ~1 per active minute).
  let burst;
  for (let i = 0; i < 200; i++) {
    s.setClock(at + 60_000 + i * 100);
    burst = await s.engine.assess({
      botId: 'b1',
      account: '5555-01',
      apiId: 'ka10001',
      kind: 'query',
      stkCd: '005930',
      sourceIp: '10.0.0.5',
      clientId: 'pod-a',
      now: at + 60_000 + i * 100,
    });
  }
  const b = burst!.contributions.find((c) => c.detector === 'burst');
  t.ok(b && b.score >= 0.9, `burst: ${b?.reason}`);

  let storm;
  for (let i = 0; i < 60; i++) {
    const now = at + 5 * 60_000 + i * 200;
    s.setClock(now);
    storm = await s.engine.assess({
      botId: 'b1',
      account: '5555-01',
      apiId: 'kt10003',
      kind: 'cancel',
      stkCd: '005930',
      sourceIp: '10.0.0.5',
      clientId: 'pod-a',
      now,
    });
  }
  t.ok(
    storm!.contributions.find((c) => c.detector === 'cancel_storm'),
    'cancel storm',
  );

  const illiquid = await s.engine.assess(order({ now: at + 10 * 60_000, qty: 5000, symbolAdv: 10_000 }));
  t.ok(
    illiquid.contributions.find((c) => c.detector === 'drain' && /daily volume/.test(c.reason)),
    'illiquid buy',
  );

  // A query-only bot (b3) suddenly ordering.
  const q = setup();
  t.teardown(q.close);
  for (let i = 0; i < 200; i++) {
    const now = days[0]! + 10 * 3_600_000 + i * 30_000;
    q.setClock(now);
    const call: RiskInput = { botId: 'b3', account: 'x', apiId: 'ka10001', kind: 'query', stkCd: '005930', sourceIp: '10.0.0.5', now };
    await q.engine.learn(call, { allowed: true, completed: true });
  }
  const sw = await q.engine.assess(order({ botId: 'b3', now: days[0]! + 12 * 3_600_000 }));
  t.ok(
    sw.contributions.find((c) => c.detector === 'mode_switch'),
    'query-to-order switch',
  );
});

t.test('learn ignores denied or failed calls; baselines persist in the Store with a TTL', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const now = seoulToEpoch('2026-01-05', 10, 0);
  await s.engine.learn(order({ now }), { allowed: false, completed: false });
  await s.engine.learn(order({ now }), { allowed: true, completed: false });
  t.equal(await s.store.get('risk:baseline:b1'), null);
  await s.engine.learn(order({ now }), { allowed: true, completed: true });
  const doc = JSON.parse((await s.store.get('risk:baseline:b1'))!);
  t.equal(doc.calls, 1);
  t.ok('10.0.0.5' in doc.sources);
  // Two engines sharing one store see the same baseline.
  const other = createRiskEngine({ config: s.config, store: s.store, registry: new Registry(), logger });
  t.equal((await other.assess(order({ now }))).baselineCalls, 1);
  await s.engine.resetBaseline('b1');
  t.equal(await s.store.get('risk:baseline:b1'), null);
});

t.test('metrics: score histogram and per-detector hits', async (t) => {
  const s = setup({ location: { allowedCidrs: ['10.0.0.0/8'] } });
  t.teardown(s.close);
  await s.engine.assess(order({ now: seoulToEpoch('2026-01-05', 10), sourceIp: '8.8.8.8' }));
  const text = await s.registry.metrics();
  t.match(text, /kguard_risk_score_count 1/);
  t.match(text, /kguard_risk_detector_hits_total\{detector="cidr"\} 1/);
});

t.test('fails closed when the store is down', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const broken: Store = new Proxy(s.store, {
    get(target, prop) {
      if (prop === 'get' || prop === 'incr')
        return async () => {
          throw new GuardError('KG7001');
        };
      return (target as never)[prop];
    },
  });
  const engine = createRiskEngine({ config: s.config, store: broken, registry: new Registry(), logger });
  await t.rejects(engine.assess(order({ now: Date.now() })), { code: 'KG7001' });
});

t.test('false-positive rate on a replay of normal synthetic trading', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const rand = mulberry32(2024);
  const days = weekdaysFrom('2026-02-02', 40);
  await train(s, days.slice(0, 10), rand, 150);
  let calls = 0,
    alerts = 0,
    stepUps = 0,
    admin = 0;
  const byDetector: Record<string, number> = {};
  for (const day of days.slice(10)) {
    for (const call of normalDay(rand, day, 150, 1, true)) {
      s.setClock(call.now as number);
      const a = await s.engine.assess(call);
      calls++;
      if (a.level !== 'none') alerts++;
      if (a.score > s.config.thresholds.stepUp) stepUps++;
      if (a.score > s.config.thresholds.admin) admin++;
      for (const c of a.contributions) byDetector[c.detector] = (byDetector[c.detector] ?? 0) + 1;
      if (a.level !== 'none') t.comment(`alert: ${a.score} ${a.contributions.map((c) => `${c.detector}: ${c.reason}`).join('; ')}`);
      await s.engine.learn(call, { allowed: true, completed: true });
    }
  }
  const rate = stepUps / calls;
  t.comment(
    `FP replay: ${calls} calls over 30 weekdays; alert-level ${alerts} (${((100 * alerts) / calls).toFixed(3)}%), step-up ${stepUps} (${(100 * rate).toFixed(3)}%), admin ${admin}; detector hits ${JSON.stringify(byDetector)}`,
  );
  t.ok(rate <= 0.002, `step-up false-positive rate ${rate}`);
  t.equal(admin, 0, 'no admin-level false positive');
});
