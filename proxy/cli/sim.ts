// `kguard sim [--port N] [--host 127.0.0.1] [--page-size N] [--allow-remote] [--no-control]
//             [--ideal | limit flags, --bind-token-to-address, --rate-limit-status 200|429]`
// Starts the Kiwoom simulator with its control API and prints its URL; runs
// until SIGINT/SIGTERM (or the optional abort signal, for tests). It behaves
// like the real Kiwoom (shared token per app key, rate limits) unless --ideal.

import { isIP } from 'node:net';
import { isLoopbackAddress, startSimulator } from '../sim/index.js';
import type { SimLimits } from '../sim/index.js';
import type { CliIO } from './types.js';
import { UsageError } from './usage.js';

const USAGE = [
  'usage: kguard sim [--port N] [--host 127.0.0.1] [--page-size N] [--allow-remote] [--no-control]',
  '                  [--ideal] [--bind-token-to-address] [--rate-limit-status 200|429]',
  '                  [--token-per-second N] [--per-api-id-per-second N] [--total-per-second N]',
  '                  [--order-group-per-second N] [--max-symbols N]',
  '  By default the simulator behaves like Kiwoom: one shared token per app key while valid and',
  '  per-app-key limits (au10001 2/s, each api-id 5/s, all TRs 20/s, orders 5/s, 100 codes per stk_cd).',
  '  --ideal: a fresh independent token per issue, no limits, no address binding (for benchmarks).',
  '',
].join('\n');

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
  '--token-per-second': 'tokenPerSecond',
  '--per-api-id-per-second': 'perApiIdPerSecond',
  '--total-per-second': 'totalPerSecond',
  '--order-group-per-second': 'orderGroupPerSecond',
  '--max-symbols': 'maxSymbolsPerRequest',
};

function intArg(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(`${name} needs an integer in ${min}..${max}`);
  return Number(value);
}

export function parseSimArgs(args: readonly string[]): SimCliArgs {
  const out: SimCliArgs = {
    port: 0,
    host: '127.0.0.1',
    pageSize: 20,
    allowRemote: false,
    control: true,
    ideal: false,
    bindTokenToAddress: false,
    rateLimitStatus: 200,
    limits: {},
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    switch (flag) {
      case '--port':
        out.port = intArg('--port', value(), 0, 65535);
        break;
      case '--host':
        out.host = value() ?? '';
        break;
      case '--page-size':
        out.pageSize = intArg('--page-size', value(), 1, 1000);
        break;
      case '--allow-remote':
        out.allowRemote = true;
        break;
      case '--no-control':
        out.control = false;
        break;
      case '--ideal':
        out.ideal = true;
        break;
      case '--bind-token-to-address':
        out.bindTokenToAddress = true;
        break;
      case '--rate-limit-status': {
        const v = value();
        if (v !== '200' && v !== '429') throw new UsageError('--rate-limit-status must be 200 or 429');
        out.rateLimitStatus = v === '200' ? 200 : 429;
        break;
      }
      default: {
        const limit = LIMIT_FLAGS[flag ?? ''];
        if (!limit) throw new UsageError(`unknown argument: ${arg}`);
        out.limits[limit] = intArg(flag!, value(), 1, 1_000_000);
      }
    }
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

export async function runSimCli(args: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  let parsed: SimCliArgs;
  try {
    parsed = parseSimArgs(args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`kguard sim: ${err.detail}\n${USAGE}`);
      return 2;
    }
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
  await new Promise<void>((resolve) => {
    stop = resolve;
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
}

export default runSimCli;
