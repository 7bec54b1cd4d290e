// kguard incidents list|show|confirm|approve-unlock|unlock|compensation,
// through the running sidecar's admin API.
import { adminClientFrom, printResult } from './admin-common.js';
import type { CompensationWorksheet, IncidentReport, IncidentSummary } from '../response/index.js';
import type { Language } from '../common/errors.js';
import { configFromFlags } from './args.js';
import { INCIDENTS_TEXT } from './incidents-text.js';
import { languageOrDefault } from './lang.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';

const client = async (ctx: Ctx) => adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
const at = (ctx: Ctx, suffix: string) => `/incidents/${encodeURIComponent(ctx.positionals[0]!)}${suffix}`;
/** The words for people (--lang, else the configured language), or undefined with --json (its answer as is). */
const words = async (ctx: Ctx) => (ctx.bool('json') ? undefined : INCIDENTS_TEXT[await languageOrDefault(ctx)]);
/** The given line, or the admin API's JSON answer with --json. */
const line = async (ctx: Ctx, text: (say: (typeof INCIDENTS_TEXT)[Language]) => string) => {
  const say = await words(ctx);
  return say ? () => text(say) : undefined;
};

export const list: Handler = async (ctx) => {
  const r = await (await client(ctx)).call('GET', '/incidents');
  const say = await words(ctx);
  return printResult(
    ctx.io,
    r,
    say &&
      ((j) => {
        const all = (j as { incidents: IncidentSummary[] }).incidents;
        return all.length ? `${all.map(say.row).join('\n')}\n` : say.none;
      }),
  );
};

export const show: Handler = async (ctx) => {
  if (ctx.bool('json') && ctx.str('format') === 'md') return ctx.usage('--json and --format md contradict each other');
  const md = !ctx.bool('json') && (ctx.str('format') ?? 'md') === 'md';
  return printResult(ctx.io, await (await client(ctx)).call('GET', at(ctx, md ? '?format=md' : '')), md ? (_j, text) => text : undefined);
};

export const confirm: Handler = async (ctx) => {
  const [id, step] = ctx.positionals as [string, string];
  const note = ctx.str('note');
  return printResult(
    ctx.io,
    await (await client(ctx)).call('POST', at(ctx, `/steps/${encodeURIComponent(step)}/confirm`), note !== undefined ? { note } : {}),
    await line(ctx, (say) => say.confirmed(id, step)),
  );
};

/** Says how many of the approvals the incident needs it now has: approving again adds none, and the count shows it. */
export const approveUnlock: Handler = async (ctx) => {
  const r = await (await client(ctx)).call('POST', at(ctx, '/approve-unlock'), {});
  const say = await words(ctx);
  const report = r.json as Partial<IncidentReport> | undefined;
  const render = say && (() => say.unlockApproved(ctx.positionals[0]!, report?.unlockApprovals?.length ?? 0, report?.unlockApprovalsRequired ?? 0));
  return printResult(ctx.io, r, render);
};

export const unlock: Handler = async (ctx) =>
  printResult(ctx.io, await (await client(ctx)).call('POST', at(ctx, '/unlock'), {}), await line(ctx, (say) => say.unlocked(ctx.positionals[0]!)));

export const compensation: Handler = async (ctx) => {
  const raw = ctx.str('loss');
  const loss = raw === undefined ? undefined : Number(raw);
  if (loss !== undefined && (raw!.trim() === '' || !Number.isFinite(loss) || loss < 0)) return ctx.usage('--loss must be a non-negative number of KRW');
  const r = await (await client(ctx)).call('POST', at(ctx, '/compensation'), { cause: ctx.str('cause'), ...(loss !== undefined ? { lossKrw: loss } : {}) });
  const say = await words(ctx);
  return printResult(ctx.io, r, say && ((j) => say.compensation(j as CompensationWorksheet)));
};

const incidents: CliCommand = (args, io) => runCommand(['incidents'], args, io);
export default incidents;
