// kguard policy check | test | explain | diff | schema — tools for security
// staff to validate, unit-test, understand and review policy files.
import { compilePolicy } from '../policy/compile.js';
import { loadCases, loadExplainCall, runCase } from '../policy/cases.js';
import { diffPolicies, type DiffEntry } from '../policy/diff.js';
import { formatIssues, PolicyLoadError } from '../policy/errors.js';
import { loadPolicyFile, type LoadedPolicy } from '../policy/load.js';
import { POLICY_SCHEMA } from '../policy/schema.js';
import { ruleListFor, type TraceEntry } from '../policy/evaluate.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import type { Language } from '../common/errors.js';
import { configFromFlags } from './args.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand, CliIO } from './types.js';

interface Flags {
  positional: readonly string[];
  json: boolean;
  /** The language of generated reasons when the policy names none: --lang, else the sidecar's configured language. */
  lang: () => Promise<Language>;
  call?: string;
  failOnLoosen: boolean;
}

/** The registry parsed and checked the command line (commands.ts); the sub-commands read it as before. */
function policyFlags(ctx: Ctx): Flags {
  // The sidecar's default (Korean), not English: a case's reasonContains and explain's reasons are what the bot would read.
  const flag = ctx.str('lang') as Language | undefined;
  const lang = async () => flag ?? (await configFromFlags(ctx.values, ctx.io)).language;
  const common = { positional: ctx.positionals, json: ctx.bool('json'), lang };
  const call = ctx.path[1] === 'explain' ? ctx.str('call') : undefined;
  return { ...common, failOnLoosen: ctx.path[1] === 'diff' && ctx.bool('fail-on-loosen'), ...(call !== undefined ? { call } : {}) };
}

function write(io: CliIO, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function loadOrReport(file: string, io: CliIO): Promise<LoadedPolicy | undefined> {
  try {
    return await loadPolicyFile(file);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${formatIssues(err.issues)}\n`);
      return undefined;
    }
    throw err;
  }
}

async function checkFiles(f: Flags, io: CliIO): Promise<number> {
  let bad = 0;
  const results: unknown[] = [];
  for (const file of f.positional) {
    try {
      const p = await loadPolicyFile(file);
      results.push({ file, ok: true, version: p.version, rules: p.doc.rules.length });
      if (!f.json) write(io, `${file}: OK (${p.doc.rules.length} rules, version ${p.version})`);
    } catch (err) {
      if (!(err instanceof PolicyLoadError)) throw err;
      bad++;
      results.push({ file, ok: false, issues: err.issues });
      if (!f.json) io.stderr.write(`${formatIssues(err.issues)}\n${file}: ${err.issues.length} problem(s)\n`);
    }
  }
  if (f.json) write(io, JSON.stringify(results, null, 2));
  return bad === 0 ? 0 : 1;
}

async function testCases(f: Flags, io: CliIO): Promise<number> {
  const [file, casesFile] = f.positional as [string, string];
  const loaded = await loadOrReport(file, io);
  if (!loaded) return 1;
  let cases: Awaited<ReturnType<typeof loadCases>>;
  try {
    cases = await loadCases(casesFile);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${formatIssues(err.issues)}\n`);
      return 1;
    }
    throw err;
  }
  const policy = compilePolicy(loaded, await f.lang());
  let failed = 0;
  const results = [];
  for (const c of cases) {
    let r: { name: string; passed: boolean; problems: string[]; side?: string; sideWhy?: string };
    try {
      r = await runCase(policy, c);
    } catch (err) {
      r = { name: c.name, passed: false, problems: [(err as Error).message] };
    }
    results.push(r);
    if (!r.passed) failed++;
    if (!f.json) {
      write(io, `${r.passed ? 'PASS' : 'FAIL'}  ${c.name}`);
      for (const p of r.problems) write(io, `      ${p}`);
      // A modify or cancel is judged by the side of the order it names: a failing case says which it was.
      if (!r.passed && r.side !== undefined) write(io, `      side: ${r.side} (${r.sideWhy})`);
    }
  }
  if (f.json) write(io, JSON.stringify({ file, cases: casesFile, version: loaded.version, passed: cases.length - failed, failed, results }, null, 2));
  else write(io, `\n${cases.length - failed} passed, ${failed} failed (${file}, version ${loaded.version})`);
  return failed === 0 ? 0 : 1;
}

async function explainCall(f: Flags & { call: string }, io: CliIO): Promise<number> {
  const [file] = f.positional as [string];
  const loaded = await loadOrReport(file, io);
  if (!loaded) return 1;
  let request: Awaited<ReturnType<typeof loadExplainCall>>;
  try {
    request = await loadExplainCall(f.call);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${formatIssues(err.issues)}\n`);
      return 1;
    }
    throw err;
  }
  const policy = compilePolicy(loaded, await f.lang());
  const trace: TraceEntry[] = [];
  const result = await runCase(policy, request, trace);
  const d = result.decision;
  // Rules the index never offered this call: other bots or other api kinds.
  const entry = lookupApi(request.call.apiId);
  const considered = new Set(trace.map((t) => t.ruleId));
  const offered = new Set<string>();
  if (entry) {
    const list = ruleListFor(policy, request.call.bot ?? 'bot', entry.kind);
    for (const arr of [list.plain, list.data, list.stateful, list.postures]) for (const r of arr) offered.add(r.id);
  }
  const notApplicable = policy.rules
    .filter((r) => !considered.has(r.id) && !offered.has(r.id))
    .map((r) => ({ ruleId: r.id, type: r.type, why: r.bots && !r.bots.has(request.call.bot ?? 'bot') ? 'other bots' : 'other api kinds' }));
  if (f.json) {
    write(io, JSON.stringify({ decision: d, trace, notApplicable, kind: entry?.kind ?? null, side: result.side ?? entry?.side ?? null }, null, 2));
    return 0;
  }
  write(
    io,
    `call: ${request.call.apiId} (${entry ? `${entry.kind}${sideText(result.side, result.sideWhy) ?? (entry.side ? `, ${entry.side}` : '')}` : 'unknown api-id'}) bot=${request.call.bot ?? 'bot'} account=${request.call.account ?? '00000000'}`,
  );
  write(io, `decision: ${d.outcome.toUpperCase()}${d.ruleId ? ` by ${d.ruleId}` : ''}${d.reason ? ` — ${d.reason}` : ''}`);
  if (d.shadowDenies.length) write(io, `shadow rules that would deny: ${d.shadowDenies.join(', ')}`);
  write(io, `policy version: ${d.policyVersion}\n\nrules, in evaluation order:`);
  for (const t of trace) {
    const mark =
      t.result === 'pass'
        ? 'pass '
        : t.result === 'deny'
          ? 'DENY '
          : t.result === 'not-selected'
            ? 'skip '
            : t.result === 'overridden'
              ? 'over '
              : t.result.toUpperCase().padEnd(5);
    const note =
      t.result === 'not-selected'
        ? 'selector (when) does not match this call'
        : t.result === 'overridden'
          ? 'replaced by an override for this call'
          : (t.reason ?? '');
    write(io, `  ${mark} ${t.ruleId} [${t.type}${t.mode === 'shadow' ? ', shadow' : ''}]${note ? ` — ${note}` : ''}`);
  }
  if (notApplicable.length) {
    write(io, '\nnot applicable to this call:');
    for (const n of notApplicable) write(io, `  ${n.ruleId} [${n.type}] — ${n.why}`);
  }
  return 0;
}

/** A modify's or cancel's side in explain's first line: the side of the order it names, or unknown. */
function sideText(side: string | undefined, why: string | undefined): string | undefined {
  if (side === undefined) return undefined;
  return side === 'unknown' ? `, side unknown: ${why}` : `, ${side}: ${why}`;
}

async function diffFiles(f: Flags, io: CliIO): Promise<number> {
  const [a, b] = f.positional as [string, string];
  const oldP = await loadOrReport(a, io);
  const newP = await loadOrReport(b, io);
  if (!oldP || !newP) return 1;
  const entries = diffPolicies(oldP.doc, newP.doc);
  const count = (e: DiffEntry['effect']) => entries.filter((x) => x.effect === e).length;
  if (f.json) write(io, JSON.stringify({ old: { file: a, version: oldP.version }, new: { file: b, version: newP.version }, entries }, null, 2));
  else {
    write(io, `${a} (${oldP.version}) → ${b} (${newP.version})`);
    if (entries.length === 0) write(io, 'no rule changes');
    for (const effect of ['loosens', 'tightens', 'changes'] as const) {
      for (const e of entries.filter((x) => x.effect === effect)) write(io, `  ${effect.padEnd(8)} ${e.ruleId ? `${e.ruleId}: ` : ''}${e.message}`);
    }
    write(io, `\n${count('loosens')} loosening, ${count('tightens')} tightening, ${count('changes')} other`);
  }
  return f.failOnLoosen && count('loosens') > 0 ? 3 : 0;
}

export const check: Handler = async (ctx) => checkFiles(policyFlags(ctx), ctx.io);
export const test: Handler = async (ctx) => testCases(policyFlags(ctx), ctx.io);
export const explain: Handler = async (ctx) => explainCall({ ...policyFlags(ctx), call: ctx.str('call')! }, ctx.io);
export const diff: Handler = async (ctx) => diffFiles(policyFlags(ctx), ctx.io);
export const schema: Handler = async (ctx) => {
  write(ctx.io, JSON.stringify(POLICY_SCHEMA, null, 2));
  return 0;
};

const policyCommand: CliCommand = (args, io) => runCommand(['policy'], args, io);
export default policyCommand;
