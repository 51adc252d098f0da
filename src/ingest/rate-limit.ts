/**
 * Admission control for the receive route: per-source and per-client-IP rate limits with
 * rate-limiter-flexible. One process keeps its counters in memory; several processes sharing
 * one PostgreSQL keep them in a table there, so a limit holds across all of them (DESIGN,
 * Scaling out). No source is limited unless its config says so: a provider's retry storm after
 * an outage is legitimate traffic, and a 429 only delays it.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import { parseDatabaseUrl } from '../store/open-store.ts';
import type { Source } from './source.ts';

const ruleSchema = z.strictObject({
  /** Deliveries allowed per window. */
  points: z.number().int('must be a whole number').min(1, 'must be at least 1'),
  /** The window, in seconds. */
  durationSeconds: z.number().int('must be a whole number of seconds').min(1, 'must be at least 1'),
});

export const sourceRateLimitSchema = z.strictObject({
  /** All deliveries to the source, whoever sends them. */
  perSource: ruleSchema.optional(),
  /** Deliveries from one client IP (one /64 for IPv6) to the source. */
  perClientIp: ruleSchema.optional(),
});

export type RateLimitRule = z.infer<typeof ruleSchema>;
export type SourceRateLimit = z.infer<typeof sourceRateLimitSchema>;

export const rateLimitSettingsSchema = z.strictObject({
  /** `memory` for one process; `postgres` when several processes share one database. */
  store: z.enum(['memory', 'postgres']).default('memory'),
  /** The PostgreSQL for `store: 'postgres'`; default the Hookbox database URL. `?schema=` is honoured. */
  databaseUrl: z.string().min(1).optional(),
});

export type RateLimitSettings = z.input<typeof rateLimitSettingsSchema>;

/** The table the PostgreSQL limiter keeps its counters in (in the Hookbox schema, when there is one). */
export const rateLimitTableName = 'hookbox_rate_limits';

/** Returns null to admit a delivery, else the seconds the client should wait (Retry-After). */
export type Admit = (source: Source, clientIp: string | undefined) => Promise<number | null>;

export interface Admission {
  /** Undefined when no source has a limit: the receiver then skips admission entirely. */
  admit: Admit | undefined;
  /** Release the PostgreSQL pool and timers (no-op for memory). */
  close(): Promise<void>;
}

export interface AdmissionOptions {
  sources: ReadonlyMap<string, Source>;
  settings?: RateLimitSettings;
  /** The Hookbox database URL, when the store was given as one (the default for `databaseUrl`). */
  databaseUrl?: string;
  logger: Logger;
}

interface Limiter {
  consume(key: string): Promise<unknown>;
}

interface SourceLimiters {
  perSource?: Limiter;
  perClientIp?: Limiter;
}

/**
 * Build the `admit` function the receiver calls before reading a body. The per-IP limit is
 * checked first, so one noisy client is refused without spending the source's shared budget.
 * Throws (naming the setting) when `store: 'postgres'` has no PostgreSQL URL to use.
 */
export function createAdmission(options: AdmissionOptions): Admission {
  const settings = rateLimitSettingsSchema.parse(options.settings ?? {});
  const limited = [...options.sources.values()].filter(
    (source) => source.rateLimit?.perSource !== undefined || source.rateLimit?.perClientIp !== undefined,
  );
  if (limited.length === 0) return { admit: undefined, close: async () => {} };

  const backend =
    settings.store === 'postgres'
      ? createPostgresBackend(settings.databaseUrl ?? options.databaseUrl, options.logger)
      : memoryBackend;
  const limiters = new Map<string, SourceLimiters>();
  for (const source of limited) {
    const { perSource, perClientIp } = source.rateLimit ?? {};
    limiters.set(source.name, {
      perSource: perSource && backend.create(`src:${source.name}`, perSource),
      perClientIp: perClientIp && backend.create(`ip:${source.name}`, perClientIp),
    });
  }

  async function consume(limiter: Limiter, key: string, source: Source): Promise<number | null> {
    try {
      await limiter.consume(key);
      return null;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
      // The PostgreSQL limiter falls back to memory on store errors, so this is a bug: fail open
      // (a broken limiter must not refuse a provider's real deliveries) and say so in the log.
      options.logger.error(
        { source: source.name, err: (refusal as Error)?.message },
        'rate limiter failed: delivery admitted without a limit check',
      );
      return null;
    }
  }

  const admit: Admit = async (source, clientIp) => {
    const forSource = limiters.get(source.name);
    if (!forSource) return null;
    if (forSource.perClientIp && clientIp !== undefined) {
      const wait = await consume(forSource.perClientIp, clientKeyOf(clientIp), source);
      if (wait !== null) return wait;
    }
    if (forSource.perSource) return consume(forSource.perSource, 'all', source);
    return null;
  };
  return { admit, close: () => backend.close() };
}

interface Backend {
  create(keyPrefix: string, rule: RateLimitRule): Limiter;
  close(): Promise<void>;
}

const memoryBackend: Backend = {
  create: (keyPrefix, rule) =>
    new RateLimiterMemory({ keyPrefix, points: rule.points, duration: rule.durationSeconds }),
  close: async () => {},
};

/**
 * Counters in one table, shared by every Hookbox process on the database. The table is created
 * on first use (the Hookbox schema may not exist before migrate()). When PostgreSQL fails, each
 * limiter falls back to an in-memory one with the same rule: limits then hold per process.
 */
function createPostgresBackend(databaseUrl: string | undefined, logger: Logger): Backend {
  const location = databaseUrl === undefined ? undefined : parseDatabaseUrl(databaseUrl);
  if (location?.engine !== 'postgres') {
    throw new Error(
      "rateLimit.store 'postgres' needs a PostgreSQL database: use a postgres:// database URL, or set rateLimit.databaseUrl",
    );
  }
  const pool = new pg.Pool({ connectionString: location.connectionString, max: 4 });
  // An idle client's error (a restarted server) must not crash the process; the next query reconnects.
  pool.on('error', (error) => logger.warn({ err: error.message }, 'rate limiter connection lost'));
  const tableOptions = {
    storeClient: pool,
    storeType: 'pool',
    tableName: rateLimitTableName,
    ...(location.schema ? { schemaName: location.schema } : {}),
    // Expired rows are cleared by the sweep below, which close() can stop.
    clearExpiredByTimeout: false,
  };

  const qualifiedTable = location.schema ? `${location.schema}.${rateLimitTableName}` : rateLimitTableName;
  let ready: Promise<void> | null = null;
  /** Create the table once; a failure is forgotten so the next delivery tries again. */
  function ensureTable(): Promise<void> {
    ready ??= new Promise<void>((resolve, reject) => {
      new RateLimiterPostgres({ ...tableOptions, points: 1, duration: 1 }, (error) =>
        error ? reject(error) : resolve(),
      );
    })
      .catch(async (error: Error) => {
        // Two processes creating the table at once: PostgreSQL's CREATE TABLE IF NOT EXISTS can
        // fail for the loser ('type ... already exists'). The table is there all the same.
        const { rows } = await pool.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
          qualifiedTable,
        ]);
        if (rows[0]?.found === null || rows[0]?.found === undefined) throw error;
      })
      .catch((error: Error) => {
        ready = null;
        throw error;
      });
    return ready;
  }

  let closing: Promise<void> | null = null;
  const created: RateLimiterPostgres[] = [];
  const sweep = setInterval(() => {
    const cutoff = Date.now() - 3_600_000;
    // clearExpired never rejects; one limiter clears the whole table.
    if (created[0])
      void (created[0] as unknown as { clearExpired(at: number): Promise<void> }).clearExpired(cutoff);
  }, 300_000);
  sweep.unref();

  return {
    create(keyPrefix, rule) {
      const insurance = new RateLimiterMemory({
        keyPrefix,
        points: rule.points,
        duration: rule.durationSeconds,
      });
      const limiter = new RateLimiterPostgres({
        ...tableOptions,
        keyPrefix,
        points: rule.points,
        duration: rule.durationSeconds,
        tableCreated: true,
        insuranceLimiter: insurance,
      });
      created.push(limiter);
      return {
        async consume(key) {
          try {
            await ensureTable();
          } catch (error) {
            logger.warn(
              { err: (error as Error).message },
              'rate limit table unavailable: limiting in memory',
            );
            return insurance.consume(key);
          }
          return limiter.consume(key);
        },
      };
    },
    close() {
      clearInterval(sweep);
      closing ??= pool.end();
      return closing;
    },
  };
}

/**
 * The bucket a client IP counts against: the address for IPv4 (IPv4-mapped IPv6 included), the
 * /64 prefix for IPv6 (one subscriber usually holds a whole /64), and a hash of anything else,
 * so a garbage X-Forwarded-For value cannot make a long key.
 */
export function clientKeyOf(clientIp: string): string {
  const unmapped = clientIp.startsWith('::ffff:') ? clientIp.slice(7) : clientIp;
  if (isIP(unmapped) === 4) return unmapped;
  const address = clientIp.split('%')[0] ?? '';
  if (isIP(address) === 6) return `${ipv6Prefix64(address)}::/64`;
  return `unparsed:${createHash('sha256').update(clientIp).digest('hex').slice(0, 16)}`;
}

/** The first four groups of an IPv6 address, expanded and without leading zeros. */
function ipv6Prefix64(address: string): string {
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) is 32 bits: two groups.
  const groupsOf = (part: string) =>
    part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const [head = '', tail] = address.toLowerCase().split('::');
  const headGroups = groupsOf(head);
  const tailGroups = tail === undefined ? [] : groupsOf(tail);
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  return groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':');
}
