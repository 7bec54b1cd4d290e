// kguard incidents list|show|confirm|approve-unlock|unlock|compensation.
import { ADMIN_FLAGS, adminClientFrom, printResult } from './admin-common.js';
import type { CompensationWorksheet, IncidentSummary } from '../response/index.js';
import { configFromFlags, parseFlags } from './args.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

const USAGE = `usage: kguard incidents list
       kguard incidents show ID [--format md|json]
       kguard incidents confirm ID STEP [--note TEXT]
       kguard incidents approve-unlock ID
       kguard incidents unlock ID
       kguard incidents compensation ID --cause system_fault|user_negligence|external_attack [--loss KRW]
  common: --admin-url URL (or KGUARD_ADMIN_URL)  --token-file FILE (or KGUARD_ADMIN_TOKEN_FILE)
`;

const incidents: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, {
    ...ADMIN_FLAGS,
    format: { type: 'string' },
    note: { type: 'string' },
    cause: { type: 'string' },
    loss: { type: 'string' },
  });
  const client = () => adminClientFrom(values, io, async () => (await configFromFlags(values, io)).admin);
  const [id, step] = positionals;
  const at = (p: string) => `/incidents/${encodeURIComponent(id!)}${p}`;
  switch (sub) {
    case 'list':
      return printResult(
        io,
        await (await client()).call('GET', '/incidents'),
        values.json
          ? undefined
          : (j) => {
              const list = (j as { incidents: IncidentSummary[] }).incidents;
              return list.length
                ? `${list.map((i) => `${i.id}  ${i.status.padEnd(8)} ${i.createdAt} ${i.automatic ? 'auto  ' : 'manual'} bots=${i.bots.join(',')} ${i.reason}`).join('\n')}\n`
                : 'no incidents\n';
            },
      );
    case 'show': {
      if (!id) break;
      const md = (values.format ?? 'md') === 'md';
      return printResult(io, await (await client()).call('GET', at(md ? '?format=md' : '')), md ? (_j, text) => text : undefined);
    }
    case 'confirm':
      if (!id || !step) break;
      return printResult(
        io,
        await (await client()).call('POST', at(`/steps/${encodeURIComponent(step)}/confirm`), typeof values.note === 'string' ? { note: values.note } : {}),
        () => `step ${step} confirmed on incident ${id}\n`,
      );
    case 'approve-unlock':
      if (!id) break;
      return printResult(io, await (await client()).call('POST', at('/approve-unlock'), {}), () => `unlock approved for incident ${id}\n`);
    case 'unlock':
      if (!id) break;
      return printResult(io, await (await client()).call('POST', at('/unlock'), {}), () => `incident ${id} unlocked\n`);
    case 'compensation': {
      if (!id || typeof values.cause !== 'string') break;
      const loss = values.loss === undefined ? undefined : Number(values.loss);
      if (loss !== undefined && (!Number.isFinite(loss) || loss < 0)) throw new UsageError('--loss must be a non-negative number of KRW');
      return printResult(
        io,
        await (await client()).call('POST', at('/compensation'), { cause: values.cause, ...(loss !== undefined ? { lossKrw: loss } : {}) }),
        values.json
          ? undefined
          : (j) => {
              const c = j as CompensationWorksheet;
              return `incident ${c.incidentId}: cause ${c.cause} ${Math.round(c.rate * 100)}% of ${c.lossKrw} KRW (${c.lossBasis}) = ${c.uncappedKrw} KRW, cap ${c.capKrw} KRW -> ${c.amountKrw} KRW\nprocessing ${c.processing.minBusinessDays}-${c.processing.maxBusinessDays} business days (${c.processing.earliest} - ${c.processing.latest}); set by ${c.setBy}\n`;
            },
      );
    }
    default:
      break;
  }
  io.stderr.write(USAGE);
  return 2;
};

export default incidents;
