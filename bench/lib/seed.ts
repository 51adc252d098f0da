/** Storing pending events before a drain's clock starts, as ingest would have stored them. */
import { createHash } from 'node:crypto';
import { createEventId } from '../../src/ids.ts';
import type { NewEvent } from '../../src/store/types.ts';
import {
  benchEventId,
  benchEventType,
  benchSecret,
  benchSource,
  createBodyFactory,
  signStripe,
} from './deliveries.ts';
import { openTargetStore, type StoreTarget } from './targets.ts';

export interface SeedOptions {
  /** Dedupe keys are `benchEventId(prefix, i)`. */
  prefix: string;
  /** The Stripe `created` time the bodies carry (default: now). */
  bodyTime?: number;
  /** What the scenario adds to event `index` (destinations, an ordering key). */
  extra?: (index: number, now: number) => Partial<NewEvent>;
}

/** Store `count` pending events (the same signed 2 KB Stripe bodies and headers ingest stores), 1,000 per batch. */
export async function seedPendingEvents(
  target: StoreTarget,
  count: number,
  options: SeedOptions,
): Promise<void> {
  const store = openTargetStore(target);
  const bodyOf = createBodyFactory(options.bodyTime);
  try {
    await store.migrate();
    for (let done = 0; done < count; ) {
      const now = Date.now();
      const batch: NewEvent[] = [];
      for (; batch.length < 1000 && done < count; done++) {
        const dedupeKey = benchEventId(options.prefix, done);
        const body = Buffer.from(bodyOf(dedupeKey));
        batch.push({
          id: createEventId(now),
          source: benchSource,
          provider: 'stripe',
          dedupeKey,
          eventType: benchEventType,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'stripe-signature': signStripe(body, benchSecret, Math.floor(now / 1000)),
          },
          body,
          bodySha256: createHash('sha256').update(body).digest('hex'),
          receivedAt: now,
          ...options.extra?.(done, now),
        });
      }
      await store.recordEvents(batch);
    }
  } finally {
    await store.close();
  }
}
