// kguard bots remove <id> | --from-file FILE: offboarding through the running sidecar's admin API
// (server/bot-remove.ts), one bot or a list of them. A service whose customers leave together (a contract ends)
// removes them in one command: each removal is its own audited call with its own steps, as `bots remove <id>`
// makes it; a list with a line that is not a bot id, or the same id twice, is refused before anything is removed.
// At most --parallel removals are in flight (each revokes its own key's broker token, so Kiwoom's per-key limits
// are not shared). An admin token the sidecar refuses (401, 403), or no answer at all, stops the run: the rest
// would fail alike; those not attempted are listed.
import { readFile, stat } from 'node:fs/promises';
import { BOT_ID_PATTERN } from '../auth/index.js';
import type { Language } from '../common/errors.js';
import type { RemoveReport } from '../server/bot-remove.js';
import { configFromFlags } from './args.js';
import type { AdminClient } from './admin-client.js';
import { adminClientFrom, printResult } from './admin-common.js';
import { BOTS_TEXT, summariseRemoval } from './bots-text.js';
import { languageOrDefault } from './lang.js';
import type { Ctx, Handler } from './spec.js';

/** Largest id list read: 100,000 ids of 64 characters, with room for comments. */
const MAX_LIST_BYTES = 8 * 1024 * 1024;
export const DEFAULT_PARALLEL = 4;
export const MAX_PARALLEL = 32;

type Outcome =
  | { readonly botId: string; readonly status: 'removed' | 'stopped'; readonly report: RemoveReport }
  | { readonly botId: string; readonly status: 'failed'; readonly httpStatus: number; readonly message: string }
  | { readonly botId: string; readonly status: 'not-attempted' };

/** The ids of a list file: one a line, blank lines and `#` comments skipped; problems name their line. */
export function parseIdList(text: string): { ids: string[]; problems: { line: number; text: string; why: 'not-an-id' | 'repeated' }[] } {
  const ids: string[] = [];
  const seen = new Set<string>();
  const problems: { line: number; text: string; why: 'not-an-id' | 'repeated' }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const id = raw.replace(/#.*$/, '').trim();
    if (id === '') return;
    if (!BOT_ID_PATTERN.test(id)) problems.push({ line: i + 1, text: id.slice(0, 80), why: 'not-an-id' });
    else if (seen.has(id)) problems.push({ line: i + 1, text: id, why: 'repeated' });
    else {
      seen.add(id);
      ids.push(id);
    }
  });
  return { ids, problems };
}

async function removeOne(admin: AdminClient, botId: string, reason: string): Promise<Outcome> {
  let r: Awaited<ReturnType<AdminClient['call']>>;
  try {
    r = await admin.call('POST', `/bots/${encodeURIComponent(botId)}/remove`, { reason });
  } catch (err) {
    // No answer (the sidecar unreachable, the token file unreadable): status 0, and the run stops.
    return { botId, status: 'failed', httpStatus: 0, message: (err as Error).message.slice(0, 300) };
  }
  const report = r.json as Partial<RemoveReport> | undefined;
  if (r.status >= 200 && r.status < 300 && report && Array.isArray(report.steps)) return { botId, status: 'removed', report: report as RemoveReport };
  if (report && Array.isArray(report.steps) && report.removed === false) return { botId, status: 'stopped', report: report as RemoveReport };
  const message = (r.json as { return_msg?: string } | undefined)?.return_msg ?? r.text.slice(0, 300);
  return { botId, status: 'failed', httpStatus: r.status, message };
}

export const remove: Handler = async (ctx) => {
  const reason = ctx.str('reason')!;
  if (reason.trim() === '') return ctx.usage('--reason must say why');
  const file = ctx.str('from-file');
  const id = ctx.positionals[0];
  if ((file === undefined) === (id === undefined)) return ctx.usage('give one bot id or --from-file FILE: one of the two');
  const parallel = Number(ctx.str('parallel') ?? DEFAULT_PARALLEL);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL) return ctx.usage(`--parallel must be a whole number from 1 to ${MAX_PARALLEL}`);
  const lang = ctx.bool('json') ? 'en' : await languageOrDefault(ctx);
  const admin = await adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
  if (id !== undefined) return removeSingle(ctx, admin, id, reason, lang);

  const say = BOTS_TEXT[lang];
  const listed = await readList(file!);
  if ('unreadable' in listed) return ctx.usage(say.listUnreadable(file!, listed.unreadable));
  const { ids, problems } = parseIdList(listed.text);
  if (problems.length > 0) {
    for (const p of problems.slice(0, 20)) ctx.io.stderr.write(say.listProblem(p.line, p.text, p.why));
    if (problems.length > 20) ctx.io.stderr.write(say.more(problems.length - 20));
    ctx.io.stderr.write(say.listRefused);
    return 2;
  }
  if (ids.length === 0) return ctx.usage(say.listEmpty(file!));

  const outcomes = await removeAll(admin, ids, reason, parallel, (o) => {
    if (ctx.bool('json')) return;
    if (o.status === 'failed') ctx.io.stdout.write(say.removeFailed(o.botId, o.httpStatus, o.message));
    else if (o.status !== 'not-attempted') ctx.io.stdout.write(summariseRemoval(o.report, lang));
  });
  const count = (s: Outcome['status']) => outcomes.filter((o) => o.status === s).length;
  const totals = { removed: count('removed'), stopped: count('stopped'), failed: count('failed'), notAttempted: count('not-attempted') };
  if (ctx.bool('json')) ctx.io.stdout.write(`${JSON.stringify({ ...totals, bots: outcomes }, null, 2)}\n`);
  else ctx.io.stdout.write(say.removedTotals(totals));
  return totals.failed + totals.notAttempted > 0 ? 1 : totals.stopped > 0 ? 3 : 0;
};

async function removeSingle(ctx: Ctx, admin: AdminClient, botId: string, reason: string, lang: Language): Promise<number> {
  const r = await admin.call('POST', `/bots/${encodeURIComponent(botId)}/remove`, { reason });
  const report = r.json as Partial<RemoveReport> | undefined;
  // A removal that stopped part-way answers with its steps: shown, and exit 3 (the bot is disabled, not removed).
  if (report && Array.isArray(report.steps) && report.removed === false) {
    ctx.io.stdout.write(ctx.bool('json') ? `${JSON.stringify(report, null, 2)}\n` : summariseRemoval(report as RemoveReport, lang));
    return 3;
  }
  return printResult(ctx.io, r, ctx.bool('json') ? undefined : (j) => summariseRemoval(j as RemoveReport, lang));
}

/** The list's text, or why it cannot be read (a reason, never the file's content). */
async function readList(file: string): Promise<{ text: string } | { unreadable: string }> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { unreadable: 'not a regular file' };
    if (st.size > MAX_LIST_BYTES) return { unreadable: `larger than ${MAX_LIST_BYTES} bytes` };
    return { text: await readFile(file, 'utf8') };
  } catch (err) {
    return { unreadable: (err as NodeJS.ErrnoException).code ?? 'error' };
  }
}

/** Removes every id, at most `parallel` at once, in the list's order; stops starting new ones once the token is refused. */
async function removeAll(admin: AdminClient, ids: readonly string[], reason: string, parallel: number, done: (o: Outcome) => void): Promise<Outcome[]> {
  const outcomes = new Array<Outcome>(ids.length);
  let next = 0;
  let refused = false;
  const worker = async (): Promise<void> => {
    while (next < ids.length && !refused) {
      const i = next++;
      const o = await removeOne(admin, ids[i]!, reason);
      if (o.status === 'failed' && [0, 401, 403].includes(o.httpStatus)) refused = true;
      outcomes[i] = o;
      done(o);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ids.length) }, worker));
  return ids.map((botId, i) => outcomes[i] ?? { botId, status: 'not-attempted' as const });
}
