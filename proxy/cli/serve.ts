// kguard serve: run the sidecar until SIGINT/SIGTERM, then drain: stop
// accepting, finish in-flight calls, revoke every outstanding broker token.
import { startSidecar } from '../server/sidecar.js';
import { createLogger } from '../common/logger.js';
import { configFromFlags, parseFlags } from './args.js';
import type { CliCommand } from './types.js';

const serve: CliCommand = async (args, io) => {
  const { values } = parseFlags(args, {
    redis: { type: 'string' },
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    policy: { type: 'string' },
  });
  const overrides: Record<string, unknown> = {};
  if (typeof values.redis === 'string') overrides.state = { backend: 'redis', redis: { url: values.redis } };
  if (typeof values.port === 'string') overrides.listen = { port: Number(values.port) };
  if (typeof values['admin-port'] === 'string') overrides.admin = { port: Number(values['admin-port']) };
  if (typeof values.policy === 'string') overrides.policy = { file: values.policy };
  const config = await configFromFlags(values, io, overrides);
  const logger = createLogger({ level: config.log.level });

  // A crash must not print secrets: log the error through the redacting logger, then exit.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: { type: err.name, message: err.message, code: (err as { code?: string }).code } }, 'uncaught exception; exiting');
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    logger.error({ err: { message: (err as Error)?.message } }, 'unhandled rejection');
  });

  const sidecar = await startSidecar(config, { logger });
  const out = io.stdout;
  out.write(`\nkiwoom-guard is running\n`);
  out.write(`  bots connect to   ${sidecar.url}\n`);
  if (sidecar.adminUrl) out.write(`  admin (health)    ${sidecar.adminUrl}/healthz  ${sidecar.adminUrl}/readyz  ${sidecar.adminUrl}/metrics\n`);
  if (config.upstream.target === 'sim') {
    out.write(`  upstream          BUILT-IN KIWOOM SIMULATOR at ${sidecar.upstreamUrl} (no real orders)\n`);
  } else {
    out.write(`  upstream          ${sidecar.upstreamUrl}\n`);
  }
  out.write(`  data directory    ${config.dataDir}\n`);
  if (sidecar.demo) {
    out.write(`  demo bot id       ${sidecar.demo.botId}\n`);
    if (sidecar.demo.secret) {
      out.write(`  demo bot secret   ${sidecar.demo.secret.toString('latin1')}   (shown once; also in ${sidecar.demo.secretFile}, mode 0600)\n`);
      sidecar.demo.secret.fill(0);
    } else {
      out.write(`  demo bot secret   in ${sidecar.demo.secretFile} (mode 0600)\n`);
    }
  }
  out.write('\n');

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: draining calls and revoking broker tokens');
      sidecar.close().finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
};

export default serve;
