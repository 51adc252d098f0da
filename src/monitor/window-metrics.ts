import type { Clock } from '../clock.ts';
import type { BlockedKey, EventStatus, Store } from '../store/types.ts';
import { round } from './health-checks.ts';
import type { RejectionCounts, RejectionLog } from './rejection-log.ts';

export interface DurationSummary {
  average: number;
  p50: number;
  p95: number;
  p99: number;
  /** How many samples the summary rests on (capped by `maxSamples`). */
  samples: number;
}

/** What happened over one window [since, until], plus the queue as it stands now. */
export interface WindowMetrics {
  window: { minutes: number; since: string; until: string };
  /** Events received in the window, by their current status. */
  total: number;
  processed: number;
  /** failed + dead. */
  failed: number;
  dead: number;
  pending: number;
  processing: number;
  ignored: number;
  /** Handlers done, deliveries to destinations remaining. */
  delivering: number;
  byStatus: Record<EventStatus, number>;
  /** processed / (processed + failed + dead), in percent; 100 when nothing has finished. */
  successRate: number;
  averageAttempts: number;
  byProvider: Record<string, number>;
  byType: Record<string, number>;
  /** Handler durations of attempts finished in the window (attempts table), ms. */
  handlerDurationMs: DurationSummary;
  /** Received to processed, for events processed in the window, ms. */
  processingLatencyMs: DurationSummary;
  /** Attempts finished in the window that failed or killed their event. */
  failedAttempts: number;
  /** Events not processed yet (pending, failed, processing, waiting), whenever received. */
  backlog: number;
  oldestPending: {
    id: string;
    source: string;
    eventType: string;
    receivedAt: string;
    ageMinutes: number;
  } | null;
  /** 0 when nothing waits. */
  oldestPendingAgeMinutes: number;
  /** Repeat deliveries of events received in the window. */
  duplicateDeliveries: number;
  /**
   * Events held longer than their handler may run (handler timeout plus a grace): a handler that
   * timed out and never settled keeps its event held, so no second run starts beside it.
   */
  stuck: number;
  /** Deliveries refused (bad signature, rate limit, ...) by this process in the window. */
  rejected: RejectionCounts;
  /** Ordering keys blocked by a dead head (docs/ordering.md), whenever blocked. */
  blockedKeys: number;
  /** How long the longest-blocked key has been blocked, s; 0 when none is. */
  oldestBlockedAgeSeconds: number;
  /** The first blocked keys (up to 20), longest blocked first. */
  blocked: BlockedKey[];
}

export interface MetricsDependencies {
  store: Store;
  clock: Clock;
  rejections?: RejectionLog;
  /** Held longer than this counts as stuck; default `defaultStuckAfterMs`. */
  stuckAfterMs?: number;
}

/**
 * How long an event may be held before it counts as stuck: its handler's timeout plus 10 s to
 * write the verdict. The server and `hookbox health` both use this, so they agree.
 */
export function stuckAfterMsFor(handlerTimeoutMs = 30_000): number {
  return handlerTimeoutMs + 10_000;
}

/** The default handler timeout (30 s) plus the time to write its verdict. */
export const defaultStuckAfterMs = stuckAfterMsFor();

/** Blocked keys read per report at most: the count saturates there (an alert fires long before). */
const maxBlockedKeysRead = 1_000;

/** Percentile samples kept per window; enough for a stable p99 without loading every attempt. */
export const defaultMaxSamples = 10_000;

export async function collectWindowMetrics(
  deps: MetricsDependencies,
  windowMinutes: number,
  maxSamples = defaultMaxSamples,
): Promise<WindowMetrics> {
  const now = deps.clock.now();
  const since = now - windowMinutes * 60_000;
  const [window, statistics, stuck, blockedKeys] = await Promise.all([
    deps.store.aggregateWindow(since, now, maxSamples),
    deps.store.getStatistics(),
    deps.store.countHeldLongerThan(deps.stuckAfterMs ?? defaultStuckAfterMs),
    deps.store.listBlockedKeys(maxBlockedKeysRead),
  ]);
  const blocked = [...blockedKeys].sort((a, b) => a.blockedSince - b.blockedSince);
  const s = window.byStatus;
  const finished = s.processed + s.failed + s.dead;
  const ageMs = statistics.oldestPending ? Math.max(0, now - statistics.oldestPending.receivedAt) : 0;
  const ageMinutes = round(ageMs / 60_000, 2);
  return {
    window: {
      minutes: windowMinutes,
      since: new Date(since).toISOString(),
      until: new Date(now).toISOString(),
    },
    total: window.total,
    processed: s.processed,
    failed: s.failed + s.dead,
    dead: s.dead,
    pending: s.pending,
    processing: s.processing,
    ignored: s.ignored,
    delivering: s.delivering,
    byStatus: { ...s },
    successRate: finished === 0 ? 100 : round((s.processed / finished) * 100, 2),
    averageAttempts: round(window.averageAttempts, 3),
    byProvider: window.byProvider,
    byType: window.byType,
    handlerDurationMs: summarizeDurations(window.attemptDurations),
    processingLatencyMs: summarizeDurations(window.processingLatencies),
    failedAttempts: window.failedAttempts,
    backlog:
      statistics.byStatus.pending +
      statistics.byStatus.failed +
      statistics.byStatus.processing +
      statistics.byStatus.waiting,
    oldestPending: statistics.oldestPending
      ? {
          id: statistics.oldestPending.id,
          source: statistics.oldestPending.source,
          eventType: statistics.oldestPending.eventType,
          receivedAt: new Date(statistics.oldestPending.receivedAt).toISOString(),
          ageMinutes,
        }
      : null,
    oldestPendingAgeMinutes: ageMinutes,
    duplicateDeliveries: window.duplicateDeliveries,
    stuck,
    rejected: deps.rejections?.countSince(since) ?? { total: 0, byReason: {}, bySource: {} },
    blockedKeys: blocked.length,
    oldestBlockedAgeSeconds: blocked[0] ? Math.max(0, Math.round((now - blocked[0].blockedSince) / 1000)) : 0,
    blocked: blocked.slice(0, 20),
  };
}

/** Average and nearest-rank percentiles of ascending samples. */
export function summarizeDurations(ascending: number[]): DurationSummary {
  const n = ascending.length;
  if (n === 0) return { average: 0, p50: 0, p95: 0, p99: 0, samples: 0 };
  const rank = (q: number) => ascending[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  const sum = ascending.reduce((total, value) => total + value, 0);
  return { average: round(sum / n, 2), p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), samples: n };
}
