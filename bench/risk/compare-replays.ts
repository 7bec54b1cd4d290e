// Replays the same events at engine level (replay.ts) and through the real
// sidecar over HTTP (sidecar-replay.ts) and reports, call by call, where the
// two disagree on the outcome or the score: the evidence that bench:risk's
// engine-level figures are the sidecar's.
import type { Replayer } from './evaluate.js';
import { replay, type CallRecord, type ReplayOptions } from './replay.js';
import { replayThroughSidecar } from './sidecar-replay.js';
import type { Corpus, CorpusEvent, Labels } from './types.js';

export interface Disagreement {
  readonly eventId: number;
  readonly apiId: string;
  readonly engine: Pick<CallRecord, 'outcome' | 'score'>;
  readonly sidecar: Pick<CallRecord, 'outcome' | 'score'>;
}

export interface Comparison {
  readonly calls: number;
  readonly sameOutcome: number;
  /** Scores within 0.01 (the sidecar's lockdown error carries two decimals). */
  readonly sameScore: number;
  readonly disagreements: readonly Disagreement[];
  readonly engineMs: number;
  readonly sidecarMs: number;
}

export async function compareReplays(corpus: Corpus, events: readonly CorpusEvent[], opts: ReplayOptions): Promise<Comparison> {
  return (await compared(corpus, events, opts)).comparison;
}

async function compared(corpus: Corpus, events: readonly CorpusEvent[], opts: ReplayOptions): Promise<{ comparison: Comparison; sidecar: CallRecord[] }> {
  const t0 = performance.now();
  // The engine-level replay only looks: its assessments are not the sidecar's, and the caller hears the sidecar's.
  const { onAssess: _, ...quiet } = opts;
  const engine = await replay(corpus, events, quiet);
  const t1 = performance.now();
  const sidecar = await replayThroughSidecar(corpus, events, opts);
  const t2 = performance.now();
  const api = new Map(events.map((e) => [e.id, e.apiId]));
  const disagreements: Disagreement[] = [];
  let sameOutcome = 0;
  let sameScore = 0;
  engine.forEach((e, i) => {
    const s = sidecar[i]!;
    const outcomeOk = e.outcome === s.outcome;
    const scoreOk = Math.abs(e.score - s.score) < 0.01 || (e.outcome === 'halted' && s.outcome === 'halted');
    if (outcomeOk) sameOutcome++;
    if (scoreOk) sameScore++;
    if (!outcomeOk || !scoreOk)
      disagreements.push({
        eventId: e.eventId,
        apiId: api.get(e.eventId)!,
        engine: { outcome: e.outcome, score: e.score },
        sidecar: { outcome: s.outcome, score: s.score },
      });
  });
  return { comparison: { calls: engine.length, sameOutcome, sameScore, disagreements, engineMs: t1 - t0, sidecarMs: t2 - t1 }, sidecar };
}

/**
 * A replayer for evaluate() that replays every stream through the sidecar (its records make the figures) and at
 * engine level too, and keeps the call-by-call comparison of the two over the whole evaluation.
 */
export function comparingReplayer(): { replayer: Replayer; total(): Comparison } {
  const sum = { calls: 0, sameOutcome: 0, sameScore: 0, disagreements: [] as Disagreement[], engineMs: 0, sidecarMs: 0 };
  return {
    async replayer(corpus, events, opts) {
      const { comparison: c, sidecar } = await compared(corpus, events, opts);
      sum.calls += c.calls;
      sum.sameOutcome += c.sameOutcome;
      sum.sameScore += c.sameScore;
      sum.disagreements.push(...c.disagreements);
      sum.engineMs += c.engineMs;
      sum.sidecarMs += c.sidecarMs;
      return sidecar;
    },
    total: () => ({ ...sum, disagreements: [...sum.disagreements] }),
  };
}

/** A scenario inside its victims' traffic, as evaluate() replays it. */
export function scenarioStream(corpus: Corpus, id: string): CorpusEvent[] {
  const s = corpus.scenarios.find((x) => x.id === id)!;
  const victims = new Set(s.victims);
  const end = Math.max(...s.events.map((e) => e.t)) + 10 * 60_000;
  return [...corpus.traffic.filter((e) => victims.has(e.bot) && e.t <= end), ...s.events].sort((a, b) => a.t - b.t || a.id - b.id);
}

export const approveNormal =
  (labels: Labels): ReplayOptions['approve'] =>
  (ev) =>
    labels.events.get(ev.id)?.class === 'normal';
