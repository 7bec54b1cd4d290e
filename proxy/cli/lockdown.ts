// kguard lockdown --bot B | --account A | --all --reason R — emergency stop
// through the running sidecar's admin API; prints the step timings.
import { ADMIN_FLAGS, adminClientFrom, printResult } from './admin-common.js';
import type { IncidentReport } from '../response/incident.js';
import { configFromFlags, parseFlags } from './args.js';
import type { CliCommand } from './types.js';

const USAGE = `usage: kguard lockdown (--bot B | --account A | --all) --reason TEXT [--admin-url URL] [--token-file FILE] [--json]
  then: kguard incidents show ID; kguard incidents confirm ID STEP; kguard incidents unlock ID
`;

export function summarise(r: IncidentReport): string {
  const lines = [`LOCKDOWN incident ${r.id} (${r.targets.map((t) => t.botId).join(', ') || 'no bots'})`];
  for (const s of r.steps)
    lines.push(`  ${s.ok ? 'ok    ' : 'FAILED'} ${s.step} (${s.startedMs}-${s.endedMs} ms)${s.errors.length ? `: ${s.errors.join('; ')}` : ''}`);
  for (const c of r.cancels)
    lines.push(
      `  account ${c.account}: listed ${c.listed ?? 0}, cancelled ${c.cancelled ?? 0}, NOT cancelled ${c.notCancelled?.length ?? 0}${c.error ? ` (${c.error})` : ''}`,
    );
  lines.push(
    `  all orders cancelled: ${r.timings.cancelConfirmedMs !== undefined ? `${r.timings.cancelConfirmedMs} ms` : 'NOT CONFIRMED'}; damage assessment ${r.timings.damageMs ?? '-'} ms`,
  );
  lines.push('  recovery checklist:', ...r.checklist.map((c) => `    [${c.confirmedBy ? 'x' : ' '}] ${c.id}: ${c.title}`));
  return `${lines.join('\n')}\n`;
}

const lockdown: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, {
    ...ADMIN_FLAGS,
    bot: { type: 'string' },
    account: { type: 'string' },
    all: { type: 'boolean' },
    reason: { type: 'string' },
  });
  const scopes = [values.bot, values.account, values.all].filter((v) => v !== undefined && v !== false).length;
  if (scopes !== 1 || typeof values.reason !== 'string' || values.reason.trim() === '') {
    io.stderr.write(USAGE);
    return 2;
  }
  const client = await adminClientFrom(values, io, async () => (await configFromFlags(values, io)).admin);
  const r = await client.call('POST', '/lockdown', {
    reason: values.reason,
    ...(typeof values.bot === 'string' ? { bot: values.bot } : {}),
    ...(typeof values.account === 'string' ? { account: values.account } : {}),
    ...(values.all ? { all: true } : {}),
  });
  const code = printResult(io, r, values.json ? undefined : (j) => summarise(j as IncidentReport));
  // A lockdown that could not cancel everything is a failure the operator must see in the exit code.
  if (code === 0 && (r.json as IncidentReport).steps.some((s) => !s.ok)) return 3;
  return code;
};

export default lockdown;
