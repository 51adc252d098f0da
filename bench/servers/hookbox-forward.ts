/**
 * The forwarding bench's Hookbox: events already stored with one pending delivery each (as
 * ingest routes them), forwarded by the delivery worker to the no-op destination. The clock runs
 * from the first claim to the last succeeded verdict committed.
 */
import { createHookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { benchDestination, benchSecret, benchSource } from '../lib/deliveries.ts';
import { openTargetStore, type StoreTarget } from '../lib/targets.ts';
import { announceReady, readConfig, serveParent } from './child.ts';
import type { ForwardReport } from './undici-forward.ts';

export interface HookboxForwardConfig {
  target: StoreTarget;
  url: string;
  events: number;
  concurrency: number;
  signingSecret: string;
  timeLimitSec: number;
}

const config = readConfig<HookboxForwardConfig>();
const store: Store = openTargetStore(config.target);
let delivered = 0;
let failed = 0;
// How the work was batched: store round trips per delivery is what bounds the rate.
let claims = 0;
let writes = 0;
let startedAt = 0;
let doneAt = 0;
let onDone: (() => void) | null = null;
const done = new Promise<void>((resolve) => {
  onDone = resolve;
});
const claim = store.claimDeliveries.bind(store);
store.claimDeliveries = async (options) => {
  const claimed = await claim(options);
  if (claimed.length > 0) claims++;
  if (claimed.length > 0 && startedAt === 0) startedAt = performance.now();
  return claimed;
};
// Count what is committed: a delivery is done when its succeeded verdict is written.
const finish = store.finishDeliveries.bind(store);
store.finishDeliveries = async (workerId, results) => {
  const applied = await finish(workerId, results);
  writes++;
  const outcomes = new Map(results.map((r) => [r.deliveryId, r.outcome]));
  for (const claim of applied) {
    if (outcomes.get(claim.deliveryId) === 'succeeded') delivered++;
    else failed++;
  }
  if (delivered >= config.events && doneAt === 0) {
    doneAt = performance.now();
    onDone?.();
  }
  return applied;
};

const hookbox = createHookbox({
  store,
  migrate: false,
  sources: {
    [benchSource]: {
      provider: 'stripe',
      secrets: [benchSecret],
      destinations: [
        {
          name: benchDestination,
          url: config.url,
          signingSecret: config.signingSecret,
          allowPrivateNetwork: true,
          concurrency: config.concurrency,
        },
      ],
    },
  },
});
announceReady();
serveParent({
  report: async (): Promise<ForwardReport & { complete: boolean; claims: number; writes: number }> => {
    const begun = performance.now();
    const limit = setTimeout(() => {
      doneAt = performance.now();
      onDone?.();
    }, config.timeLimitSec * 1000);
    await hookbox.start();
    await done;
    clearTimeout(limit);
    const elapsedMs = doneAt - (startedAt || begun);
    return {
      complete: delivered >= config.events,
      delivered,
      failed,
      claims,
      writes,
      elapsedMs,
      eventsPerSec: (delivered / elapsedMs) * 1000,
    };
  },
  close: () => hookbox.stop(),
});
