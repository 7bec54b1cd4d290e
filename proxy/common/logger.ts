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

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout; tests pass a capturing stream. */
  destination?: DestinationStream | NodeJS.WritableStream;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'kguard',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    (opts.destination as DestinationStream | undefined) ?? pino.destination({ dest: 1, sync: false }),
  );
}
