// kguard incidents list|show|confirm|approve-unlock|unlock|compensation,
// through the running sidecar's admin API.
import { adminClientFrom, printResult } from './admin-common.js';
import type { CompensationWorksheet, IncidentSummary } from '../response/index.js';
import { configFromFlags } from './args.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';

const client = async (ctx: Ctx) => adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
const at = (ctx: Ctx, suffix: string) => `/incidents/${encodeURIComponent(ctx.positionals[0]!)}${suffix}`;
/** The given line, or the admin API's JSON answer with --json. */
const line = (ctx: Ctx, text: string) => (ctx.bool('json') ? undefined : () => text);

export const list: Handler = async (ctx) =>
  printResult(
    ctx.io,
    await (await client(ctx)).call('GET', '/incidents'),
    ctx.bool('json')
      ? undefined
      : (j) => {
          const all = (j as { incidents: IncidentSummary[] }).incidents;
          return all.length
            ? `${all.map((i) => `${i.id}  ${i.status.padEnd(8)} ${i.createdAt} ${i.automatic ? 'auto  ' : 'manual'} bots=${i.bots.join(',')} ${i.reason}`).join('\n')}\n`
            : 'no incidents\n';
        },
  );

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
    line(ctx, `step ${step} confirmed on incident ${id}\n`),
  );
};

export const approveUnlock: Handler = async (ctx) =>
  printResult(
    ctx.io,
    await (await client(ctx)).call('POST', at(ctx, '/approve-unlock'), {}),
    line(ctx, `unlock approved for incident ${ctx.positionals[0]}\n`),
  );

export const unlock: Handler = async (ctx) =>
  printResult(ctx.io, await (await client(ctx)).call('POST', at(ctx, '/unlock'), {}), line(ctx, `incident ${ctx.positionals[0]} unlocked\n`));

export const compensation: Handler = async (ctx) => {
  const raw = ctx.str('loss');
  const loss = raw === undefined ? undefined : Number(raw);
  if (loss !== undefined && (raw!.trim() === '' || !Number.isFinite(loss) || loss < 0)) return ctx.usage('--loss must be a non-negative number of KRW');
  return printResult(
    ctx.io,
    await (await client(ctx)).call('POST', at(ctx, '/compensation'), { cause: ctx.str('cause'), ...(loss !== undefined ? { lossKrw: loss } : {}) }),
    ctx.bool('json')
      ? undefined
      : (j) => {
          const c = j as CompensationWorksheet;
          return `incident ${c.incidentId}: cause ${c.cause} ${Math.round(c.rate * 100)}% of ${c.lossKrw} KRW (${c.lossBasis}) = ${c.uncappedKrw} KRW, cap ${c.capKrw} KRW -> ${c.amountKrw} KRW\nprocessing ${c.processing.minBusinessDays}-${c.processing.maxBusinessDays} business days (${c.processing.earliest} - ${c.processing.latest}); set by ${c.setBy}\n`;
        },
  );
};

const incidents: CliCommand = (args, io) => runCommand(['incidents'], args, io);
export default incidents;
