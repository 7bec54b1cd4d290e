// kguard serve: run the sidecar until SIGINT/SIGTERM, then drain: stop
// accepting, finish in-flight calls, revoke every outstanding broker token.
import { startSidecar } from '../server/sidecar.js';
import { abandonOutput, createLogger } from '../common/logger.js';
import { UsageError } from './usage.js';
import { configFromFlags } from './args.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand } from './types.js';

function port(ctx: Ctx, name: string): number | undefined {
  const v = ctx.str(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UsageError(`--${name} needs an integer in 0..65535`);
  return Number(v);
}

export const serve: Handler = async (ctx) => {
  const { io } = ctx;
  const overrides: Record<string, unknown> = {};
  const redis = ctx.str('redis');
  const listen = port(ctx, 'port');
  const admin = port(ctx, 'admin-port');
  const policy = ctx.str('policy');
  if (redis !== undefined) overrides.state = { backend: 'redis', redis: { url: redis } };
  if (listen !== undefined) overrides.listen = { port: listen };
  if (admin !== undefined) overrides.admin = { port: admin };
  if (policy !== undefined) overrides.policy = { file: policy };
  const config = await configFromFlags(ctx.values, io, overrides);
  const logger = createLogger({ level: config.log.level, bufferBytes: config.log.bufferBytes, flushMs: config.log.flushMs });

  // A crash must not print secrets: log the error through the redacting logger, then exit.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: { type: err.name, message: err.message, code: (err as { code?: string }).code } }, 'uncaught exception; exiting');
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    logger.error({ err: { message: (err as Error)?.message } }, 'unhandled rejection');
  });

  // Start-up may wait on retry back-offs whose timers do not hold the process (unref'd, so that they never delay a
  // shutdown): with nothing listening yet, Node would exit 0 in the middle of the start, silently.
  const holdOpen = setInterval(() => undefined, 60_000);
  const sidecar = await startSidecar(config, { logger }).finally(() => clearInterval(holdOpen));
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

  let code = 0;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // Listened for on every signal, not once: with no listener left, a repeated SIGTERM (the kubelet's, when a
        // deletion is repeated with a shorter grace; docker stop twice) would end the process mid-drain, cutting
        // the calls in flight and leaving broker tokens live. SIGKILL still ends it at once.
        logger.warn({ signal }, 'still draining: in-flight calls, then broker tokens; SIGKILL ends it at once');
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down: draining calls and revoking broker tokens');
      const started = Date.now();
      // The last line says the drain ended: without it a log that stops after "shutting down" cannot be told from a
      // process killed at the end of its grace period (in-flight calls cut, broker tokens left live).
      sidecar
        .close()
        .then(
          () => logger.info({ signal, drainMs: Date.now() - started }, 'stopped: calls drained, shut down'),
          (err: unknown) =>
            logger.error({ signal, drainMs: Date.now() - started, err: { message: (err as Error).message } }, 'stopped with an error while draining'),
        )
        .finally(resolve);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // stdout gone (its reader exited: EPIPE): the logs and a stdout audit sink have nowhere to go. Not an exit 0
    // on the spot (main.ts's `| head` rule) that drops in-flight calls' outcome records and leaves tokens live:
    // say so on stderr, drain as on SIGTERM (the stdout sink is down, records go to the others), exit 74.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (stopping) return;
      code = 74;
      abandonOutput(logger);
      io.stderr.write(`kguard: stdout failed (${String(err.code ?? 'error').slice(0, 32)}): logs are lost; draining and exiting ${code}\n`);
      stop('stdout-closed');
    });
  });
  return code;
};

const serveCommand: CliCommand = (args, io) => runCommand(['serve'], args, io);
export default serveCommand;
