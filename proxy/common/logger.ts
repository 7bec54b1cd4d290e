// JSON logs through pino. Redaction paths are compiled once at start; the
// fields below are censored wherever they appear so that a careless log call
// cannot leak a secret. The real protection is that secrets are Buffers that
// never get passed to a logger in the first place.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'appkey',
  'appKey',
  'secretkey',
  'secretKey',
  'secret',
  'botSecret',
  'token',
  'accessToken',
  'authorization',
  'password',
  'pin',
  'dataKey',
  'plaintext',
  'masterKey',
  'totp',
];

/**
 * Fields that hold a Kiwoom account number (customer data, not a secret): masked to the last four digits, as the
 * incident report shows them, wherever a log line carries one (a lockdown's scope, a trading state's).
 */
const ACCOUNT_KEYS = ['account', 'accountNo', 'acctNo', 'acnt_no'];
const ACCOUNT_KEY_SET: ReadonlySet<string> = new Set(ACCOUNT_KEYS);

/** An account number as logs and reports show it: all but the last four characters starred. */
export function maskAccount(a: string): string {
  return a.length <= 4 ? '****' : `${'*'.repeat(a.length - 4)}${a.slice(-4)}`;
}

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  ...ACCOUNT_KEYS,
  ...ACCOUNT_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/** A secret's value is replaced; an account number is masked (a masked one stays as it is). */
function censor(value: unknown, path: string[]): unknown {
  if (!ACCOUNT_KEY_SET.has(path[path.length - 1] ?? '')) return '[REDACTED]';
  if (typeof value === 'string') return /^\*+[^*]{0,4}$/.test(value) ? value : maskAccount(value);
  return value === undefined || value === null ? value : '[REDACTED]';
}

/**
 * For a hot line whose fields are all flat scalars (the per-request line):
 * the same names censored, at the top level only, where such a line can hold
 * them. Wildcard paths cost a walk per line; these compile to direct lookups.
 */
export function flatLineLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [...SECRET_KEYS, ...ACCOUNT_KEYS], censor } });
}

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout; tests pass a capturing stream. */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Instead of stdout (and buffered the same way): a file, as the benchmarks log. */
  file?: string;
  name?: string;
  /**
   * Bytes of log lines gathered before one write to stdout (0: a write per
   * line). Each write costs a syscall on the event loop's thread pool, as
   * much as the rest of a request line; gathered lines wait at most flushMs.
   * At most 16,000 (pino's writer caps one write at 16 KiB).
   */
  bufferBytes?: number;
  flushMs?: number;
}

/** Defaults of log.bufferBytes and log.flushMs. */
export const LOG_BUFFER_DEFAULTS = { bufferBytes: 4_096, flushMs: 200 } as const;

/**
 * stdout (or a file), gathered, and flushed every flushMs (on exit by pino
 * itself). The flush runs on every tick: sonic-boom skips a flush while a
 * write is under way, so a "lines waiting" flag could strand the last lines.
 */
function bufferedOutput(dest: number | string, bufferBytes: number, flushMs: number): DestinationStream {
  const stream = pino.destination({ dest, sync: false, minLength: bufferBytes, mkdir: typeof dest === 'string' });
  if (bufferBytes > 0) {
    const timer = setInterval(() => {
      try {
        stream.flush();
      } catch {
        clearInterval(timer); // destroyed (stdout gone): nothing left to flush to
      }
    }, flushMs).unref();
  }
  return stream;
}

/** The buffered output of each logger createLogger made (not a caller's destination). */
const outputs = new WeakMap<Logger, DestinationStream>();

/**
 * Drops whatever the logger still holds and writes nothing more: for stdout whose reader went away (EPIPE). Its
 * lines cannot be delivered, and sonic-boom's flushSync at exit retries every error but EAGAIN's refusal forever
 * (it sleeps and loops), so the process would never exit.
 */
export function abandonOutput(logger: Logger): void {
  const out = outputs.get(logger) as unknown as Record<'write' | 'flush' | 'flushSync', (...a: unknown[]) => unknown> | undefined;
  if (!out) return;
  out.write = () => true;
  out.flush = () => undefined;
  out.flushSync = () => undefined;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const output = opts.destination
    ? undefined
    : bufferedOutput(opts.file ?? 1, opts.bufferBytes ?? LOG_BUFFER_DEFAULTS.bufferBytes, opts.flushMs ?? LOG_BUFFER_DEFAULTS.flushMs);
  const logger = pino(
    {
      name: opts.name ?? 'kguard',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    (opts.destination as DestinationStream | undefined) ?? output!,
  );
  if (output && opts.file === undefined) outputs.set(logger, output);
  return logger;
}
