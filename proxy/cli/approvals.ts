// kguard approvals list|show|approve|refuse|enroll — against the running
// sidecar's admin API (approvals live in the shared Store). The TOTP code is
// read from stdin, never from argv.
import { readCodeFromStdin } from './admin-client.js';
import { ADMIN_FLAGS, adminClientFrom, printResult } from './admin-common.js';
import { configFromFlags, parseFlags } from './args.js';
import type { CliCommand } from './types.js';
import { UsageError } from './usage.js';

const USAGE = `usage: kguard approvals list [--status pending|approved|refused|timeout|consumed] [--bot B]
       kguard approvals show ID
       kguard approvals approve ID          (reads your TOTP code from stdin)
       kguard approvals refuse ID --reason TEXT
       kguard approvals enroll NAME [--role approver|admin ...] [--replace]
  common: --admin-url URL (or KGUARD_ADMIN_URL)  --token-file FILE (or KGUARD_ADMIN_TOKEN_FILE)
`;

interface View {
  id: string;
  status: string;
  level: string;
  botId: string;
  apiId: string;
  score: number;
  createdAt: string;
  expiresAt: string;
  summary: Record<string, string>;
  approvals: { approver: string }[];
  requiredApprovals: number;
}

function table(json: unknown): string {
  const rows = (json as { approvals: View[] }).approvals;
  if (rows.length === 0) return 'no approvals\n';
  return `${rows
    .map(
      (v) =>
        `${v.id}  ${v.status.padEnd(8)} ${v.level.padEnd(7)} bot=${v.botId} ${v.apiId} score=${v.score} ${Object.entries(v.summary)
          .map(([k, x]) => `${k}=${x}`)
          .join(' ')} approvals=${v.approvals.length}/${v.requiredApprovals} expires=${v.expiresAt}`,
    )
    .join('\n')}\n`;
}

const approvals: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, {
    ...ADMIN_FLAGS,
    status: { type: 'string' },
    bot: { type: 'string' },
    reason: { type: 'string' },
    role: { type: 'string', multiple: true },
    replace: { type: 'boolean' },
  });
  const client = () => adminClientFrom(values, io, async () => (await configFromFlags(values, io)).admin);
  const id = positionals[0];
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams();
      if (typeof values.status === 'string') q.set('status', values.status);
      if (typeof values.bot === 'string') q.set('bot', values.bot);
      const r = await (await client()).call('GET', `/approvals${q.size ? `?${q}` : ''}`);
      return printResult(io, r, values.json ? undefined : table);
    }
    case 'show':
      if (!id) break;
      return printResult(io, await (await client()).call('GET', `/approvals/${encodeURIComponent(id)}`));
    case 'approve': {
      if (!id) break;
      if (io.stdin.isTTY) io.stderr.write('TOTP code: ');
      const code = await readCodeFromStdin(io.stdin);
      try {
        if (!/^\d{6,8}$/.test(code.toString('latin1'))) throw new UsageError('the code must be 6-8 digits on stdin');
        return printResult(
          io,
          await (await client()).call('POST', `/approvals/${encodeURIComponent(id)}/approve`, { code: code.toString('latin1') }),
          (j) => `approval ${id}: ${(j as View).status}\n`,
        );
      } finally {
        code.fill(0);
      }
    }
    case 'refuse':
      if (!id || typeof values.reason !== 'string') break;
      return printResult(
        io,
        await (await client()).call('POST', `/approvals/${encodeURIComponent(id)}/refuse`, { reason: values.reason }),
        (j) => `approval ${id}: ${(j as View).status}\n`,
      );
    case 'enroll': {
      if (!id) break;
      const roles = values.role?.length ? values.role : ['approver'];
      const r = await (await client()).call('POST', '/approvers', { name: id, roles, replace: values.replace === true });
      return printResult(io, r, (j) => {
        const e = j as { name: string; secret: string; uri: string };
        return `approver ${e.name} enrolled (${roles.join(', ')})\nTOTP secret (shown once): ${e.secret}\notpauth URI (shown once): ${e.uri}\n`;
      });
    }
    default:
      break;
  }
  io.stderr.write(USAGE);
  return 2;
};

export default approvals;
