// kguard doctor [--bot ID] [--json] [--lang ko|en] — each bot's security
// posture from the running sidecar's admin API (GET /admin/v1/posture, a
// viewer token is enough): score 0-100, every check PASS/FAIL with its weight
// and explanation, and the recommendations most impact first with their links
// into docs/security-guide.{ko,en}.md. --json prints the API's answer as is;
// the text is the same data in one language. Exit 0 once the report is
// printed, whatever the scores.
import { renderPosture } from '../admin/posture-text.js';
import type { PostureReport } from '../admin/posture-types.js';
import { adminClientFrom, printResult } from './admin-common.js';
import { configFromFlags } from './args.js';
import { cliLanguage } from './lang.js';
import { runCommand } from './runner.js';
import type { Handler } from './spec.js';
import type { CliCommand } from './types.js';

export const doctor: Handler = async (ctx) => {
  const client = await adminClientFrom(ctx.values, ctx.io, async () => (await configFromFlags(ctx.values, ctx.io)).admin);
  const bot = ctx.str('bot');
  const r = await client.call('GET', `/posture${bot !== undefined ? `?bot=${encodeURIComponent(bot)}` : ''}`);
  if (ctx.bool('json')) return printResult(ctx.io, r);
  const lang = await cliLanguage(ctx);
  return printResult(ctx.io, r, (j) => renderPosture(j as PostureReport, lang));
};

const doctorCommand: CliCommand = (args, io) => runCommand(['doctor'], args, io);
export default doctorCommand;
