import type { DeliveryAttemptRecord, Store, StoredDelivery } from '../../src/store/types.ts';

/**
 * Put deliveries in given states straight through the DeliveryStore port (no HTTP): create one
 * for an event (replay), then claim it and finish the attempt with a verdict.
 */
export function createDeliverySeeder(store: Store, now: () => number) {
  const workerId = 'seed-delivery-worker';

  async function create(eventId: string, destination: string): Promise<StoredDelivery> {
    const rows = await store.replayEvent(eventId, [destination]);
    const delivery = rows?.find((d) => d.destination === destination);
    if (!delivery) throw new Error(`could not create a delivery of ${eventId} to ${destination}`);
    return delivery;
  }

  /** Claim every due delivery of source/destination and finish each with `outcome`. */
  async function attempt(
    source: string,
    destination: string,
    outcome: 'succeeded' | 'failed' | 'dead',
    options: { statusCode?: number; durationMs?: number; limit?: number } = {},
  ): Promise<number> {
    const claimed = await store.claimDeliveries({
      workerId,
      leaseMs: 60_000,
      destinations: [{ source, name: destination, limit: options.limit ?? 100 }],
    });
    const statusCode = options.statusCode ?? (outcome === 'succeeded' ? 200 : 500);
    const attempt: DeliveryAttemptRecord = {
      startedAt: now() - (options.durationMs ?? 25),
      durationMs: options.durationMs ?? 25,
      statusCode,
      responseExcerpt: Buffer.from(outcome === 'succeeded' ? 'ok' : 'upstream exploded'),
      errorCode: outcome === 'succeeded' ? null : 'http_status',
      error: outcome === 'succeeded' ? null : `answered ${statusCode}`,
    };
    await store.finishDeliveries(
      workerId,
      claimed.map((d) => ({
        deliveryId: d.id,
        token: d.claimToken,
        outcome,
        attempt,
        ...(outcome === 'failed' ? { retryDelayMs: 0 } : {}),
      })),
    );
    return claimed.length;
  }

  return { create, attempt };
}
