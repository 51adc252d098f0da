import pino, { type Logger } from 'pino';
import { createRedaction, maskCardNumbers, type Redaction } from './redaction.ts';

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
  /**
   * Header names and JSON paths masked in every line (src/redaction.ts). Every scheme's own
   * signature headers are masked in any case; pass `createRedaction(settings, [names])` for the
   * header names your sources configure (generic HMAC's `header`).
   */
  redaction?: Redaction;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    redact: { paths: redactedLogPaths, censor: '[redacted]' },
    base: { service: 'hookbox' },
    ...logRedaction(options.redaction ?? createRedaction()),
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

/**
 * Credential fields, configured headers and JSON paths, and card numbers are masked in every
 * line, and errors are logged as type and message without their stack.
 */
function logRedaction(redaction: Redaction): Pick<pino.LoggerOptions, 'formatters' | 'hooks'> {
  return {
    formatters: { log: (object) => redaction.redactLogObject(object) },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? maskCardNumbers(arg) : arg)) as Parameters<
            typeof method
          >,
        );
      },
    },
  };
}

/** A logger that drops everything: the library default, so an embedding app opts in to logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
