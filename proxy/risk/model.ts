// The learned per-bot model: streaming half-space trees (Tan, Ting & Liu,
// "Fast anomaly detection for streaming data", IJCAI 2011). Unsupervised and
// online: every tree splits the unit feature cube at random half-spaces (the
// structure comes from a fixed seed, so it is the same on every replica and
// needs no storage); what a bot learns is only how many of its own calls fell
// in each node, counted over a window of `windowSize` calls (the latest
// window is counted while the previous one, the reference, is scored
// against). Memory per bot: 2 x trees x (2^(depth+1) - 1) 16-bit counts,
// kept with the baseline in the Store. Scoring and learning walk one path per
// tree: O(trees x depth), independent of history.
//
// Explainable: each split on the path credits its feature with how much mass
// the call lost by going that way (log2 of parent over child reference mass);
// the features with the largest share are reported.

export const FEATURES = [
  'hour', // Seoul hour of day (with minutes), /24
  'weekday', // Seoul weekday /6
  'kind', // order, modify, cancel, query, account, other
  'side', // buy, sell, none
  'log_qty', // log10(qty + 1) / 6
  'log_notional', // log10(KRW + 1) / 10
  'sell_fraction', // qty sold / position known, /1.5 (0 when not a sell of a known position)
  'calls_per_minute', // log10(1 + calls in the last minute) / 3
  'reads_today', // log10(1 + account inquiries today) / 3
  'new_api', // 1 when the api-id is new to this bot
  'new_symbol', // 1 never seen, 0.5 first seen within the hour, 0 known
  'new_source', // 1 when the source address is new to this bot
] as const;
export type FeatureName = (typeof FEATURES)[number];

export interface ModelState {
  v: 1;
  /** Calls counted in the latest window. */
  n: number;
  /** Completed windows (0: no reference yet, the model does not score). */
  windows: number;
  /** Reference and latest node masses: base64 of little-endian uint16, trees x nodes. */
  r: string;
  l: string;
}

export interface ModelResult {
  /** Anomaly in [0,1]: 1 - log2(1 + mass score) / log2(1 + windowSize x 2^depth). */
  readonly score: number;
  /** Features that drove the score, largest share first (at most 3). */
  readonly top: readonly { readonly feature: FeatureName; readonly value: number; readonly share: number }[];
}

export interface ModelShape {
  readonly trees: number;
  readonly depth: number;
  readonly windowSize: number;
}

export interface Forest {
  readonly shape: ModelShape;
  score(state: ModelState | undefined, x: readonly number[]): ModelResult | undefined;
  /** Returns the next state (a new object; the argument is not changed). */
  learn(state: ModelState | undefined, x: readonly number[]): ModelState;
}

/** mulberry32: a small seeded PRNG, so the forest is identical everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const decoded = new WeakMap<ModelState, { r: Uint16Array; l: Uint16Array }>();
/** States whose strings are known base64: encoded here, or read and checked once (modelState). */
const base64States = new WeakSet<object>();
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(s: string, size: number): Uint16Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Uint16Array(size);
  for (let i = 0; i < size && 2 * i + 1 < buf.length; i++) out[i] = buf.readUInt16LE(2 * i);
  return out;
}

function encode(a: Uint16Array): string {
  const buf = Buffer.alloc(a.length * 2);
  for (let i = 0; i < a.length; i++) buf.writeUInt16LE(a[i]!, 2 * i);
  return buf.toString('base64');
}

export function createForest(shape: ModelShape, seed = 0x4b47): Forest {
  const { trees, depth, windowSize } = shape;
  const nodes = 2 ** (depth + 1) - 1;
  const internal = 2 ** depth - 1;
  const dims = FEATURES.length;
  const splitDim = new Uint8Array(trees * internal);
  const splitAt = new Float64Array(trees * internal);
  const rnd = prng(seed);
  for (let t = 0; t < trees; t++) {
    // Work space as in the paper: for each dimension a random s in [0,1], range [s - 2max(s,1-s), s + 2max(s,1-s)].
    const lo = new Float64Array(dims),
      hi = new Float64Array(dims);
    for (let d = 0; d < dims; d++) {
      const s = rnd();
      const r = 2 * Math.max(s, 1 - s);
      lo[d] = s - r;
      hi[d] = s + r;
    }
    const build = (node: number, l: Float64Array, h: Float64Array): void => {
      if (node >= internal) return;
      const q = Math.floor(rnd() * dims);
      const mid = (l[q]! + h[q]!) / 2;
      splitDim[t * internal + node] = q;
      splitAt[t * internal + node] = mid;
      const hl = Float64Array.from(h);
      hl[q] = mid;
      const lr = Float64Array.from(l);
      lr[q] = mid;
      build(2 * node + 1, l, hl);
      build(2 * node + 2, lr, h);
    };
    build(0, lo, hi);
  }
  const sizeLimit = Math.max(1, Math.floor(0.1 * windowSize));
  const maxScore = Math.log2(1 + windowSize * 2 ** depth);

  function arrays(state: ModelState): { r: Uint16Array; l: Uint16Array } {
    let a = decoded.get(state);
    if (!a) {
      a = { r: decode(state.r, trees * nodes), l: decode(state.l, trees * nodes) };
      decoded.set(state, a);
    }
    return a;
  }

  function score(state: ModelState | undefined, x: readonly number[]): ModelResult | undefined {
    if (!state || state.windows < 1) return undefined;
    const { r } = arrays(state);
    const credit = new Float64Array(dims);
    let total = 0;
    for (let t = 0; t < trees; t++) {
      const base = t * nodes;
      let node = 0,
        k = 0;
      while (k < depth && r[base + node]! >= sizeLimit) {
        const q = splitDim[t * internal + node]!;
        const child = (x[q] ?? 0) < splitAt[t * internal + node]! ? 2 * node + 1 : 2 * node + 2;
        credit[q] = credit[q]! + Math.log2((r[base + node]! + 1) / (r[base + child]! + 1));
        node = child;
        k++;
      }
      total += r[base + node]! * 2 ** k;
    }
    const anomaly = Math.min(1, Math.max(0, 1 - Math.log2(1 + total / trees) / maxScore));
    const sum = credit.reduce((a, c) => a + Math.max(0, c), 0);
    const top = [...credit]
      .map((c, i) => ({ feature: FEATURES[i]!, value: Math.round((x[i] ?? 0) * 1000) / 1000, share: sum > 0 ? Math.max(0, c) / sum : 0 }))
      .filter((f) => f.share > 0)
      .sort((a, b) => b.share - a.share)
      .slice(0, 3)
      .map((f) => ({ ...f, share: Math.round(f.share * 100) / 100 }));
    return { score: Math.round(anomaly * 10_000) / 10_000, top };
  }

  function learn(state: ModelState | undefined, x: readonly number[]): ModelState {
    const prev = state && state.v === 1 ? arrays(state) : undefined;
    let r = prev ? prev.r : new Uint16Array(trees * nodes);
    let l = prev ? Uint16Array.from(prev.l) : new Uint16Array(trees * nodes);
    for (let t = 0; t < trees; t++) {
      const base = t * nodes;
      let node = 0;
      for (let k = 0; ; k++) {
        if (l[base + node]! < 65_535) l[base + node] = l[base + node]! + 1;
        if (k >= depth) break;
        node = (x[splitDim[t * internal + node]!] ?? 0) < splitAt[t * internal + node]! ? 2 * node + 1 : 2 * node + 2;
      }
    }
    let n = (state?.n ?? 0) + 1,
      windows = state?.windows ?? 0;
    if (n >= windowSize) {
      r = l;
      l = new Uint16Array(trees * nodes);
      n = 0;
      windows += 1;
    }
    const next: ModelState = { v: 1, n, windows, r: r === prev?.r ? state!.r : encode(r), l: encode(l) };
    decoded.set(next, { r, l });
    // Its r is either encoded here or a checked state's (learn is given modelState's result).
    base64States.add(next);
    return next;
  }

  return { shape, score, learn };
}

/** Parses a stored model state; anything malformed reads as none (the model warms up again). */
export function modelState(raw: unknown, shape: ModelShape): ModelState | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const s = raw as Partial<ModelState>;
  const bytes = 2 * shape.trees * (2 ** (shape.depth + 1) - 1);
  const size = Math.ceil(bytes / 3) * 4;
  if (s.v !== 1 || typeof s.n !== 'number' || typeof s.windows !== 'number' || typeof s.r !== 'string' || typeof s.l !== 'string') return undefined;
  if (s.r.length !== size || s.l.length !== size) return undefined;
  if (!base64States.has(s)) {
    if (!BASE64.test(s.r) || !BASE64.test(s.l)) return undefined;
    base64States.add(s);
  }
  return s as ModelState;
}

/**
 * A model state's JSON text. A checked state's is put together by hand: its strings are base64, which JSON never
 * escapes, and JSON.stringify's scan of their 10 KB for characters to escape was a fifth of every learned call.
 * Anything else (a state never checked) goes through JSON.stringify.
 */
export function modelJson(state: unknown): string {
  if (typeof state !== 'object' || state === null || !base64States.has(state)) return JSON.stringify(state);
  const s = state as ModelState;
  return `{"v":${s.v},"n":${s.n},"windows":${s.windows},"r":"${s.r}","l":"${s.l}"}`;
}
