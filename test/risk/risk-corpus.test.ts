// The attack generator (bench/risk/attacks.ts): every labelled scenario has
// calls to catch. A draw the variant cannot act on (one share of each holding
// of a bot flat at every close) is drawn again, deterministically per seed.
import t from 'tap';
import { planAttack } from '../../bench/risk/attacks.js';
import { buildCorpus, FULL } from '../../bench/risk/corpus.js';
import { universe } from '../../bench/risk/market.js';
import { median } from '../../proxy/risk/stats.js';
import { createRng } from '../../bench/risk/prng.js';
import type { MarketView } from '../../bench/risk/types.js';
import { REDUCED } from './risk-eval-corpus.js';

t.test('every scenario of the full corpus has attack calls, on both seeds', async (t) => {
  for (const seed of [FULL.seed, 4242]) {
    const { corpus } = buildCorpus({ ...FULL, seed });
    const empty = corpus.scenarios.filter((s) => s.events.length === 0).map((s) => s.id);
    t.same(empty, [], `seed ${seed}: no scenario without a call`);
  }
});

t.test('a variant that cannot act on its victim is drawn again, on a bot it can act on', async (t) => {
  const { corpus, traces } = buildCorpus({ ...REDUCED, instances: 1 });
  const u = universe(createRng(1), 240);
  const m: MarketView = { days: corpus.days, liquid: u.liquid, thin: u.thin, all: u.all, priceOf: () => 10_000 };
  const scalper = traces.find((b) => b.profile === 'scalper')!;
  const swing = traces.find((b) => b.profile === 'swing')!;
  t.ok(
    scalper.positions.every((p) => Object.values(p).every((q) => q === 0)),
    'the scalper is flat at every close',
  );
  const variant = 'one-share-of-each-holding-a-day';
  t.throws(
    () => planAttack(createRng(7), 'low_and_slow', variant, [scalper], m),
    /no victim and day it can act on/,
    'nothing to act on: an error, not an empty scenario',
  );
  for (let seed = 1; seed <= 20; seed++) {
    const plan = planAttack(createRng(seed), 'low_and_slow', variant, [scalper, swing], m);
    t.ok(plan.events.length > 0, `seed ${seed}: calls`);
    t.same(
      plan.victims.map((v) => v.bot.id),
      [swing.bot.id],
      `seed ${seed}: aimed at the holder`,
    );
    t.same(JSON.stringify(planAttack(createRng(seed), 'low_and_slow', variant, [scalper, swing], m)), JSON.stringify(plan), 'deterministic');
  }
});

t.test("the insider's sizes are the victim's own: 3x its usual buy of that name, or its usual buy in KRW of a new one", async (t) => {
  const krw = (e: { body: Readonly<Record<string, string | undefined>> }): number => Number(e.body.ord_qty) * Number(e.body.ord_uv);
  for (const seed of [FULL.seed, 4242, 777]) {
    const { corpus, labels, traces } = buildCorpus({ ...FULL, seed });
    for (const s of corpus.scenarios) {
      const { family, variant } = labels.scenarios.get(s.id)!;
      if (family !== 'insider' || variant === 'gradual-sell-down') continue;
      const victim = traces.find((b) => b.bot.id === s.victims[0])!;
      const start = Math.min(...s.events.map((e) => e.t));
      const before = victim.events.filter((e) => e.apiId === 'kt10000' && e.t < start - 12 * 3_600_000);
      for (const e of s.events) {
        const own = before.filter((b) => b.body.stk_cd === e.body.stk_cd);
        // In shares of a name the victim bought (prices move from day to day); in KRW of a name it holds but never
        // bought (its opening book) or never traded.
        const qty = (x: { body: Readonly<Record<string, string | undefined>> }): number => Number(x.body.ord_qty);
        const ratio = own.length > 0 ? qty(e) / median(own.map(qty)) : krw(e) / median(before.map(krw));
        const [lo, hi] = variant === 'new-symbol-usual-size' ? [0.7, 1.4] : [2.4, 3.6];
        t.ok(ratio >= lo && ratio <= hi, `seed ${seed} ${s.id} (${victim.profile}) ${variant}: ${ratio.toFixed(2)}x the victim's usual buy`);
      }
    }
  }
});
