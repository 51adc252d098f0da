import {
  type DestinationCheckName,
  type DestinationThresholds,
  defaultDestinationThresholds,
  destinationCheckNames,
} from './destination-health.ts';
import type { WindowMetrics } from './window-metrics.ts';

/**
 * The health checks (the six of the original design, plus blocked ordering keys), as pure functions of the window metrics, so
 * the same verdict comes out of the admin API, the CLI, /metrics and the alert loop.
 */

export interface HealthThresholds extends DestinationThresholds {
  /** Failed or dead events received in the window. */
  maxRecentFailures: number;
  /** Events not yet processed (pending, failed, processing), window or not. */
  maxBacklog: number;
  /** Age of the oldest event still waiting; past it, events are stale. */
  maxOldestPendingMinutes: number;
  /** Average attempts of events received in the window. */
  maxAverageAttempts: number;
  /** Extra deliveries (provider redeliveries) of events received in the window. */
  maxDuplicateDeliveries: number;
  /** Percent of finished events (processed, failed, dead) that were processed. */
  minSuccessRate: number;
  /** Ordering keys blocked by a dead head (docs/ordering.md). */
  maxBlockedKeys: number;
}

export const defaultHealthThresholds: Readonly<HealthThresholds> = Object.freeze({
  maxRecentFailures: 10,
  maxBacklog: 100,
  maxOldestPendingMinutes: 30,
  maxAverageAttempts: 2,
  maxDuplicateDeliveries: 5,
  minSuccessRate: 95,
  maxBlockedKeys: 0,
  ...defaultDestinationThresholds,
});

export const checkNames = [
  'recentFailures',
  'processingBacklog',
  'oldestPending',
  'averageAttempts',
  'duplicateEvents',
  'successRate',
  'blockedKeys',
  // destinations: (issue 14) destination-health.ts
  ...destinationCheckNames,
] as const;
export type CheckName = (typeof checkNames)[number];

export type HealthStatus = 'HEALTHY' | 'DEGRADED' | 'CRITICAL';

export interface CheckResult {
  passed: boolean;
  value: number;
  threshold: number;
  /** `max`: passes while value <= threshold; `min`: passes while value >= threshold. */
  bound: 'max' | 'min';
  unit: 'events' | 'minutes' | 'attempts' | 'deliveries' | 'percent' | 'keys' | 'destinations';
  message: string;
}

export type HealthChecks = Record<CheckName, CheckResult>;

export const alertSeverities = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type AlertSeverity = (typeof alertSeverities)[number];

export const alertTypes = [
  'HIGH_FAILURE_RATE',
  'LARGE_BACKLOG',
  'STALE_EVENTS',
  'SLOW_PROCESSING',
  'DUPLICATE_EVENTS',
  'LOW_SUCCESS_RATE',
  'BLOCKED_KEYS',
  'DESTINATION_FAILING',
  'DESTINATION_BACKLOG',
] as const;
export type AlertType = (typeof alertTypes)[number];

export interface Alert {
  type: AlertType;
  severity: AlertSeverity;
  /** The failing check this alert stands for. */
  check: CheckName;
  message: string;
  /** What an operator should do about it. */
  action: string;
  value: number;
  threshold: number;
}

/** Each check's alert: one type, one severity and one action per failing check. */
const alertOfCheck: Record<CheckName, { type: AlertType; severity: AlertSeverity; action: string }> = {
  recentFailures: {
    type: 'HIGH_FAILURE_RATE',
    severity: 'ERROR',
    action:
      'Investigate the provider and the handlers: read last_error of the failed events (GET /api/admin/events?status=failed,dead).',
  },
  processingBacklog: {
    type: 'LARGE_BACKLOG',
    severity: 'WARNING',
    action: 'Scale workers: raise worker concurrency or run more Hookbox processes on the shared PostgreSQL.',
  },
  oldestPending: {
    type: 'STALE_EVENTS',
    severity: 'CRITICAL',
    action:
      'Manual intervention: check that a worker is running and not stuck, then run the auto-remediate action.',
  },
  averageAttempts: {
    type: 'SLOW_PROCESSING',
    severity: 'WARNING',
    action: 'Check performance: handler durations, timeouts and the services the handlers call.',
  },
  duplicateEvents: {
    type: 'DUPLICATE_EVENTS',
    severity: 'WARNING',
    action:
      'Review idempotency: providers redeliver when they do not get a 2xx in time; check response times and the find-duplicates action.',
  },
  successRate: {
    type: 'LOW_SUCCESS_RATE',
    severity: 'ERROR',
    action: 'Full review: handlers, provider configuration, secrets and downstream services.',
  },
  blockedKeys: {
    type: 'BLOCKED_KEYS',
    severity: 'ERROR',
    action:
      "Unblock each key: fix the cause in its dead head's last_error, then retry the head or skip it (hookbox keys blocked; hookbox keys unblock SOURCE KEY --retry|--skip; docs/ordering.md).",
  },
  destinationFailures: {
    type: 'DESTINATION_FAILING',
    severity: 'ERROR',
    action:
      "Check the endpoint: read the deliveries' status codes and errors (GET /api/admin/deliveries?status=failed,dead), fix it, then retry the dead deliveries.",
  },
  destinationBacklog: {
    type: 'DESTINATION_BACKLOG',
    severity: 'WARNING',
    action:
      'Resume or enable the destination if it is paused or disabled; otherwise raise its concurrency or ratePerSecond, or find why the endpoint is slow.',
  },
};

/** The checks of the window metrics; the destination checks come from destination-health.ts. */
export function evaluateChecks(
  metrics: WindowMetrics,
  thresholds: HealthThresholds,
): Omit<HealthChecks, DestinationCheckName> {
  const w = `in the last ${metrics.window.minutes} min`;
  const max = (
    value: number,
    threshold: number,
    unit: CheckResult['unit'],
    describe: string,
  ): CheckResult => {
    const passed = value <= threshold;
    return { passed, value, threshold, bound: 'max', unit, message: `${describe} (max ${threshold})` };
  };
  const min = (
    value: number,
    threshold: number,
    unit: CheckResult['unit'],
    describe: string,
  ): CheckResult => {
    const passed = value >= threshold;
    return { passed, value, threshold, bound: 'min', unit, message: `${describe} (min ${threshold})` };
  };
  const age = round(metrics.oldestPendingAgeMinutes, 1);
  return {
    recentFailures: max(
      metrics.failed,
      thresholds.maxRecentFailures,
      'events',
      `${metrics.failed} failed or dead events ${w}`,
    ),
    processingBacklog: max(
      metrics.backlog,
      thresholds.maxBacklog,
      'events',
      `${metrics.backlog} events waiting to be processed`,
    ),
    oldestPending: max(
      age,
      thresholds.maxOldestPendingMinutes,
      'minutes',
      metrics.oldestPending ? `the oldest waiting event is ${age} min old` : 'no event is waiting',
    ),
    averageAttempts: max(
      round(metrics.averageAttempts, 2),
      thresholds.maxAverageAttempts,
      'attempts',
      `events ${w} took ${round(metrics.averageAttempts, 2)} attempts on average`,
    ),
    duplicateEvents: max(
      metrics.duplicateDeliveries,
      thresholds.maxDuplicateDeliveries,
      'deliveries',
      `${metrics.duplicateDeliveries} duplicate deliveries ${w}`,
    ),
    successRate: min(
      metrics.successRate,
      thresholds.minSuccessRate,
      'percent',
      `${metrics.successRate}% of finished events ${w} were processed`,
    ),
    blockedKeys: max(
      metrics.blockedKeys,
      thresholds.maxBlockedKeys,
      'keys',
      metrics.blockedKeys === 0
        ? 'no ordering key is blocked'
        : `${metrics.blockedKeys} ordering key(s) blocked by a dead head, the oldest for ${metrics.oldestBlockedAgeSeconds} s`,
    ),
  };
}

/**
 * HEALTHY when every check passes, DEGRADED with one or two failing, CRITICAL with three or
 * more, or as soon as events are stale (the oldest-pending check fails): a stale inbox means
 * nothing is being processed, whatever the other checks say.
 */
export function decideStatus(checks: HealthChecks): HealthStatus {
  const failing = checkNames.filter((name) => !checks[name].passed);
  if (failing.length === 0) return 'HEALTHY';
  if (failing.length >= 3 || !checks.oldestPending.passed) return 'CRITICAL';
  return 'DEGRADED';
}

export function deriveAlerts(checks: HealthChecks): Alert[] {
  return checkNames
    .filter((name) => !checks[name].passed)
    .map((name) => {
      const check = checks[name];
      const { type, severity, action } = alertOfCheck[name];
      return {
        type,
        severity,
        check: name,
        message: check.message,
        action,
        value: check.value,
        threshold: check.threshold,
      };
    });
}

/** Advice per failing check, with the evidence, in the order an operator should act. */
export function deriveRecommendations(checks: HealthChecks, metrics: WindowMetrics): string[] {
  const advice: string[] = [];
  if (!checks.oldestPending.passed) {
    const oldest = metrics.oldestPending;
    advice.push(
      `Event ${oldest?.id ?? '?'} (${oldest?.source ?? '?'}) has waited ${checks.oldestPending.value} min: make sure a worker is running, then run auto-remediate to reclaim expired leases (a held event whose handler never settles shows as stuck).`,
    );
  }
  if (!checks.recentFailures.passed) {
    advice.push(
      `${checks.recentFailures.value} events failed in the window: read their last_error (GET /api/admin/events?status=failed,dead), fix the cause, then run retry-failed.`,
    );
  }
  if (!checks.successRate.passed) {
    advice.push(
      `Only ${checks.successRate.value}% of finished events succeeded: review the handlers and the downstream services they call before retrying.`,
    );
  }
  if (!checks.blockedKeys.passed) {
    const first = metrics.blocked[0];
    advice.push(
      `${checks.blockedKeys.value} ordering key(s) are blocked${first ? `, e.g. ${first.source} key ${JSON.stringify(first.key)} behind dead event ${first.headId} with ${first.waiting} waiting` : ''}: fix the cause, then retry or skip the head (hookbox keys unblock SOURCE KEY --retry|--skip).`,
    );
  }
  if (!checks.processingBacklog.passed) {
    advice.push(
      `${checks.processingBacklog.value} events are waiting: add workers (worker.concurrency, or more processes on PostgreSQL) or look for a slow handler.`,
    );
  }
  if (!checks.averageAttempts.passed) {
    advice.push(
      `Events need ${checks.averageAttempts.value} attempts on average: handler p95 is ${metrics.handlerDurationMs.p95} ms; look for timeouts and flaky dependencies.`,
    );
  }
  if (!checks.duplicateEvents.passed) {
    advice.push(
      `${checks.duplicateEvents.value} duplicate deliveries: the provider is redelivering, so answer faster (async mode) and keep handlers idempotent; run find-duplicates.`,
    );
  }
  return advice;
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
