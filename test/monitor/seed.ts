import { createHash, randomBytes } from 'node:crypto';
import { createEventId } from '../../src/ids.ts';
import type { Store } from '../../src/store/types.ts';

/**
 * Put events in given states straight through the Store port. `now` is the clock the store was
 * opened with (createTestStore(engine, { clock })): the store decides its own times by it.
 */
export function createSeeder(store: Store, now: () => number) {
  let sequence = 0;
  // Seeders sharing a store must not reuse each other's dedupe keys.
  const prefix = randomBytes(4).toString('hex');

  async function record(
    count: number,
    options: { source?: string; type?: string; key?: string } = {},
  ): Promise<string[]> {
    const events = Array.from({ length: count }, () => {
      sequence += 1;
      const body = Buffer.from(JSON.stringify({ seed: prefix, n: sequence }));
      return {
        id: createEventId(now()),
        source: options.source ?? 'stripe',
        provider: 'stripe',
        dedupeKey: options.key ?? `evt_${prefix}_${sequence}`,
        eventType: options.type ?? 'invoice.paid',
        headers: {},
        body,
        bodySha256: createHash('sha256').update(body).digest('hex'),
        receivedAt: now(),
      };
    });
    const results = await store.recordEvents(events);
    return results.map((r) => r.id);
  }

  /** Claim each event and finish the attempt with `outcome` (a failed one is due again at once). */
  async function attempt(
    ids: string[],
    outcome: 'processed' | 'failed' | 'dead',
    durationMs = 40,
    retryInMs = 0,
  ): Promise<void> {
    const workerId = 'seed-worker';
    const claims: { eventId: string; token: number }[] = [];
    for (const id of ids) {
      const claimed = await store.claimEventById(id, { workerId, leaseMs: 60_000, ignoreBackoff: true });
      if (!claimed) throw new Error(`could not claim ${id}`);
      claims.push({ eventId: id, token: claimed.claimToken });
    }
    await store.finishAttempts(
      workerId,
      claims.map((claim) => ({
        ...claim,
        outcome,
        startedAt: now() - durationMs,
        finishedAt: now(),
        error: outcome === 'processed' ? null : 'handler exploded',
        ...(outcome === 'failed' ? { retryDelayMs: retryInMs } : {}),
      })),
    );
  }

  return {
    record,
    attempt,
    processed: async (count: number, options?: { source?: string; type?: string }) => {
      const ids = await record(count, options);
      await attempt(ids, 'processed');
      return ids;
    },
    dead: async (count: number, options?: { source?: string; type?: string }) => {
      const ids = await record(count, options);
      await attempt(ids, 'dead');
      return ids;
    },
    failed: async (count: number, options?: { source?: string; type?: string }) => {
      const ids = await record(count, options);
      await attempt(ids, 'failed');
      return ids;
    },
    /** Claim without finishing: the event stays in processing under a lease. */
    claim: async (ids: string[], leaseMs = 60_000, workerId = 'seed-worker') => {
      for (const id of ids) {
        if (!(await store.claimEventById(id, { workerId, leaseMs, ignoreBackoff: true })))
          throw new Error(`could not claim ${id}`);
      }
    },
  };
}
