// npm run bench:risk:trace -- s066 [s070 …] — replays the named scenarios of
// the seeded corpus (RISK_SEED, as bench:risk) through the real engine and
// prints every attack call's score with each detector's contribution and
// reason: why a scenario was caught late or not at all.
import { DEFAULT_STEP_UP } from '../../proxy/policy/compile.js';
import { buildCorpus, FULL } from './corpus.js';
import { notionalOfEvent, replay } from './replay.js';
import { seoulMinute } from './report.js';
import type { CorpusEvent } from './types.js';
import type { RiskAssessment } from '../../proxy/risk/index.js';

const seed = Number(process.env.RISK_SEED ?? FULL.seed);
const wanted = process.argv.slice(2);
if (wanted.length === 0) {
  process.stderr.write('usage: bench:risk:trace -- <scenario id>... (RISK_SEED picks the corpus)\n');
  process.exit(2);
}
const { corpus, labels, traces } = buildCorpus({ ...FULL, seed });
for (const id of wanted) {
  const s = corpus.scenarios.find((x) => x.id === id);
  const truth = labels.scenarios.get(id);
  if (!s || !truth) {
    process.stdout.write(`${id}: no such scenario in seed ${seed}\n`);
    continue;
  }
  const victims = new Set(s.victims);
  const profiles = s.victims.map((v) => `${v} (${traces.find((t) => t.bot.id === v)?.profile})`).join(', ');
  process.stdout.write(`\n## ${id} ${truth.family}/${truth.variant}, seed ${seed}, victims ${profiles}\n`);
  const end = Math.max(...s.events.map((e) => e.t)) + 10 * 60_000;
  const stream = [...corpus.traffic.filter((e) => victims.has(e.bot) && e.t <= end), ...s.events].sort((a, b) => a.t - b.t || a.id - b.id);
  const attackIds = new Set(s.events.map((e) => e.id));
  const seen: Array<[CorpusEvent, RiskAssessment]> = [];
  const from = Math.min(...s.events.map((e) => e.t));
  const records = await replay(corpus, stream, {
    approve: (ev) => labels.events.get(ev.id)?.class === 'normal',
    haltOnLockdown: true,
    onAssess: (ev, a) => {
      // The attack's calls, and the victims' own calls held or locked down once it began.
      if (attackIds.has(ev.id) || (ev.t >= from && a.score > DEFAULT_STEP_UP)) seen.push([ev, a]);
    },
  });
  const outcome = new Map(records.map((r) => [r.eventId, r.outcome]));
  for (const [ev, a] of seen) {
    const what = `${ev.apiId} ${ev.body.stk_cd ?? ''} qty ${ev.body.ord_qty ?? '-'} KRW ${notionalOfEvent(ev).toLocaleString('en')}`;
    const own = attackIds.has(ev.id) ? '' : " [the victim's own call]";
    process.stdout.write(`${seoulMinute(ev.t)} ${ev.bot} ${ev.sourceIp} ${what}: score ${a.score.toFixed(2)} ${outcome.get(ev.id)}${own}\n`);
    for (const c of a.contributions)
      process.stdout.write(`    ${c.detector} ${c.score.toFixed(2)} x ${c.weight} = ${c.contribution.toFixed(2)}: ${c.reason}\n`);
  }
  const unseen = s.events.length - seen.filter(([ev]) => attackIds.has(ev.id)).length;
  if (unseen > 0) process.stdout.write(`(${unseen} attack calls after the bot was halted)\n`);
}
