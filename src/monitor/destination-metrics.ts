import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DestinationSummary } from '../destinations/operations.ts';
import { type DeliveryStatus, type DestinationState, deliveryStatuses } from '../store/types.ts';

const stateValue: Record<DestinationState, number> = { active: 0, paused: 1, disabled: 2 };
/** From a fast local endpoint to the default 15 s timeout. */
const attemptBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];

/**
 * Destinations in /metrics (docs/operations.md): attempts by outcome and their duration, counted
 * by this process's delivery worker as it finishes them; deliveries by status, the backlog and
 * the state of every configured destination, read from the store at scrape time (so they agree
 * across processes). Series are bounded by the configured destinations.
 */
export function registerDestinationMetrics(
  registry: Registry,
  read: () => Promise<DestinationSummary[]>,
  /** Reuse a reading this long: the counts scan the deliveries table (default 10 s; 0: every scrape). */
  cacheMs = 10_000,
): { attemptFinished(source: string, destination: string, outcome: string, durationMs: number): void } {
  const registers = [registry];
  const attempts = new Counter({
    name: 'hookbox_destination_attempts_total',
    help: 'Delivery attempts finished by this process, by source, destination and outcome (succeeded, failed, dead, disabled).',
    labelNames: ['source', 'destination', 'outcome'],
    registers,
  });
  const duration = new Histogram({
    name: 'hookbox_destination_attempt_duration_seconds',
    help: 'Delivery attempt duration (connect to response excerpt), by source, destination and outcome.',
    labelNames: ['source', 'destination', 'outcome'],
    buckets: attemptBuckets,
    registers,
  });

  // One store read serves every gauge of a scrape, and the scrapes of the next `cacheMs`.
  let pending: Promise<DestinationSummary[] | null> | null = null;
  let readAt = 0;
  const reading = () => {
    if (pending && performance.now() - readAt >= cacheMs) pending = null;
    if (!pending) {
      readAt = performance.now();
      const current = read().catch(() => null);
      pending = current;
      // A failed read is not reused: the next scrape tries again.
      void current.then((value) => {
        if (value === null && pending === current) pending = null;
      });
    }
    return pending;
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, d: DestinationSummary) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const list = await reading();
        if (!list) return; // the store is down: keep the last values rather than claim zeros
        this.reset();
        for (const d of list) fill(this, d);
      },
    });
  gauge(
    'hookbox_destination_backlog',
    'Deliveries waiting per destination (pending, failed, processing).',
    ['source', 'destination'],
    (g, d) => g.set({ source: d.source, destination: d.name }, d.backlog),
  );
  gauge(
    'hookbox_destination_state',
    'State of each destination: 0 active, 1 paused, 2 disabled.',
    ['source', 'destination'],
    (g, d) => g.set({ source: d.source, destination: d.name }, stateValue[d.state]),
  );
  gauge(
    'hookbox_destination_deliveries',
    'Deliveries per destination by status, as stored.',
    ['source', 'destination', 'status'],
    (g, d) => {
      for (const status of deliveryStatuses)
        g.set({ source: d.source, destination: d.name, status }, d.deliveries[status as DeliveryStatus]);
    },
  );

  return {
    attemptFinished(source, destination, outcome, durationMs) {
      attempts.inc({ source, destination, outcome });
      duration.observe({ source, destination, outcome }, durationMs / 1000);
    },
  };
}
