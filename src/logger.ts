import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths pino blanks in every log line: secrets and signatures never reach a log. */
export const redactedLogPaths = [
  'secret',
  'secrets',
  '*.secret',
  '*.secrets',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'headers["stripe-signature"]',
  'signature',
  '*.signature',
];

export interface LoggerOptions {
  level?: string;
  /** Human-readable output (pino-pretty) instead of JSON lines. */
  pretty?: boolean;
  /** Where JSON lines go (tests capture them). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    redact: { paths: redactedLogPaths, censor: '[redacted]' },
    base: { service: 'hookbox' },
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } },
    });
  }
  if (options.destination) return pino(base, options.destination);
  return pino(base);
}

/** A logger that drops everything: the library default, so an embedding app opts in to logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
