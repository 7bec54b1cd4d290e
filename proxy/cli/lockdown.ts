// kguard lockdown --bot B | --account A | --all --reason R — emergency stop
// through the running sidecar's admin API; prints the step timings.
import { adminClientFrom, printResult } from './admin-common.js';
import type { IncidentReport } from '../response/incident.js';
import { configFromFlags } from './args.js';
import { INCIDENTS_TEXT, summarise } from './incidents-text.js';
import { languageOrDefault } from './lang.js';
import { runCommand } from './runner.js';
import type { Handler } from './spec.js';
import type { CliCommand } from './types.js';

export const lockdown: Handler = async (ctx) => {
  const bot = ctx.str('bot');
  const account = ctx.str('account');
  const all = ctx.bool('all');
  const reason = ctx.str('reason')!;
  if ([bot !== undefined, account !== undefined, all].filter(Boolean).length !== 1) return ctx.usage('name exactly one of --bot, --account, --all');
  if (reason.trim() === '') return ctx.usage('--reason must say why');
  const client = await adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
  const r = await client.call('POST', '/lockdown', {
    reason,
    ...(bot !== undefined ? { bot } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(all ? { all: true } : {}),
  });
  const lang = await languageOrDefault(ctx);
  const code = printResult(ctx.io, r, ctx.bool('json') ? undefined : (j) => summarise(j as IncidentReport, lang));
  // 202: the bot is locked and the incident recorded, but the cancel-all still waits on Kiwoom (response.answerWithinMs passed).
  if (r.status === 202) {
    ctx.io.stderr.write(INCIDENTS_TEXT[lang].stillRunning((r.json as IncidentReport).id));
    return 3;
  }
  // A lockdown that could not cancel everything, or whose broker tokens are not confirmed revoked yet, is what the operator must see in the exit code.
  if (code === 0 && (r.json as IncidentReport).steps.some((s) => !s.ok)) return 3;
  return code;
};

const lockdownCommand: CliCommand = (args, io) => runCommand(['lockdown'], args, io);
export default lockdownCommand;
