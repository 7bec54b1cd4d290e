// Detection on the reduced, seeded corpus of bench/risk (see risk-eval.test.ts
// for the corpus and the evaluation's own properties): the detection
// properties that would fail if a detector broke — which families lock down
// (and with how little money moved), which detector carries each, no
// admin-level false positive on normal traffic — and the rules-only baseline
// catching less. A file of its own: each evaluation replays the whole corpus,
// and the two files run side by side. The full figures come from `npm run bench:risk`.
import t from 'tap';
import { buildCorpus } from '../../bench/risk/corpus.js';
import { evaluate } from '../../bench/risk/evaluate.js';
import { REDUCED } from './risk-eval-corpus.js';
import { allowCpuBoundFile } from '../helpers/cpu-bound.js';

allowCpuBoundFile(t);

const { corpus, labels } = buildCorpus(REDUCED);

t.test('detection on the reduced corpus: what locks down, on which detector, and no admin-level false positive', async (t) => {
  const r = await evaluate(corpus, labels);
  const by = (f: string) => r.scenarios.find((s) => s.family === f)!;
  // Every victim here is warm when the attack starts (the dca victim of low_and_slow is not: warm-up, by design).
  for (const f of ['stolen_token_night', 'liquidate', 'pump_thin', 'scraping', 'cancel_storm', 'api_probing', 'condition_tamper']) {
    t.ok(by(f).firstLockdown, `${f} locks down`);
  }
  for (const f of ['stolen_token_night', 'scraping', 'cancel_storm', 'api_probing']) t.equal(by(f).firstLockdown?.krwMoved, 0, `${f}: nothing moved`);
  t.ok(by('stolen_token_night').firstLockdown!.calls <= 3, 'the stolen token escalates by its third held call');
  // The escalation follow locks scraping down at account_reads' first hit: api_breadth may outnumber it.
  t.ok(
    ['account_reads', 'api_breadth'].some((d) => by('scraping').topDetectors.includes(d)),
    'scraping: account_reads or api_breadth',
  );
  t.ok(by('api_probing').topDetectors.includes('api_breadth'), 'api probing: api_breadth');
  t.ok(by('cancel_storm').topDetectors.includes('cancel_storm'), 'cancel storm: cancel_storm');
  t.ok(by('condition_tamper').topDetectors.includes('condition'), 'condition tampering: condition');
  // Liquidation from a network the victim never used is held at its first sell and locked down before any moved.
  const liquidate = by('liquidate');
  const carriers = liquidate.variant.startsWith('new-ip') ? ['network'] : ['sell_off', 'drain'];
  t.ok(
    liquidate.topDetectors.some((d) => carriers.includes(d)),
    `liquidation (${liquidate.variant}): ${carriers.join(' or ')} (${liquidate.topDetectors.join(', ')})`,
  );
  if (liquidate.variant.startsWith('new-ip')) t.equal(liquidate.firstLockdown?.krwMoved, 0, 'liquidation from a new network: nothing moved');
  const overall = r.families.find((f) => f.family === 'overall')!;
  t.ok(overall.lockdown.detected >= 7, `lockdown catches ${overall.lockdown.detected}/${overall.lockdown.scenarios}`);
  t.equal(r.normal.admin, 0, 'no admin-level false positive');
  t.equal(r.normal.lockdowns, 0, 'no lockdown on normal traffic');
  t.ok(r.normal.maxStepUpsInOneBotWeek <= 1, `at most one step-up per bot-week (${r.normal.maxStepUpsInOneBotWeek})`);
  t.equal(r.model.weight, 0, 'the learned model runs in shadow');
  t.ok(r.model.normalScored > 0, 'and is scored on normal traffic');

  // The rules-only baseline misses what the new detectors catch (so a broken detector shows here).
  const rules = await evaluate(corpus, labels, { engine: 'rules', skipNormal: true }); // scenario figures are what is compared
  const rulesOverall = rules.families.find((f) => f.family === 'overall')!;
  t.ok(rulesOverall.lockdown.detected < overall.lockdown.detected, `rules only: ${rulesOverall.lockdown.detected}/${rulesOverall.lockdown.scenarios}`);
});
