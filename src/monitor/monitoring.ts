import type { Clock, Random } from '../clock.ts';
import type { DestinationSummary } from '../destinations/operations.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/types.ts';
import type { Telemetry } from '../telemetry.ts';
import type { BreakerSnapshot } from '../worker/circuit-breaker.ts';
import type { RetryPolicy } from '../worker/retry-policy.ts';
import { type AdminActions, createAdminActions } from './admin-actions.ts';
import {
  type AlertNotifier,
  type AlertSink,
  createAlertNotifier,
  createHttpSink,
  createLogSink,
  createSlackSink,
  type NotifyResult,
} from './alert-notifier.ts';
import { registerBreakerMetrics } from './breaker-metrics.ts';
import { registerDestinationMetrics } from './destination-metrics.ts';
import type { AlertType, HealthThresholds } from './health-checks.ts';
import { createHealthMonitor, type HealthMonitor, type HealthReport } from './health-monitor.ts';
import { type MaintenanceSchedule, scheduleMaintenance } from './maintenance-schedule.ts';
import { createPrometheusMetrics, type PrometheusMetrics } from './prometheus.ts';
import { createRejectionLog, type RejectionLog } from './rejection-log.ts';
import { defaultStuckAfterMinutes } from './remediation.ts';

/** The `monitor` option of createHookbox; every field optional. */
export interface MonitoringOptions {
  windowMinutes?: number;
  cacheSeconds?: number;
  thresholds?: Partial<HealthThresholds>;
  /**
   * Given (even `{}`), start() runs a loop that evaluates health every `checkIntervalSeconds`
   * and notifies the sinks: the log always, plus Slack and/or a generic webhook when set.
   */
  alerts?: {
    slackWebhookUrl?: string | null;
    webhookUrl?: string | null;
    /** Headers for the generic webhook (e.g. an Authorization its receiver expects). */
    webhookHeaders?: Record<string, string>;
    cooldownMinutes?: number;
    cooldownMinutesByType?: Partial<Record<AlertType, number>>;
    /** 0 turns the loop off (alerts are then sent only through `evaluateAndNotify`). Default 60. */
    checkIntervalSeconds?: number;
    /** More sinks of your own. */
    sinks?: AlertSink[];
  };
  maintenance?: {
    /** Cron pattern; start() schedules maintenance when set. Default: none in the library, daily 02:00 in the server. */
    schedule?: string | null;
    timezone?: string | null;
    retentionDays?: number;
    /** Empty the bodies of processed events older than this many days, keeping their metadata (default: never). */
    scrubBodiesAfterDays?: number | null;
    stuckAfterMinutes?: number;
  };
  metrics?: {
    /** Node process metrics in /metrics (default true). */
    processMetrics?: boolean;
  };
}

export interface MonitoringDependencies {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  retryPolicy: RetryPolicy;
  wake?: () => void;
  /** The worker's circuit breakers, for the health report and /metrics. */
  breakers?: () => BreakerSnapshot[];
  /** Events held longer than this are reported stuck: the handler timeout plus a grace. */
  stuckAfterMs?: number;
  /** destinations: every configured destination's summary over a window, for health and /metrics. */
  destinations?: (windowMs: number) => Promise<DestinationSummary[]>;
}

export const defaultRetentionDays = 90;

export interface Monitoring {
  health: HealthMonitor;
  actions: AdminActions;
  prometheus: PrometheusMetrics;
  rejections: RejectionLog;
  notifier: AlertNotifier;
  /** Ingest and worker report here (Prometheus and the rejection log). */
  telemetry: Telemetry;
  /** Evaluate health now (fresh, not cached) and send whatever notices are due. */
  evaluateAndNotify(): Promise<{ report: HealthReport; notices: NotifyResult }>;
  /** The maintenance schedule, while started. */
  schedule(): MaintenanceSchedule | null;
  start(): void;
  stop(): void;
}

/** Everything monitoring needs, built once per Hookbox over its store, clock and logger. */
export function createMonitoring(deps: MonitoringDependencies, options: MonitoringOptions = {}): Monitoring {
  const { store, clock, logger } = deps;
  const rejections = createRejectionLog(clock);
  const health = createHealthMonitor({
    store,
    clock,
    rejections,
    thresholds: options.thresholds,
    windowMinutes: options.windowMinutes,
    cacheMs: options.cacheSeconds === undefined ? undefined : options.cacheSeconds * 1000,
    ...(deps.breakers ? { breakers: deps.breakers } : {}),
    ...(deps.stuckAfterMs === undefined ? {} : { stuckAfterMs: deps.stuckAfterMs }),
    ...(deps.destinations ? { destinations: deps.destinations } : {}),
  });
  const maintenance = options.maintenance ?? {};
  const actions = createAdminActions({
    store,
    clock,
    random: deps.random,
    logger,
    health,
    wake: deps.wake,
    remediation: {
      retryPolicy: deps.retryPolicy,
      stuckAfterMinutes: maintenance.stuckAfterMinutes ?? defaultStuckAfterMinutes,
      retentionDays: maintenance.retentionDays ?? defaultRetentionDays,
      scrubBodiesAfterDays: maintenance.scrubBodiesAfterDays ?? null,
    },
  });

  const prometheus = createPrometheusMetrics({ processMetrics: options.metrics?.processMetrics });
  if (deps.breakers) registerBreakerMetrics(prometheus.registry, deps.breakers);
  const readDestinations = deps.destinations;
  const destinationMetrics = readDestinations
    ? registerDestinationMetrics(prometheus.registry, () => readDestinations(60 * 60_000))
    : null;
  prometheus.setGaugeReader(async () => {
    const report = await health.checkHealth();
    return {
      backlog: report.metrics.backlog,
      stuck: report.metrics.stuck,
      blockedKeys: report.metrics.blockedKeys,
      oldestBlockedAgeSeconds: report.metrics.oldestBlockedAgeSeconds,
      oldestPendingAgeSeconds: Math.round(report.metrics.oldestPendingAgeMinutes * 60),
      status: report.status,
      checks: Object.fromEntries(Object.entries(report.checks).map(([name, check]) => [name, check.passed])),
    };
  });

  const alerts = options.alerts;
  const sinks: AlertSink[] = [createLogSink(logger)];
  if (alerts?.slackWebhookUrl) sinks.push(createSlackSink(alerts.slackWebhookUrl));
  if (alerts?.webhookUrl) sinks.push(createHttpSink(alerts.webhookUrl, { headers: alerts.webhookHeaders }));
  sinks.push(...(alerts?.sinks ?? []));
  const notifier = createAlertNotifier({
    sinks,
    clock,
    logger,
    cooldownMs: alerts?.cooldownMinutes === undefined ? undefined : alerts.cooldownMinutes * 60_000,
    cooldownMsByType: Object.fromEntries(
      Object.entries(alerts?.cooldownMinutesByType ?? {}).map(([type, minutes]) => [
        type,
        (minutes ?? 0) * 60_000,
      ]),
    ),
  });

  const telemetry: Telemetry = {
    deliveryReceived: (...args) => prometheus.telemetry.deliveryReceived(...args),
    deliveryRejected(source, code) {
      prometheus.telemetry.deliveryRejected(source, code);
      rejections.record(source, code);
    },
    attemptFinished: (...args) => prometheus.telemetry.attemptFinished(...args),
    deliveryAttemptFinished: (...args) => destinationMetrics?.attemptFinished(...args),
  };

  async function evaluateAndNotify() {
    const report = await health.checkHealth({ fresh: true });
    return { report, notices: await notifier.notify(report) };
  }

  let alertTimer: NodeJS.Timeout | null = null;
  let evaluating = false;
  let maintenanceSchedule: MaintenanceSchedule | null = null;

  return {
    health,
    actions,
    prometheus,
    rejections,
    notifier,
    telemetry,
    evaluateAndNotify,
    schedule: () => maintenanceSchedule,
    start() {
      const intervalSeconds = alerts?.checkIntervalSeconds ?? 60;
      if (alerts && intervalSeconds > 0 && !alertTimer) {
        alertTimer = setInterval(async () => {
          if (evaluating) return;
          evaluating = true;
          try {
            await evaluateAndNotify();
          } catch (error) {
            logger.warn(
              { err: (error as Error).message },
              'health evaluation failed; alerts retry on the next interval',
            );
          } finally {
            evaluating = false;
          }
        }, intervalSeconds * 1000).unref();
      }
      if (maintenance.schedule && !maintenanceSchedule) {
        maintenanceSchedule = scheduleMaintenance({
          schedule: maintenance.schedule,
          timezone: maintenance.timezone,
          run: () => actions.runMaintenance(),
          logger,
        });
        logger.info(
          { schedule: maintenance.schedule, nextRun: maintenanceSchedule.nextRun() },
          'maintenance scheduled',
        );
      }
    },
    stop() {
      if (alertTimer) clearInterval(alertTimer);
      alertTimer = null;
      maintenanceSchedule?.stop();
      maintenanceSchedule = null;
    },
  };
}
