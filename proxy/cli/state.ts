// kguard state status|confirm-flush — the shared state as the running
// sidecar sees it, and the operator's audited confirmation after Redis lost
// its data (flush, restart without persistence, failover to an empty replica).
import { ADMIN_FLAGS, adminClientFrom, printResult } from './admin-common.js';
import { configFromFlags, parseFlags } from './args.js';
import type { CliCommand } from './types.js';

const USAGE = `usage: kguard state status
       kguard state confirm-flush --reason TEXT
  common: --admin-url URL (or KGUARD_ADMIN_URL)  --token-file FILE (or KGUARD_ADMIN_TOKEN_FILE)  --json
`;

interface Status {
  backend: string;
  up: boolean;
  reason?: string;
  generation: string | null;
  flushDetected: boolean;
  confirmed?: boolean;
}

function render(json: unknown): string {
  const s = json as Status;
  const lines = [
    `backend:        ${s.backend}`,
    `up:             ${s.up ? 'yes' : `NO${s.reason ? ` (${s.reason})` : ''}`}`,
    `generation:     ${s.generation ?? '-'}`,
    `flush detected: ${s.flushDetected ? 'YES: calls are refused (KG7003) until confirmed with `kguard state confirm-flush --reason TEXT`' : 'no'}`,
  ];
  if (s.confirmed) lines.unshift('flush confirmed: every replica lets calls through again');
  return `${lines.join('\n')}\n`;
}

const state: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, { ...ADMIN_FLAGS, reason: { type: 'string' } });
  const client = () => adminClientFrom(values, io, async () => (await configFromFlags(values, io)).admin);
  const view = values.json ? undefined : render;
  if (positionals.length === 0) {
    if (sub === 'status') return printResult(io, await (await client()).call('GET', '/state'), view);
    if (sub === 'confirm-flush' && typeof values.reason === 'string' && values.reason.trim() !== '') {
      return printResult(io, await (await client()).call('POST', '/state/confirm-flush', { reason: values.reason }), view);
    }
  }
  io.stderr.write(USAGE);
  return 2;
};

export default state;
