// Renders the evaluation: a Markdown table and a hand-written SVG of
// detection rate against the threshold per family (with the normal traffic's
// flag rate on a second axis), ROC-like.
import type { FamilyFigures, Results, ThresholdFigures } from './evaluate.js';
import { FAMILIES } from './types.js';
import { KST_OFFSET_MS } from '../../proxy/common/kst.js';

/** 2026-02-19 11:55, in Seoul. */
export const seoulMinute = (t: number): string => new Date(t + KST_OFFSET_MS).toISOString().slice(0, 16).replace('T', ' ');

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
const krw = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(0)}k` : x.toFixed(0));
const num = (x: number | null, d = 0): string => (x === null ? '–' : x.toFixed(d));

function cells(f: ThresholdFigures): string[] {
  return [
    `${pct(f.detectionRate)} (${f.detected}/${f.scenarios})`,
    num(f.medianCallsToDetect),
    num(f.medianSecondsToDetect),
    krw(f.medianKrwMoved),
    krw(f.maxKrwMoved),
  ];
}

export function markdownTable(r: Results): string {
  const lines: string[] = [];
  const n = r.normal;
  lines.push(
    `Corpus seed ${r.seed}: ${r.corpus.bots} bots, ${r.corpus.tradingDays} trading days (${r.corpus.days} calendar days), ` +
      `${r.corpus.normalCalls.toLocaleString('en')} normal calls, ${r.corpus.scenarios} attack scenarios (${r.corpus.attackCalls} attack calls). ` +
      `Thresholds: step-up score > ${r.thresholds.stepUp}, lockdown score >= ${r.thresholds.lockdown}.`,
  );
  lines.push('');
  lines.push('### Detection per attack family');
  lines.push('');
  lines.push(
    '| family | step-up: detected | calls | seconds | KRW moved (median) | KRW moved (max) | lockdown: detected | calls | seconds | KRW moved (median) | KRW moved (max) | stopped < 1M KRW at lockdown |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of r.families as FamilyFigures[]) {
    const name = f.family === 'overall' ? '**overall**' : f.family;
    lines.push(`| ${name} | ${cells(f.stepUp).join(' | ')} | ${cells(f.lockdown).join(' | ')} | ${f.lockdown.stoppedUnder1M}/${f.lockdown.scenarios} |`);
  }
  lines.push('');
  lines.push('Calls and seconds: medians over detected scenarios, counted from the first attack call (1 = caught on the first call).');
  lines.push('KRW moved: attack orders (qty × price from their bodies) that went out before detection; all of them when never detected.');
  lines.push('');
  const m = r.model;
  lines.push('### Learned model (half-space trees), shadow figures');
  lines.push('');
  lines.push(
    `Weight ${m.weight}${m.weight === 0 ? ' (shadow: scored and recorded, adds nothing)' : ''}. Normal calls scored: ${m.normalScored.toLocaleString('en')}; ` +
      `model score p99.9 ${m.normalP999.toFixed(3)}, max ${m.normalMax.toFixed(3)}. Scenarios with an attack call above the highest normal score ` +
      `(detections at zero false positives): ${m.scenariosAboveNormalMax}/${r.scenarios.length}; of those not caught by the rules at lockdown: ` +
      `${m.addedOverLockdown}, at step-up: ${m.addedOverStepUp}.`,
  );
  lines.push('');
  if (r.misses.length > 0) {
    lines.push('### What the scenarios not stopped before 1M KRW would cost');
    lines.push('');
    lines.push(
      'To first order (the same scores): the lockdown threshold that would have stopped each in time (the highest score among its calls ' +
        'made before 1,000,000 KRW had moved), and how many normal calls score at or above it: each would lock a bot at work down. ' +
        'None: no detector fired on any of its calls before 1,000,000 KRW had moved, so no threshold separates it from normal traffic.',
    );
    lines.push('');
    lines.push('| scenario | family | variant | KRW moved | lockdown threshold needed | normal calls at or above | lockdowns per bot-week |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const x of r.misses) {
      const cost =
        x.neededThreshold > 0
          ? `${x.neededThreshold.toFixed(2)} | ${x.normalCallsAtOrAbove.toLocaleString('en')} | ${x.perBotWeek.toFixed(2)}`
          : 'none (no detector fired) | every call | -';
      lines.push(`| ${x.id} | ${x.family} | ${x.variant} | ${krw(x.krwMoved)} | ${cost} |`);
    }
    lines.push('');
  }
  lines.push('### False positives on normal traffic');
  lines.push('');
  lines.push(`Step-ups per bot-week: ${n.stepUpsPerBotWeek.toFixed(3)} on average; the most in one bot's Seoul week (Mon-Sun): ${n.maxStepUpsInOneBotWeek}.`);
  lines.push('');
  lines.push('| | calls | bot-days | step-ups (score > step-up or lockdown) | per 10,000 calls | per bot-day | admin-level | lockdowns |');
  lines.push('|---|---|---|---|---|---|---|---|');
  lines.push(
    `| **all** | ${n.calls} | ${n.botDays} | ${n.stepUps} | ${n.stepUpsPer10k.toFixed(2)} | ${n.stepUpsPerBotDay.toFixed(3)} | ${n.admin} | ${n.lockdowns} (${n.lockdownsPer10k.toFixed(2)} per 10k) |`,
  );
  for (const [p, v] of Object.entries(n.byProfile)) {
    lines.push(
      `| ${p} | ${v.calls} | ${v.botDays} | ${v.stepUps} | ${((v.stepUps / Math.max(1, v.calls)) * 1e4).toFixed(2)} | ${(v.stepUps / Math.max(1, v.botDays)).toFixed(3)} | | ${v.lockdowns} |`,
    );
  }
  const dets = Object.entries(n.detectorsOnStepUps).sort((a, b) => b[1] - a[1]);
  if (dets.length > 0) lines.push('', `Detectors on normal step-ups: ${dets.map(([d, c]) => `${d} ${c}`).join(', ')}.`);
  if (n.stepUpCalls.length > 0) {
    lines.push('', 'Each normal call held (Seoul time; the owner approves it, and the bot carries on):', '');
    lines.push('| Seoul time | bot | profile | api-id | symbol | score | detectors (contribution: reason) |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const c of n.stepUpCalls) {
      const why = c.because.map((b) => `${b.detector} ${b.contribution.toFixed(2)}: ${b.reason.replaceAll('|', '/')}`).join('<br>');
      lines.push(`| ${seoulMinute(c.t)} | ${c.bot} | ${c.profile} | ${c.apiId} | ${c.symbol ?? ''} | ${c.score.toFixed(2)} | ${why} |`);
    }
    if (n.stepUpCalls.length < n.stepUps) lines.push('', `(the first ${n.stepUpCalls.length} of ${n.stepUps})`);
  }
  lines.push('');
  lines.push('### Scenarios');
  lines.push('');
  lines.push('| scenario | family | variant | victims | attack calls | attack KRW | max score | step-up at call | lockdown at call | KRW moved | detectors |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of r.scenarios) {
    lines.push(
      `| ${s.id} | ${s.family} | ${s.variant} | ${s.victims.length} | ${s.attackCalls} | ${krw(s.attackKrw)} | ${s.maxScore.toFixed(2)} | ${s.firstStepUp?.calls ?? '–'} | ${s.firstLockdown?.calls ?? '–'} | ${krw(s.firstLockdown?.krwMoved ?? s.krwMovedTotal)} | ${s.topDetectors.join(', ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function sweepSvg(r: Results): string {
  const W = 900,
    H = 500;
  const m = { top: 60, right: 230, bottom: 55, left: 65 };
  const pw = W - m.left - m.right,
    ph = H - m.top - m.bottom;
  const x = (t: number): number => m.left + t * pw;
  const y = (v: number): number => m.top + ph - v * ph;
  const maxFp = Math.max(1, ...r.sweep.map((s) => s.normalPer10k));
  const yFp = (v: number): number => m.top + ph - (Math.log10(1 + v) / Math.log10(1 + maxFp)) * ph;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  o.push(
    `<text x="${m.left}" y="24" font-size="16" font-weight="bold">Risk engine (${r.engine === 'rules' ? 'rules only' : 'with cross-tenant detectors'}): detection rate vs score threshold, per family</text>`,
  );
  o.push(
    `<text x="${m.left}" y="44" fill="#555">seed ${r.seed}; a scenario counts as detected at t when one attack call scores &gt;= t; dashed: normal calls flagged per 10,000 (right axis, log)</text>`,
  );
  for (let i = 0; i <= 10; i++) {
    const v = i / 10;
    o.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    o.push(`<text x="${m.left - 8}" y="${y(v) + 4}" text-anchor="end">${(v * 100).toFixed(0)}%</text>`);
    o.push(`<text x="${x(v)}" y="${m.top + ph + 18}" text-anchor="middle">${v.toFixed(1)}</text>`);
  }
  for (const [t, label] of [
    [r.thresholds.stepUp, 'step-up'],
    [r.thresholds.lockdown, 'lockdown'],
  ] as const) {
    o.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${m.top}" y2="${m.top + ph}" stroke="#999" stroke-dasharray="2,3"/>`);
    o.push(`<text x="${x(t) + 3}" y="${m.top + 12}" fill="#666">${label}</text>`);
  }
  o.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${m.left + pw / 2}" y="${H - 15}" text-anchor="middle">risk score threshold</text>`);
  o.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">scenarios detected</text>`);
  FAMILIES.forEach((f, i) => {
    const pts = r.sweep.map((s) => `${x(s.threshold).toFixed(1)},${y(s.detection[f]).toFixed(1)}`).join(' ');
    o.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
    const ly = m.top + 10 + i * 20;
    o.push(`<line x1="${m.left + pw + 40}" x2="${m.left + pw + 62}" y1="${ly}" y2="${ly}" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
    o.push(`<text x="${m.left + pw + 68}" y="${ly + 4}">${f}</text>`);
  });
  const fp = r.sweep.map((s) => `${x(s.threshold).toFixed(1)},${yFp(s.normalPer10k).toFixed(1)}`).join(' ');
  o.push(`<polyline points="${fp}" fill="none" stroke="#000" stroke-width="1.5" stroke-dasharray="6,4"/>`);
  const ly = m.top + 10 + FAMILIES.length * 20;
  o.push(`<line x1="${m.left + pw + 40}" x2="${m.left + pw + 62}" y1="${ly}" y2="${ly}" stroke="#000" stroke-dasharray="6,4"/>`);
  o.push(`<text x="${m.left + pw + 68}" y="${ly + 4}">normal flagged /10k</text>`);
  for (const v of [0, 1, 10, 100, 1000, 10000].filter((v) => v <= maxFp * 1.01)) {
    o.push(`<text x="${m.left + pw + 6}" y="${yFp(v) + 4}" fill="#333">${v}</text>`);
  }
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
