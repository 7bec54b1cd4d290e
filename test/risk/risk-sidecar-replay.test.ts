// The risk evaluation's figures are the real sidecar's: every attack scenario
// of a small seeded corpus (one per family, inside its victims' own traffic)
// is replayed through the sidecar over HTTP and its WebSocket, in front of the
// simulator, at accelerated time — held calls decided by enrolled approvers
// over the admin API, lockdowns by the responder — and at engine level, and
// the two agree on every call's outcome and score. A sidecar stage that
// refused, judged or learned a call differently from what bench/risk assumes
// would show here as a disagreement (or as a refusal the replay stops on).
import t from 'tap';
import { comparingReplayer } from '../../bench/risk/compare-replays.js';
import { buildCorpus } from '../../bench/risk/corpus.js';
import { evaluate } from '../../bench/risk/evaluate.js';
import { FAMILIES } from '../../bench/risk/types.js';
import { REDUCED } from './risk-eval-corpus.js';
import { allowCpuBoundFile } from '../helpers/cpu-bound.js';
import { seoulDate } from '../../proxy/common/kst.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';

allowCpuBoundFile(t);

// Two trading days: about 3,900 calls in the nine scenario streams (each attack inside its victims' own traffic).
const { corpus, labels } = buildCorpus({ ...REDUCED, tradingDays: 2 });

t.test('every call of every scenario: the same outcome and score through the sidecar as at engine level', async (t) => {
  const comparing = comparingReplayer();
  const outcomes = new Map<string, number>();
  const results = await evaluate(corpus, labels, {
    skipNormal: true,
    replayer: async (c, events, opts) => {
      const records = await comparing.replayer(c, events, opts);
      for (const r of records) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
      return records;
    },
  });
  const total = comparing.total();
  t.same(
    results.scenarios.map((s) => s.family),
    [...FAMILIES],
    'one scenario per family',
  );
  t.ok(total.calls > 3000, `${total.calls} calls replayed both ways`);
  t.same(total.disagreements.slice(0, 10), [], 'no call differs in outcome or score');
  t.equal(total.sameOutcome, total.calls);
  t.equal(total.sameScore, total.calls);
  // The paths that make the figures ran for real: approvals decided over the admin API, automatic lockdowns,
  // calls of a locked-down bot refused.
  for (const o of ['forwarded', 'held-refused', 'lockdown', 'halted']) t.ok((outcomes.get(o) ?? 0) > 0, `some calls ${o}`);
});

t.test('a realtime LOGIN above step-up (a new address at night) is refused in both replays, its message never sent', async (t) => {
  // A bot that runs condition searches: its first 80 calls (warm: 50 calls, and a baseline a day old by the night).
  const realtime = new Set(['ka10172', 'ka10173', 'ka10174']);
  const searcher = corpus.traffic.find((e) => realtime.has(e.apiId))!.bot;
  const own = corpus.traffic.filter((e) => e.bot === searcher).slice(0, 80);
  const search = own.find((e) => realtime.has(e.apiId)) ?? corpus.traffic.find((e) => e.bot === searcher && realtime.has(e.apiId))!;
  // A clear of its own search, from an address it never used, at 02:30 Seoul two days after its first call. A clear
  // itself is never refused (the policy is not asked): only its LOGIN's judgement keeps it from going out.
  const night = seoulToEpoch(seoulDate(own[0]!.t + 2 * 86_400_000), 2, 30);
  const stolen = {
    ...search,
    id: Math.max(...corpus.traffic.map((e) => e.id)) + 1,
    t: night,
    sourceIp: '203.0.113.77',
    apiId: 'ka10174',
    body: { seq: search.body.seq! },
  };
  const comparing = comparingReplayer();
  const records = await comparing.replayer(corpus, [...own, stolen], { approve: () => true, haltOnLockdown: true });
  const last = records.at(-1)!;
  t.equal(last.outcome, 'refused', `refused at its LOGIN (score ${last.score}: ${last.detectors.join(', ')})`);
  t.ok(last.score > 0.7 && last.score < 0.95, 'above step-up, below lockdown');
  t.same(comparing.total().disagreements, [], 'the engine-level replay judges the LOGIN the same way');
});
