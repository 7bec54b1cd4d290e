// kguard policy check | test | explain | diff | schema — tools for security
// staff to validate, unit-test, understand and review policy files.
import { compilePolicy } from '../policy/compile.js';
import path from 'node:path';
import { loadCaseFile, loadCases, loadExplainCall, runCase, type PolicyCase } from '../policy/cases.js';
import { diffPolicies, type DiffEntry } from '../policy/diff.js';
import { formatIssues, PolicyLoadError } from '../policy/errors.js';
import { loadPolicyFile, type LoadedPolicy } from '../policy/load.js';
import { POLICY_SCHEMA } from '../policy/schema.js';
import { ruleListFor, type TraceEntry } from '../policy/evaluate.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import { errorMessage, GuardError, type Language } from '../common/errors.js';
import { MARKET_NAMES, POLICY_TEXT, traceMark } from './policy-text.js';
import { cliLanguage } from './lang.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand, CliIO } from './types.js';

interface Flags {
  positional: readonly string[];
  json: boolean;
  /**
   * --lang, else the sidecar's configured language (Korean unless set): the language of generated reasons when the
   * policy names none, and of what `check` prints.
   */
  lang: () => Promise<Language>;
  /** --lang as given. */
  flag: Language | undefined;
  call?: string;
  failOnLoosen: boolean;
}

/** The registry parsed and checked the command line (commands.ts); the sub-commands read it as before. */
function policyFlags(ctx: Ctx): Flags {
  // The sidecar's default (Korean), not English: a case's reasonContains and explain's reasons are what the bot would read.
  const flag = ctx.str('lang') as Language | undefined;
  let chosen: Language | undefined = flag;
  const lang = async () => (chosen ??= await cliLanguage(ctx));
  const common = { positional: ctx.positionals, json: ctx.bool('json'), lang, flag };
  const call = ctx.path[1] === 'explain' ? ctx.str('call') : undefined;
  return { ...common, failOnLoosen: ctx.path[1] === 'diff' && ctx.bool('fail-on-loosen'), ...(call !== undefined ? { call } : {}) };
}

function write(io: CliIO, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function loadOrReport(file: string, io: CliIO, lang: Language): Promise<LoadedPolicy | undefined> {
  try {
    return await loadPolicyFile(file);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${formatIssues(err.issues, lang)}\n`);
      return undefined;
    }
    throw err;
  }
}

/**
 * The language `test` and `explain` print in: --lang; else the policy's `language:`, which its reasons are in (one
 * language per screen); else the configured one. --lang does not change the reasons of a policy that names its
 * language: they are what the bot reads.
 */
function printedLanguage(f: Flags, loaded: LoadedPolicy, fallback: Language): Language {
  return f.flag ?? loaded.doc.language ?? fallback;
}

/** A case that could not run, as the reader reads it: the code stays, the words are in `lang`. */
function caseError(err: unknown, lang: Language): string {
  if (!(err instanceof GuardError)) return (err as Error).message;
  return `${err.code}: ${errorMessage(err.code, lang)}${err.detail ? ` (${err.detail})` : ''}`;
}

/** A file whose top level has `cases:` is a policy test file, not a broken policy. */
function isCasesFile(err: PolicyLoadError): boolean {
  return err.issues.some((i) => i.code === 'unknown-key' && i.path === 'cases');
}

async function checkFiles(f: Flags, io: CliIO): Promise<number> {
  const lang = await f.lang();
  const say = POLICY_TEXT[lang];
  let bad = 0;
  const results: unknown[] = [];
  for (const file of f.positional) {
    try {
      const p = await loadPolicyFile(file);
      results.push({ file, ok: true, version: p.version, rules: p.doc.rules.length });
      if (!f.json) write(io, say.checked(file, p.doc.rules.length, p.version));
    } catch (policyErr) {
      if (!(policyErr instanceof PolicyLoadError)) throw policyErr;
      let err = policyErr;
      // `policy check policies/examples/*.yaml` names the test files too: one is checked as what it is.
      if (isCasesFile(err)) {
        try {
          const cases = await loadCases(file);
          results.push({ file, ok: true, kind: 'cases', cases: cases.length });
          if (!f.json) write(io, say.casesChecked(file, cases.length));
          continue;
        } catch (casesErr) {
          if (!(casesErr instanceof PolicyLoadError)) throw casesErr;
          err = casesErr;
        }
      }
      bad++;
      results.push({ file, ok: false, issues: err.issues });
      if (!f.json) io.stderr.write(`${formatIssues(err.issues, lang)}\n${say.problems(file, err.issues.length)}\n`);
    }
  }
  if (f.json) write(io, JSON.stringify(results, null, 2));
  return bad === 0 ? 0 : 1;
}

async function testCases(f: Flags, io: CliIO): Promise<number> {
  const [file, casesFile] = f.positional as [string, string];
  const fallback = await f.lang();
  const loaded = await loadOrReport(file, io, fallback);
  if (!loaded) return 1;
  const lang = printedLanguage(f, loaded, fallback);
  const say = POLICY_TEXT[lang];
  let cases: PolicyCase[];
  try {
    const read = await loadCaseFile(casesFile);
    cases = read.cases;
    // The test file says which policy it was written for: run against another, most cases fail for no fault of either.
    if (read.policy !== undefined && read.policy.resolved !== path.resolve(file)) io.stderr.write(`${say.otherPolicy(casesFile, read.policy.written, file)}\n`);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${formatIssues(err.issues, lang)}\n`);
      return 1;
    }
    throw err;
  }
  const policy = compilePolicy(loaded, fallback);
  // --json is read by programs: its problems are in English whatever the reader's language.
  const problemLang = f.json ? 'en' : lang;
  let failed = 0;
  const results = [];
  for (const c of cases) {
    let r: { name: string; passed: boolean; problems: string[]; side?: string; sideWhy?: string };
    try {
      r = await runCase(policy, c, undefined, problemLang);
    } catch (err) {
      r = { name: c.name, passed: false, problems: [f.json ? (err as Error).message : say.caseError(caseError(err, lang))] };
    }
    results.push(r);
    if (!r.passed) failed++;
    if (!f.json) {
      write(io, `${r.passed ? say.passed : say.failed}  ${c.name}`);
      for (const p of r.problems) write(io, `      ${p}`);
      // A modify or cancel is judged by the side of the order it names: a failing case says which it was.
      if (!r.passed && r.side !== undefined) write(io, say.side(r.side, r.sideWhy ?? ''));
    }
  }
  if (f.json) write(io, JSON.stringify({ file, cases: casesFile, version: loaded.version, passed: cases.length - failed, failed, results }, null, 2));
  else write(io, say.summary(cases.length - failed, failed, file, loaded.version));
  return failed === 0 ? 0 : 1;
}

async function explainCall(f: Flags & { call: string }, io: CliIO): Promise<number> {
  const [file] = f.positional as [string];
  const fallback = await f.lang();
  const loaded = await loadOrReport(file, io, fallback);
  if (!loaded) return 1;
  const lang = printedLanguage(f, loaded, fallback);
  const say = POLICY_TEXT[lang];
  let request: Awaited<ReturnType<typeof loadExplainCall>>;
  try {
    request = await loadExplainCall(f.call);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      io.stderr.write(`${formatIssues(err.issues, lang)}\n`);
      return 1;
    }
    throw err;
  }
  const policy = compilePolicy(loaded, fallback);
  const trace: TraceEntry[] = [];
  const result = await runCase(policy, request, trace, f.json ? 'en' : lang);
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
    .map((r) => ({
      ruleId: r.id,
      type: r.type,
      why: r.bots && !r.bots.has(request.call.bot ?? 'bot') ? ('other bots' as const) : ('other api kinds' as const),
    }));
  if (f.json) {
    write(io, JSON.stringify({ decision: d, trace, notApplicable, kind: entry?.kind ?? null, side: result.side ?? entry?.side ?? null }, null, 2));
    return 0;
  }
  const sideNote = result.side !== undefined ? say.sideOf(result.side, result.sideWhy ?? '') : entry?.side ? `, ${entry.side}` : '';
  write(io, say.call(request.call.apiId, entry ? `${entry.kind}${sideNote}` : say.unknownApi, request.call.bot ?? 'bot', request.call.account ?? '00000000'));
  write(io, say.decision(d.outcome, d.ruleId, d.reason));
  if (d.shadowDenies.length) write(io, say.shadow(d.shadowDenies.join(', ')));
  write(io, say.version(d.policyVersion));
  for (const t of trace) {
    const note = t.result === 'not-selected' ? say.notSelected : t.result === 'overridden' ? say.overridden : (t.reason ?? '');
    write(io, `  ${traceMark(t.result, lang)} ${t.ruleId} [${t.type}${t.mode === 'shadow' ? `, ${say.shadowMode}` : ''}]${note ? ` — ${note}` : ''}`);
  }
  if (notApplicable.length) {
    write(io, say.notApplicable);
    for (const n of notApplicable) write(io, `  ${n.ruleId} [${n.type}] — ${say.why[n.why]}`);
  }
  // A call file without market data makes every rule that reads a price or a position deny: say so, not a bare deny.
  const missing = request.market === undefined ? missingMarket(d.market, lang) : [];
  if (missing.length > 0) write(io, say.noMarket(missing.join(', ')));
  return 0;
}

/** The market data the decision asked for and did not get (the call file gave none). */
function missingMarket(
  market: { referencePrice?: number | null; heldQuantity?: number | null; openOrders?: number | null } | undefined,
  lang: Language,
): string[] {
  const names = MARKET_NAMES[lang];
  return (['referencePrice', 'heldQuantity', 'openOrders'] as const)
    .filter((k) => market !== undefined && k in market && market[k] == null)
    .map((k) => names[k]);
}

async function diffFiles(f: Flags, io: CliIO): Promise<number> {
  const [a, b] = f.positional as [string, string];
  const lang = await f.lang();
  const oldP = await loadOrReport(a, io, lang);
  const newP = await loadOrReport(b, io, lang);
  if (!oldP || !newP) return 1;
  // --json is for machines: its messages stay English whatever the language.
  const entries = diffPolicies(oldP.doc, newP.doc, f.json ? 'en' : lang);
  const count = (e: DiffEntry['effect']) => entries.filter((x) => x.effect === e).length;
  if (f.json) write(io, JSON.stringify({ old: { file: a, version: oldP.version }, new: { file: b, version: newP.version }, entries }, null, 2));
  else {
    const text = POLICY_TEXT[lang].diff;
    write(io, `${a} (${oldP.version}) → ${b} (${newP.version})`);
    if (entries.length === 0) write(io, text.none);
    for (const effect of ['loosens', 'tightens', 'changes'] as const) {
      for (const e of entries.filter((x) => x.effect === effect)) write(io, `  ${text.effect[effect]} ${e.ruleId ? `${e.ruleId}: ` : ''}${e.message}`);
    }
    write(io, text.summary(count('loosens'), count('tightens'), count('changes')));
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
