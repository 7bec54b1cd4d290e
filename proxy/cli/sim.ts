// `kguard sim [options]` (flags in the registry, commands.ts). Starts the Kiwoom simulator with its control API and prints its URL; runs
// until SIGINT/SIGTERM (or the optional abort signal, for tests). It behaves
// like the real Kiwoom (shared token per app key, rate limits) unless --ideal.

import { isIP } from 'node:net';
import { isLoopbackAddress, startSimulator } from '../sim/index.js';
import type { SimLimits } from '../sim/index.js';
import { parseValues, resolve, runCommand } from './runner.js';
import { flagsOf, type Handler, type Values } from './spec.js';
import type { CliIO } from './types.js';
import { UsageError } from './usage.js';

interface SimCliArgs {
  port: number;
  host: string;
  pageSize: number;
  allowRemote: boolean;
  control: boolean;
  ideal: boolean;
  bindTokenToAddress: boolean;
  rateLimitStatus: 200 | 429;
  limits: Partial<Record<keyof SimLimits, number>>;
}

const LIMIT_FLAGS: Readonly<Record<string, keyof SimLimits>> = {
  'token-per-second': 'tokenPerSecond',
  'per-api-id-per-second': 'perApiIdPerSecond',
  'total-per-second': 'totalPerSecond',
  'order-group-per-second': 'orderGroupPerSecond',
  'max-symbols': 'maxSymbolsPerRequest',
};

function intArg(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(`${name} needs an integer in ${min}..${max}`);
  return Number(value);
}

/** The registry's sim flags, checked: ranges, --ideal without limits, loopback unless --allow-remote. Throws UsageError. */
export function parseSimArgs(args: readonly string[]): SimCliArgs {
  const { values, positionals } = parseValues(flagsOf(resolve(['sim']).cmd), args);
  if (positionals.length > 0) throw new UsageError(`${positionals.length} unexpected argument(s)`);
  return checkSimArgs(values);
}

function checkSimArgs(values: Values): SimCliArgs {
  const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const out: SimCliArgs = {
    port: str('port') === undefined ? 0 : intArg('--port', str('port'), 0, 65535),
    host: str('host') ?? '127.0.0.1',
    pageSize: str('page-size') === undefined ? 20 : intArg('--page-size', str('page-size'), 1, 1000),
    allowRemote: values['allow-remote'] === true,
    control: values['no-control'] !== true,
    ideal: values.ideal === true,
    bindTokenToAddress: values['bind-token-to-address'] === true,
    rateLimitStatus: str('rate-limit-status') === '429' ? 429 : 200,
    limits: {},
  };
  for (const [flag, limit] of Object.entries(LIMIT_FLAGS)) {
    if (str(flag) !== undefined) out.limits[limit] = intArg(`--${flag}`, str(flag), 1, 1_000_000);
  }
  if (out.ideal && (out.bindTokenToAddress || Object.keys(out.limits).length > 0)) {
    throw new UsageError('--ideal has no limits and no address binding; drop the limit and binding flags');
  }
  if (isIP(out.host) === 0 && out.host !== 'localhost') throw new UsageError(`--host must be an IP address: ${out.host}`);
  if (!out.allowRemote && out.host !== 'localhost' && !isLoopbackAddress(out.host)) {
    throw new UsageError(`refusing to listen on non-loopback ${out.host} without --allow-remote (the simulator has no real authentication)`);
  }
  return out;
}

/** `kguard sim ...`; runs until SIGINT/SIGTERM or the optional abort signal (tests). */
export function runSimCli(args: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  return runCommand(['sim'], args, io, signal ? { signal } : {});
}

export const sim: Handler = async (ctx) => {
  const { io, signal } = ctx;
  let parsed: SimCliArgs;
  try {
    parsed = checkSimArgs(ctx.values);
  } catch (err) {
    if (err instanceof UsageError) return ctx.usage(err.detail ?? err.message);
    throw err;
  }
  const sim = await startSimulator({
    host: parsed.host,
    port: parsed.port,
    pageSize: parsed.pageSize,
    control: parsed.control,
    rateLimitStatus: parsed.rateLimitStatus,
    ...(parsed.ideal ? { ideal: true } : { limits: parsed.limits, bindTokenToAddress: parsed.bindTokenToAddress }),
  });
  io.stdout.write(`Kiwoom simulator listening on ${sim.url}\n`);
  io.stdout.write(parsed.ideal ? 'mode: ideal (fresh token per issue, no limits)\n' : `mode: faithful, limits ${JSON.stringify(sim.limits())}\n`);
  if (parsed.control) io.stdout.write(`control API: ${sim.url}/_sim/ (loopback only)\n`);
  let stop: () => void = () => undefined;
  await new Promise<void>((done) => {
    stop = done;
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
  });
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await sim.close();
  io.stdout.write('Kiwoom simulator stopped\n');
  return 0;
};

export default runSimCli;
