import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Telemetry } from '../telemetry.ts';
import type { HealthStatus } from './health-checks.ts';

/** Current queue figures for the gauges, read at scrape time (from the cached health report). */
export interface GaugeReading {
  backlog: number;
  oldestPendingAgeSeconds: number;
  /** Events held longer than their handler may run: handlers that timed out and never settled. */
  stuck: number;
  /** Ordering keys blocked by a dead head, and how long the longest has been (docs/ordering.md). */
  blockedKeys: number;
  oldestBlockedAgeSeconds: number;
  status: HealthStatus;
  checks: Record<string, boolean>;
}

export interface PrometheusMetricsOptions {
  /** Default: a new Registry per Hookbox, so several instances in one process do not clash. */
  registry?: Registry;
  /** Add Node process metrics (CPU, memory, event loop, GC) to the registry (default true). */
  processMetrics?: boolean;
  /** Called on each scrape for the gauges; its failure leaves the gauges at their last value. */
  readGauges?: () => Promise<GaugeReading>;
}

export const healthStatusValue: Record<HealthStatus, number> = { HEALTHY: 0, DEGRADED: 1, CRITICAL: 2 };

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const durationBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The Telemetry port implemented with prom-client: counters and histograms fed by ingest and
 * the worker, gauges read from the health monitor at scrape time.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}) {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const received = new Counter({
    name: 'hookbox_deliveries_received_total',
    help: 'Deliveries acknowledged (stored or already stored), by source.',
    labelNames: ['source'],
    registers,
  });
  const duplicate = new Counter({
    name: 'hookbox_deliveries_duplicate_total',
    help: 'Acknowledged deliveries of an event already stored, by source.',
    labelNames: ['source'],
    registers,
  });
  const rejected = new Counter({
    name: 'hookbox_deliveries_rejected_total',
    help: 'Deliveries refused, by source and reason (error code).',
    labelNames: ['source', 'reason'],
    registers,
  });
  const outcomes = {
    processed: new Counter({
      name: 'hookbox_events_processed_total',
      help: 'Attempts that processed their event, by source.',
      labelNames: ['source'],
      registers,
    }),
    failed: new Counter({
      name: 'hookbox_events_failed_total',
      help: 'Attempts that failed and scheduled a retry, by source.',
      labelNames: ['source'],
      registers,
    }),
    dead: new Counter({
      name: 'hookbox_events_dead_total',
      help: 'Attempts that failed for the last time (event now dead), by source.',
      labelNames: ['source'],
      registers,
    }),
    ignored: new Counter({
      name: 'hookbox_events_ignored_total',
      help: 'Events with no handler for their type, by source.',
      labelNames: ['source'],
      registers,
    }),
  };
  const ingestLatency = new Histogram({
    name: 'hookbox_ingest_latency_seconds',
    help: 'Time from request start to acknowledgement of accepted deliveries, by source.',
    labelNames: ['source'],
    buckets: latencyBuckets,
    registers,
  });
  const handlerDuration = new Histogram({
    name: 'hookbox_handler_duration_seconds',
    help: 'Handler run time per attempt, by source and outcome.',
    labelNames: ['source', 'outcome'],
    buckets: durationBuckets,
    registers,
  });

  let readGauges = options.readGauges;
  let lastReading: GaugeReading | null = null;
  let pendingRead: Promise<GaugeReading | null> | null = null;
  // One store read serves all the gauges of a scrape.
  const reading = (): Promise<GaugeReading | null> => {
    if (!readGauges) return Promise.resolve(lastReading);
    pendingRead ??= readGauges()
      .then((value) => {
        lastReading = value;
        return value;
      })
      .catch(() => lastReading)
      .finally(() => {
        setImmediate(() => {
          pendingRead = null;
        });
      });
    return pendingRead;
  };
  const readingGauge = (name: string, help: string, pick: (value: GaugeReading) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const value = await reading();
        if (value) this.set(pick(value));
      },
    });
  readingGauge(
    'hookbox_backlog_events',
    'Events waiting to be processed (pending, failed, processing, waiting).',
    (v) => v.backlog,
  );
  readingGauge(
    'hookbox_oldest_pending_age_seconds',
    'Age of the oldest event waiting to be processed; 0 when none waits.',
    (v) => v.oldestPendingAgeSeconds,
  );
  readingGauge(
    'hookbox_stuck_handlers',
    'Events held past their handler timeout because the handler has not settled (no second run starts meanwhile).',
    (v) => v.stuck,
  );
  readingGauge(
    'hookbox_ordering_blocked_keys',
    'Ordering keys blocked by a dead head (onDead block): their later events wait until it is retried or skipped.',
    (v) => v.blockedKeys,
  );
  readingGauge(
    'hookbox_ordering_oldest_blocked_age_seconds',
    'How long the longest-blocked ordering key has been blocked; 0 when none is.',
    (v) => v.oldestBlockedAgeSeconds,
  );
  readingGauge(
    'hookbox_health_status',
    'Overall health: 0 HEALTHY, 1 DEGRADED, 2 CRITICAL.',
    (v) => healthStatusValue[v.status],
  );
  new Gauge({
    name: 'hookbox_health_check_passed',
    help: 'Each health check: 1 passing, 0 failing.',
    labelNames: ['check'],
    registers,
    async collect() {
      const value = await reading();
      if (!value) return;
      for (const [check, passed] of Object.entries(value.checks)) this.set({ check }, passed ? 1 : 0);
    },
  });

  const telemetry: Telemetry = {
    deliveryReceived(source, isDuplicate, latencyMs) {
      received.inc({ source });
      if (isDuplicate) duplicate.inc({ source });
      ingestLatency.observe({ source }, latencyMs / 1000);
    },
    deliveryRejected(source, code) {
      rejected.inc({ source, reason: code });
    },
    attemptFinished(source, outcome, durationMs) {
      if (outcome in outcomes) outcomes[outcome as keyof typeof outcomes].inc({ source });
      if (outcome !== 'ignored') handlerDuration.observe({ source, outcome }, durationMs / 1000);
    },
  };

  return {
    registry,
    telemetry,
    contentType: registry.contentType,
    /** Connect the gauges to their source once it exists. */
    setGaugeReader(reader: () => Promise<GaugeReading>): void {
      readGauges = reader;
    },
    /** The Prometheus text exposition of every metric. */
    render: (): Promise<string> => registry.metrics(),
  };
}

export type PrometheusMetrics = ReturnType<typeof createPrometheusMetrics>;
