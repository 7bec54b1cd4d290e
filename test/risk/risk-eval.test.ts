// The risk evaluation (bench/risk) on a reduced, seeded corpus: labels never
// reach the engine, a seed gives the same corpus and figures, every family
// and profile is present, and the report carries them all. What locks down,
// and on which detector, is in risk-detection.test.ts. The full figures come
// from `npm run bench:risk`.
import t from 'tap';
import { buildCorpus, type CorpusOptions } from '../../bench/risk/corpus.js';
import { evaluate } from '../../bench/risk/evaluate.js';
import { API } from '../../bench/risk/market.js';
import { createRng } from '../../bench/risk/prng.js';
import { markdownTable, sweepSvg } from '../../bench/risk/report.js';
import { FAMILIES, PROFILES } from '../../bench/risk/types.js';
import type { RiskInput } from '../../proxy/risk/index.js';
import { REDUCED } from './risk-eval-corpus.js';
import { allowCpuBoundFile } from '../helpers/cpu-bound.js';

allowCpuBoundFile(t);

// Three trading days are enough to show a replay is deterministic.
const TINY: CorpusOptions = { ...REDUCED, tradingDays: 3 };
// The eight-day corpus's shape is checked here; detection on it is in risk-detection.test.ts.
const { corpus, labels } = buildCorpus(REDUCED);
const EVENT_KEYS = ['apiId', 'body', 'bot', 'id', 'sourceIp', 't'];
const INPUT_KEYS = new Set([
  'botId',
  'account',
  'apiId',
  'kind',
  'side',
  'stkCd',
  'qty',
  'price',
  'notional',
  'sourceIp',
  'clientId',
  'now',
  'holdingQty',
  'symbolAdv',
  'condition',
]);

t.test('the PRNG is seeded and forks deterministically', async (t) => {
  const a = createRng(42),
    b = createRng(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  t.same(
    Array.from({ length: 5 }, () => b.next()),
    xs,
  );
  t.same(createRng(7).fork('x').int(0, 1e9), createRng(7).fork('x').int(0, 1e9));
  t.not(createRng(7).fork('x').int(0, 1e9), createRng(7).fork('y').int(0, 1e9));
});

t.test('corpus: same seed, same corpus; labels kept apart from events', async (t) => {
  const two = buildCorpus(REDUCED);
  t.same(JSON.stringify(corpus), JSON.stringify(two.corpus), 'deterministic for a seed');
  t.not(JSON.stringify(buildCorpus({ ...REDUCED, seed: 1718 }).corpus.traffic.slice(0, 50)), JSON.stringify(corpus.traffic.slice(0, 50)));
  const all = [...corpus.traffic, ...corpus.scenarios.flatMap((s) => s.events)];
  t.equal(
    all.find(
      (e) =>
        JSON.stringify(
          Object.keys(e)
            .filter((k) => k !== 'orderNo')
            .sort(),
        ) !== JSON.stringify(EVENT_KEYS),
    ),
    undefined,
    'an event is time, bot, source, api-id, body (and its id)',
  );
  t.ok(
    all.every((e) => e.orderNo === undefined || e.apiId === API.buy || e.apiId === API.sell),
    "and a new order the broker's order number, nothing else",
  );
  t.equal(new Set(all.map((e) => e.id)).size, all.length, 'event ids are unique');
  t.equal(labels.events.size, all.length, 'every event has a label');
  t.ok(
    corpus.traffic.every((e) => labels.events.get(e.id)?.class === 'normal'),
    'normal events are labelled normal',
  );
  t.same(new Set([...labels.scenarios.values()].map((s) => s.family)), new Set(FAMILIES), 'every attack family is present');
  t.same(new Set(labels.botProfiles.values()), new Set(PROFILES), 'every normal profile is present');
  const text = JSON.stringify(corpus);
  for (const word of [...FAMILIES, ...PROFILES, 'attack', 'normal']) t.notOk(text.includes(`"${word}"`), `"${word}" appears nowhere in the corpus`);
  t.ok(
    corpus.days.some((d) => !d.trading && d.weekday >= 1 && d.weekday <= 5),
    'a weekday holiday is in the calendar',
  );
  t.ok(
    corpus.days.some((d) => d.half),
    'a shortened session is in the calendar',
  );
  const outside = corpus.scenarios.filter((s) => {
    const start = Math.min(...s.events.map((e) => e.t));
    return !(corpus.traffic.some((e) => e.t < start) && corpus.traffic.some((e) => e.t > start));
  });
  t.same(outside, [], 'every scenario starts inside normal traffic');
});

t.test('evaluation: labels never reach the engine; deterministic; every family reported', async (t) => {
  // The three-day corpus: the engine's view and the report's shape do not need eight days.
  const tiny = buildCorpus(TINY);
  const seen: RiskInput[] = [];
  const r1 = await evaluate(tiny.corpus, tiny.labels, { onInput: (i) => seen.push(i) });
  t.ok(seen.length > tiny.corpus.traffic.length, 'the engine saw the normal replay and the scenarios');
  const bad = seen.find((i) => Object.keys(i).some((k) => !INPUT_KEYS.has(k)));
  t.equal(bad, undefined, 'engine inputs carry only RiskInput fields');
  const inputs = JSON.stringify(seen);
  for (const word of [...FAMILIES, ...PROFILES]) t.notOk(inputs.includes(word), `"${word}" never reaches the engine`);

  const again = await evaluate(tiny.corpus, tiny.labels);
  t.same(JSON.stringify(again), JSON.stringify(r1), 'same corpus, same figures (watching the inputs changes nothing)');

  t.same(
    r1.families.map((f) => f.family),
    [...FAMILIES, 'overall'],
  );
  t.equal(r1.scenarios.length, FAMILIES.length);
  for (const f of r1.families) {
    for (const th of [f.stepUp, f.lockdown]) {
      t.ok(th.detectionRate >= 0 && th.detectionRate <= 1, `${f.family} rate in [0,1]`);
      t.ok(th.detected <= th.scenarios);
    }
    t.ok(f.lockdown.detected <= f.stepUp.detected, `${f.family}: what locks down was caught at step-up too`);
  }
  t.equal(r1.normal.calls, tiny.corpus.traffic.length);
  t.ok(r1.normal.botDays > 0 && Number.isFinite(r1.normal.stepUpsPerBotDay));
  // Each normal step-up is listed with what held it, and the report shows each.
  t.equal(r1.normal.stepUpCalls.length, r1.normal.stepUps, `every normal step-up listed (${r1.normal.stepUps})`);
  for (const c of r1.normal.stepUpCalls) {
    t.ok(c.score > r1.thresholds.stepUp && c.because.length > 0 && c.because[0]!.reason.length > 0, `${c.bot} ${c.apiId}: held, with a reason`);
    t.ok(
      c.because.every((b, i) => i === 0 || b.contribution <= c.because[i - 1]!.contribution),
      'largest contribution first',
    );
  }
  t.equal(r1.thresholds.stepUp, 0.7);
  t.equal(r1.thresholds.lockdown, 0.95);
  t.equal(r1.sweep.length, 51);
  t.ok(
    r1.sweep.every((p, i) => i === 0 || FAMILIES.every((f) => p.detection[f] <= r1.sweep[i - 1]!.detection[f])),
    'detection falls as the threshold rises',
  );
  // Every scenario not stopped before 1M KRW at lockdown has its cost, and only those; the threshold it needed
  // is at most its highest score, and the normal calls at or above it fall as the threshold rises.
  const notStopped = r1.scenarios.filter((x) => !(x.firstLockdown && x.firstLockdown.krwMoved < 1_000_000)).map((x) => x.id);
  t.same(
    r1.misses.map((x) => x.id),
    notStopped,
  );
  for (const x of r1.misses) {
    const sc = r1.scenarios.find((y) => y.id === x.id)!;
    t.ok(x.neededThreshold <= sc.maxScore, `${x.id}: needed ${x.neededThreshold} <= max ${sc.maxScore}`);
    t.ok(x.normalCallsAtOrAbove <= r1.normal.calls);
  }
  const md = markdownTable(r1);
  for (const f of FAMILIES) t.match(md, `| ${f} |`);
  for (const x of r1.misses) t.match(md, `| ${x.id} | ${x.family} |`);
  for (const c of r1.normal.stepUpCalls) t.match(md, `| ${c.bot} | ${c.profile} | ${c.apiId} |`);
  const svg = sweepSvg(r1);
  t.equal(r1.engine, 'current');
  t.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.equal((svg.match(/<polyline /g) ?? []).length, FAMILIES.length + 1, 'one line per family and the normal flag rate');
});
