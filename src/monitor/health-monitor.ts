import type { Clock } from '../clock.ts';
import type { DestinationSummary } from '../destinations/operations.ts';
import type { Store } from '../store/types.ts';
import type { BreakerSnapshot } from '../worker/circuit-breaker.ts';
import { evaluateDestinationHealth } from './destination-health.ts';
import {
  type Alert,
  decideStatus,
  defaultHealthThresholds,
  deriveAlerts,
  deriveRecommendations,
  evaluateChecks,
  type HealthChecks,
  type HealthStatus,
  type HealthThresholds,
} from './health-checks.ts';
import type { RejectionLog } from './rejection-log.ts';
import { collectWindowMetrics, type WindowMetrics } from './window-metrics.ts';

export interface HealthReport {
  healthy: boolean;
  status: HealthStatus;
  checks: HealthChecks;
  metrics: WindowMetrics;
  alerts: Alert[];
  recommendations: string[];
  /** This process's per-handler circuit breakers that have seen a failure, as of `timestamp`. */
  circuitBreakers: BreakerSnapshot[];
  /** When the report was computed (ISO); a cached report keeps its own time. */
  timestamp: string;
}

export interface HealthMonitorOptions {
  store: Store;
  clock: Clock;
  thresholds?: Partial<HealthThresholds>;
  /** Default window (minutes) when a caller names none. */
  windowMinutes?: number;
  /** How long a report is reused (ms); 0 disables the cache. */
  cacheMs?: number;
  rejections?: RejectionLog;
  maxSamples?: number;
  /** The worker's circuit breakers (hookbox.breakers.snapshot), shown in each report. */
  breakers?: () => BreakerSnapshot[];
  /** Events held longer than this are reported stuck (the handler timeout plus a grace). */
  stuckAfterMs?: number;
  /** destinations: every configured destination's summary over a window (the operations service). */
  destinations?: (windowMs: number) => Promise<DestinationSummary[]>;
}

export const defaultWindowMinutes = 60;
export const defaultHealthCacheMs = 30_000;

/**
 * Window metrics -> checks -> status, alerts and recommendations, cached per window so
 * dashboards, scrapes and the alert loop polling together cost one set of queries.
 */
export function createHealthMonitor(options: HealthMonitorOptions) {
  const thresholds: HealthThresholds = { ...defaultHealthThresholds, ...options.thresholds };
  const windowMinutes = options.windowMinutes ?? defaultWindowMinutes;
  const cacheMs = options.cacheMs ?? defaultHealthCacheMs;
  const cache = new Map<number, { at: number; report: Promise<HealthReport> }>();

  async function computeReport(minutes: number): Promise<HealthReport> {
    const metrics = await collectWindowMetrics(
      {
        store: options.store,
        clock: options.clock,
        rejections: options.rejections,
        ...(options.stuckAfterMs === undefined ? {} : { stuckAfterMs: options.stuckAfterMs }),
      },
      minutes,
      options.maxSamples,
    );
    const destinations = evaluateDestinationHealth(
      (await options.destinations?.(minutes * 60_000)) ?? [],
      thresholds,
      minutes,
    );
    const checks: HealthChecks = { ...evaluateChecks(metrics, thresholds), ...destinations.checks };
    const status = decideStatus(checks);
    return {
      healthy: status === 'HEALTHY',
      status,
      checks,
      metrics,
      alerts: deriveAlerts(checks),
      recommendations: [...deriveRecommendations(checks, metrics), ...destinations.recommendations],
      circuitBreakers: options.breakers?.() ?? [],
      timestamp: new Date(options.clock.now()).toISOString(),
    };
  }

  return {
    thresholds: Object.freeze({ ...thresholds }) as Readonly<HealthThresholds>,
    windowMinutes,

    /** The report for a window, from the cache when younger than `cacheMs` unless `fresh`. */
    checkHealth(request: { windowMinutes?: number; fresh?: boolean } = {}): Promise<HealthReport> {
      const minutes = request.windowMinutes ?? windowMinutes;
      const now = options.clock.now();
      const cached = cache.get(minutes);
      if (!request.fresh && cached && now - cached.at < cacheMs) return cached.report;
      const report = computeReport(minutes);
      // Sharing the promise lets concurrent callers wait on one computation; a failure is not cached.
      cache.set(minutes, { at: now, report });
      report.catch(() => {
        if (cache.get(minutes)?.report === report) cache.delete(minutes);
      });
      return report;
    },

    collectMetrics: (minutes = windowMinutes): Promise<WindowMetrics> =>
      collectWindowMetrics(
        {
          store: options.store,
          clock: options.clock,
          rejections: options.rejections,
          ...(options.stuckAfterMs === undefined ? {} : { stuckAfterMs: options.stuckAfterMs }),
        },
        minutes,
        options.maxSamples,
      ),

    /** Forget cached reports: after an action changed the events they describe. */
    invalidate(): void {
      cache.clear();
    },
  };
}

export type HealthMonitor = ReturnType<typeof createHealthMonitor>;
