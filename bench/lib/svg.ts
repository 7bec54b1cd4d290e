// A latency-percentile chart as a standalone SVG, written by hand: percentile
// on x at log-ish spacing (distance from 100%: 50, 90, 99, 99.9 are equally
// spaced), latency in ms on a linear y axis, one line per target.

export interface ChartSeries {
  readonly name: string;
  /** [percentile, latency ms], percentiles ascending. */
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly width?: number;
  readonly height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** x position before scaling: 50 -> 0.30, 90 -> 1, 99 -> 2, 99.9 -> 3. */
function percentileScale(p: number): number {
  return -Math.log10(1 - p / 100);
}

/** A "nice" axis step (1, 2 or 5 x 10^n) giving about `ticks` intervals. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

export function percentileChartSvg(series: readonly ChartSeries[], opts: ChartOptions): string {
  const width = opts.width ?? 820;
  const height = opts.height ?? 480;
  const m = { top: 60, right: 190, bottom: 55, left: 70 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points);
  const pcts = [...new Set(all.map(([p]) => p))].sort((a, b) => a - b);
  const xMin = percentileScale(pcts[0] ?? 50);
  const xMax = percentileScale(pcts.at(-1) ?? 99.9);
  const yMaxRaw = Math.max(1e-3, ...all.map(([, v]) => v).filter(Number.isFinite));
  const step = niceStep(yMaxRaw, 6);
  const yMax = Math.ceil(yMaxRaw / step) * step;
  const x = (p: number) => m.left + ((percentileScale(p) - xMin) / (xMax - xMin || 1)) * plotW;
  const y = (v: number) => m.top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`);
  if (opts.subtitle) out.push(`<text x="${m.left}" y="44" fill="#555">${escapeXml(opts.subtitle)}</text>`);
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${+v.toPrecision(6)}</text>`);
  }
  for (const p of pcts) {
    const xx = x(p).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + plotH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${xx}" y="${m.top + plotH + 18}" text-anchor="middle">p${p}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle">percentile</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([p, v]) => `${x(p).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [p, v] of pts)
      out.push(
        `<circle cx="${x(p).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name} p${p}: ${v} ms`)}</title></circle>`,
      );
    const ly = m.top + 10 + i * 20;
    out.push(`<line x1="${m.left + plotW + 15}" x2="${m.left + plotW + 35}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${m.left + plotW + 40}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface TimeSeries {
  readonly name: string;
  /** [x, y] points, x ascending (e.g. minutes, MB). */
  readonly points: readonly (readonly [number, number])[];
}

/** A line chart of time series (linear x and y), e.g. heap after GC over a soak. */
export function timeSeriesSvg(series: readonly TimeSeries[], opts: ChartOptions & { readonly xLabel: string; readonly yLabel: string }): string {
  const width = opts.width ?? 820;
  const height = opts.height ?? 480;
  const m = { top: 60, right: 190, bottom: 55, left: 70 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  const xMax = Math.max(1e-3, ...all.map(([a]) => a));
  const yMaxRaw = Math.max(1e-3, ...all.map(([, b]) => b));
  const xStep = niceStep(xMax, 8);
  const yStep = niceStep(yMaxRaw, 6);
  const yMax = Math.ceil(yMaxRaw / yStep) * yStep;
  const x = (v: number) => m.left + (v / xMax) * plotW;
  const y = (v: number) => m.top + plotH - (v / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="24" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`,
  ];
  if (opts.subtitle) out.push(`<text x="${m.left}" y="44" fill="#555">${escapeXml(opts.subtitle)}</text>`);
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${+v.toPrecision(6)}</text>`);
  }
  for (let v = 0; v <= xMax + xStep / 2; v += xStep) {
    const xx = x(v).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + plotH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${xx}" y="${m.top + plotH + 18}" text-anchor="middle">${+v.toPrecision(6)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`);
    const ly = m.top + 10 + i * 20;
    out.push(`<line x1="${m.left + plotW + 15}" x2="${m.left + plotW + 35}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${m.left + plotW + 40}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
