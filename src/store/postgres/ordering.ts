import type { Writable } from 'node:stream';
import type pg from 'pg';
import type { OrderingRef } from '../types.ts';

/**
 * Ordering on PostgreSQL (docs/ordering.md): every write that changes a key's set of unfinished
 * events runs as one transaction that first takes the keys' locks (lock-ordering-keys.sql: sorted,
 * before any row lock, so such transactions never deadlock on each other), then does its work,
 * then promotes each key's head as a separate statement (promote-ordering-keys.sql; under READ
 * COMMITTED it sees every claim committed before the lock was granted). Claims try the same
 * lock and skip an ordered row whose key is locked, so a promotion and a claim of the same key
 * never interleave. Writes about unordered events only never come here: they run exactly the
 * statements they always did.
 */

export type RunStatement = (
  client: pg.PoolClient,
  name: 'lock-ordering-keys' | 'promote-ordering-keys',
  values: unknown[],
) => Promise<pg.QueryResult>;

function noop(): void {}

/** The distinct keys among `refs` (undefined entries are unordered events). */
export function distinctOrderingRefs(refs: Iterable<OrderingRef | null | undefined>): OrderingRef[] {
  const seen = new Map<string, OrderingRef>();
  for (const ref of refs) {
    if (!ref) continue;
    const id = JSON.stringify([ref.source, ref.key]);
    if (!seen.has(id)) seen.set(id, { source: ref.source, key: ref.key });
  }
  return [...seen.values()];
}

/** Whether a failed transaction may run again: deadlock (40P01) or serialization failure (40001). */
function isRetryable(error: unknown): boolean {
  // The driver's error, or the one a store error wraps.
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return code === '40P01' || code === '40001';
}

export interface OrderedTransactionOptions {
  pool: pg.Pool;
  refs: OrderingRef[];
  /** The store's injected time, or null for the database's clock. */
  now: () => Date | null;
  channel: string;
  run: RunStatement;
}

/**
 * Run `work` between the keys' locks and their promotion, in one transaction on one connection
 * of `pool`; a deadlock or serialization failure runs the whole transaction again (twice at
 * most). `work` must only write through the client it is given.
 */
export async function inOrderedTransaction<T>(
  options: OrderedTransactionOptions,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await options.pool.connect();
    if (!client.listeners('error').includes(noop)) client.on('error', noop);
    try {
      const value = await runOrdered(client, options, work, { ownTransaction: true });
      client.release();
      return value;
    } catch (error) {
      client.release(error instanceof Error && !isRetryable(error) ? error : undefined);
      if (attempt >= 3 || !isRetryable(error)) throw error;
    }
  }
}

/**
 * Issue pipelined statements in one socket write: each would otherwise be its own write, and on
 * a busy machine each write that wakes the server costs a context switch. (`connection.stream`
 * is node-postgres's socket; it is not in its types.)
 */
function inOneWrite<T>(client: pg.PoolClient, issue: () => T): T {
  const { connection } = client as unknown as { connection?: { stream?: Partial<Writable> } };
  connection?.stream?.cork?.();
  try {
    return issue();
  } finally {
    connection?.stream?.uncork?.();
  }
}

/** The same on a connection already inside a transaction (a handler's ctx.tx): lock, work, promote. */
export function orderWithin<T>(
  client: pg.PoolClient,
  options: Omit<OrderedTransactionOptions, 'pool'>,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return runOrdered(client, options, work, { ownTransaction: false });
}

/**
 * Lock the keys, run `work`, promote the keys' heads; with `ownTransaction`, inside a BEGIN and
 * COMMIT of its own (rolled back on failure), else inside the caller's transaction, which the
 * caller ends. The store's clients pipeline (postgres-store.ts): the opening statements go out
 * with the work's first statement, the promotion with COMMIT, so an own transaction costs two
 * round trips, not five. The server still runs them one after another.
 */
async function runOrdered<T>(
  client: pg.PoolClient,
  options: Omit<OrderedTransactionOptions, 'pool'>,
  work: (client: pg.PoolClient) => Promise<T>,
  { ownTransaction }: { ownTransaction: boolean },
): Promise<T> {
  const sources = options.refs.map((r) => r.source);
  const keys = options.refs.map((r) => r.key);
  let value: Promise<T> | undefined;
  const opening = inOneWrite(client, () => {
    const begun = [
      ...(ownTransaction ? [client.query('BEGIN')] : []),
      options.run(client, 'lock-ordering-keys', [sources, keys]),
    ];
    value = work(client);
    return begun;
  });
  // Whatever fails first is the cause: a statement behind it only reports the aborted transaction.
  const openingFailure = Promise.allSettled(opening).then(
    (settled) => settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason,
  );
  try {
    const result = await value!;
    await Promise.all(opening);
    // A COMMIT behind a failed promotion rolls back without an error of its own.
    await Promise.all(
      inOneWrite(client, () => [
        options.run(client, 'promote-ordering-keys', [options.now(), sources, keys, options.channel]),
        ...(ownTransaction ? [client.query('COMMIT')] : []),
      ]),
    );
    return result;
  } catch (error) {
    if (ownTransaction) await client.query('ROLLBACK').catch(noop);
    throw (await openingFailure) ?? error;
  }
}
