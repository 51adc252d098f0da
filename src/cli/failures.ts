/**
 * How the CLI ends when it cannot do its job: one line on stderr that says what to do, and an
 * exit code a script can test (docs/cli.md). Known causes (a bad config, PostgreSQL down, a
 * port in use...) never print a stack trace; an unexpected error does, since it is a bug.
 */
import { ConfigError } from '../config/problems.ts';

export const exitCodes = {
  /** The operation ran and failed (a delivery did not verify, a POST was refused), or a bug. */
  failed: 1,
  /** The configuration or the command line is wrong: fix it and run again. */
  configuration: 2,
  /** A dependency is unreachable or not ready: PostgreSQL, the database file, the port, the schema. */
  unavailable: 3,
} as const;

/** A failure the CLI already explained: printed as is, with its exit code. */
export class CliFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliFailure';
    this.exitCode = exitCode;
  }
}

export interface Explained {
  message: string;
  exitCode: number;
  /** Only for an error nobody anticipated: the stack helps whoever fixes the bug. */
  stack?: string;
}

/** Turn whatever ended a command into the line to print and the code to exit with. */
export function explainFailure(error: unknown): Explained {
  if (error instanceof CliFailure) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof ConfigError) return { message: error.message, exitCode: exitCodes.configuration };
  for (const cause of causesOf(error)) {
    const known = explainCause(cause);
    if (known) return known;
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    message,
    exitCode: exitCodes.failed,
    ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
  };
}

interface SystemError {
  code?: unknown;
  message?: string;
  syscall?: string;
  address?: string;
  port?: number;
}

/** The error, its causes, and the attempts of an AggregateError (localhost tried as ::1 and 127.0.0.1). */
function* causesOf(error: unknown): Generator<SystemError> {
  const seen = new Set<unknown>();
  const queue = [error];
  while (queue.length > 0) {
    const next = queue.shift();
    if (next === null || typeof next !== 'object' || seen.has(next)) continue;
    seen.add(next);
    yield next as SystemError;
    if (next instanceof AggregateError) queue.push(...next.errors);
    queue.push((next as { cause?: unknown }).cause);
  }
}

const unreachableCodes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

function explainCause(cause: SystemError): Explained | undefined {
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  const message = cause.message ?? '';
  const unavailable = (text: string) => ({ message: text, exitCode: exitCodes.unavailable });
  if (cause.syscall === 'listen') {
    const where = `${cause.address ?? 'the address'}:${cause.port ?? '?'}`;
    if (code === 'EADDRINUSE')
      return unavailable(
        `port ${cause.port} is in use on ${cause.address} (another process listens on ${where}): stop it, or choose another port with --port or PORT`,
      );
    if (code === 'EACCES')
      return unavailable(
        `no permission to listen on ${where}: use a port above 1023, or give this process the right to bind low ports`,
      );
    if (code === 'EADDRNOTAVAIL')
      return {
        message: `${cause.address} is not an address of this machine: fix --host or HOST (127.0.0.1 for this machine only, 0.0.0.0 for every interface)`,
        exitCode: exitCodes.configuration,
      };
  }
  if (code && code in unreachableCodes) {
    const where = cause.address ? ` at ${cause.address}${cause.port ? `:${cause.port}` : ''}` : '';
    return unavailable(
      `cannot reach PostgreSQL${where} (${unreachableCodes[code]}): start it, or point DATABASE_URL at a running server`,
    );
  }
  if (/connection timeout|timeout expired/i.test(message)) {
    return unavailable(
      'PostgreSQL did not answer within 5 s: check that it runs and that DATABASE_URL names the right host and port',
    );
  }
  switch (code) {
    case '3D000': {
      const name = /database "(.+)" does not exist/.exec(message)?.[1] ?? 'NAME';
      return unavailable(
        `PostgreSQL has no database "${name}": create it (createdb ${name}), or fix the database name in DATABASE_URL`,
      );
    }
    case '28000':
    case '28P01':
      return unavailable(
        `PostgreSQL refused the login (${message}): fix the user or password in DATABASE_URL, or create the role`,
      );
    case '42501':
      return unavailable(
        `PostgreSQL refused (${message}): grant the DATABASE_URL role CREATE and USAGE on the database or schema, or use a role that has them`,
      );
    case '57P03':
      return unavailable(`PostgreSQL is not accepting connections yet (${message}): try again shortly`);
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
      return unavailable(
        `cannot write the SQLite database (${message}): check that its folder exists and is writable, or set DATABASE_URL=file:PATH to a writable place`,
      );
    case 'SQLITE_BUSY':
      return unavailable(
        `the SQLite database is locked by another process (${message}): try again when it is done`,
      );
    default:
      // The SQLite store creates its folder: a read-only or foreign-owned place fails here.
      if (cause.syscall === 'mkdir' && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) {
        return unavailable(`${message}: make the folder writable, or set DATABASE_URL=file:PATH elsewhere`);
      }
      return undefined;
  }
}
