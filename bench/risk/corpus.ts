// Builds the evaluation corpus from a seed: normal traffic of every profile
// over the calendar, and attack scenarios planted inside it. Returns the
// corpus (what the sidecar may see) and the labels (ground truth) apart.
import { ATTACKS, planAttack } from './attacks.js';
import { calendar, ETFS, universe } from './market.js';
import { generateBot } from './profiles.js';
import { createRng } from './prng.js';
import {
  type BotTrace,
  type Corpus,
  type CorpusEvent,
  FAMILIES,
  type Family,
  type Label,
  type Labels,
  type MarketView,
  PROFILES,
  type Scenario,
} from './types.js';

export interface CorpusOptions {
  readonly seed: number;
  readonly tradingDays: number;
  /** Bots per profile. */
  readonly instances: number;
  /** Instances of every variant (each with its own victims and start). */
  readonly reps: number;
  /** Variants per family (the first n). */
  readonly variantsPerFamily?: number;
  readonly start?: string;
}

export const FULL: CorpusOptions = { seed: 20260202, tradingDays: 30, instances: 2, reps: 3 };

export function buildCorpus(opts: CorpusOptions): { corpus: Corpus; labels: Labels; traces: readonly BotTrace[] } {
  const rng = createRng(opts.seed);
  const days = calendar(opts.start ?? '2026-02-02', opts.tradingDays);
  const u = universe(rng.fork('universe'), 240);
  const prices = new Map([...u.all, ...ETFS].map((s) => [s.code, s.price]));
  const m: MarketView = { days, liquid: u.liquid, thin: u.thin, all: u.all, priceOf: (c) => prices.get(c) ?? 10_000 };

  const traces: BotTrace[] = [];
  let n = 0;
  for (const profile of PROFILES) {
    for (let i = 0; i < opts.instances; i++) {
      n++;
      const id = `bot-${String(n).padStart(2, '0')}`;
      traces.push(generateBot(profile, { id, account: `5${String(n).padStart(3, '0')}-${String(10 + i)}` }, n, rng.fork(id), m));
    }
  }

  let nextId = 0;
  const labelOf = new Map<number, Label>();
  const normal: CorpusEvent[] = traces
    .flatMap((tr) => tr.events.map((e) => ({ e, profile: tr.profile })))
    .sort((a, b) => a.e.t - b.e.t || (a.e.bot < b.e.bot ? -1 : a.e.bot > b.e.bot ? 1 : 0))
    .map(({ e, profile }) => {
      const id = nextId++;
      labelOf.set(id, { class: 'normal', profile, ...(e.note ? { note: e.note } : {}) });
      return { id, t: e.t, bot: e.bot, sourceIp: e.sourceIp, apiId: e.apiId, body: e.body, ...(e.orderNo ? { orderNo: e.orderNo } : {}) };
    });

  const scenarios: Scenario[] = [];
  const scenarioLabels = new Map<string, { family: Family; variant: string; victims: readonly string[]; start: number }>();
  const arng = rng.fork('attacks');
  for (const family of FAMILIES) {
    const variants = ATTACKS[family].variants.slice(0, opts.variantsPerFamily ?? Infinity);
    for (const variant of variants) {
      for (let r = 0; r < opts.reps; r++) {
        const sid = `s${String(scenarios.length + 1).padStart(3, '0')}`;
        const plan = planAttack(arng.fork(sid), family, variant, traces, m);
        const events = plan.events
          .sort((a, b) => a.t - b.t)
          .map((e) => {
            const id = nextId++;
            labelOf.set(id, { class: 'attack', family, variant, scenario: sid });
            return { id, t: e.t, bot: e.bot, sourceIp: e.sourceIp, apiId: e.apiId, body: e.body };
          });
        const victims = plan.victims.map((v) => v.bot.id);
        scenarios.push({ id: sid, victims, events });
        scenarioLabels.set(sid, { family, variant, victims, start: plan.start });
      }
    }
  }

  const corpus: Corpus = {
    seed: opts.seed,
    days,
    bots: traces.map((t) => t.bot),
    openingHoldings: Object.fromEntries(traces.map((t) => [t.bot.account, t.opening])),
    dailyVolume: Object.fromEntries([...u.all, ...ETFS].map((s) => [s.code, s.adv])),
    traffic: normal,
    scenarios,
  };
  const labels: Labels = { events: labelOf, botProfiles: new Map(traces.map((t) => [t.bot.id, t.profile])), scenarios: scenarioLabels };
  return { corpus, labels, traces };
}
