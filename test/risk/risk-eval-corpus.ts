// The reduced corpus the suite evaluates (risk-eval and risk-detection tests).
import type { CorpusOptions } from '../../bench/risk/corpus.js';

// From 2026-02-09: eight trading days that include the shortened session and Seollal.
export const REDUCED: CorpusOptions = { seed: 1717, tradingDays: 8, instances: 1, reps: 1, variantsPerFamily: 1, start: '2026-02-09' };
