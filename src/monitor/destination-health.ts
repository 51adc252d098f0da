import type { DestinationSummary } from '../destinations/operations.ts';
import type { CheckResult } from './health-checks.ts';

/**
 * The two destination health checks (issue 14), from the destination summaries of the operations
 * service: a destination is **failing** when its success rate over the window is below
 * `destinationMinSuccessRate` with at least `destinationMinAttempts` finished attempts (fewer say
 * nothing), and **backing up** when its backlog is over `destinationMaxBacklog`, or when it is
 * disabled (a 410 Gone) with anything waiting: nothing will drain that backlog until an operator
 * enables it. Each check's value is how many destinations it flags (max 0).
 */

export interface DestinationThresholds {
  /** Percent of finished attempts in the window that must succeed. */
  destinationMinSuccessRate: number;
  /** Finished attempts in the window below which a destination's success rate is not judged. */
  destinationMinAttempts: number;
  /** Deliveries waiting (pending, failed, processing) per destination. */
  destinationMaxBacklog: number;
}

export const defaultDestinationThresholds: Readonly<DestinationThresholds> = Object.freeze({
  destinationMinSuccessRate: 80,
  destinationMinAttempts: 10,
  destinationMaxBacklog: 1000,
});

export const destinationCheckNames = ['destinationFailures', 'destinationBacklog'] as const;
export type DestinationCheckName = (typeof destinationCheckNames)[number];

export interface DestinationHealth {
  checks: Record<DestinationCheckName, CheckResult>;
  /** Advice per flagged destination, with the evidence and the commands that help. */
  recommendations: string[];
}

const finishedAttempts = (d: DestinationSummary) =>
  d.recentAttempts.succeeded +
  d.recentAttempts.failed +
  d.recentAttempts.dead +
  d.recentAttempts.disabled +
  d.recentAttempts.lease_expired;

export function evaluateDestinationHealth(
  destinations: readonly DestinationSummary[],
  thresholds: DestinationThresholds,
  windowMinutes: number,
): DestinationHealth {
  const key = (d: DestinationSummary) => `${d.source}/${d.name}`;
  const failing = destinations.filter(
    (d) =>
      d.recentSuccessRate !== null &&
      finishedAttempts(d) >= thresholds.destinationMinAttempts &&
      d.recentSuccessRate < thresholds.destinationMinSuccessRate,
  );
  const backingUp = destinations.filter(
    (d) => d.backlog > thresholds.destinationMaxBacklog || (d.state === 'disabled' && d.backlog > 0),
  );
  const check = (
    flagged: DestinationSummary[],
    none: string,
    describe: (d: DestinationSummary) => string,
  ) => ({
    passed: flagged.length === 0,
    value: flagged.length,
    threshold: 0,
    bound: 'max' as const,
    unit: 'destinations' as const,
    message: flagged.length === 0 ? none : flagged.map(describe).join('; '),
  });
  const checks = {
    destinationFailures: check(
      failing,
      `no destination below ${thresholds.destinationMinSuccessRate}% successful attempts in the last ${windowMinutes} min`,
      (d) =>
        `${key(d)}: ${d.recentSuccessRate}% of ${finishedAttempts(d)} attempts succeeded in the last ${windowMinutes} min (min ${thresholds.destinationMinSuccessRate}%)`,
    ),
    destinationBacklog: check(
      backingUp,
      `no destination over ${thresholds.destinationMaxBacklog} waiting deliveries, none disabled with any`,
      (d) =>
        d.state === 'disabled' && d.backlog <= thresholds.destinationMaxBacklog
          ? `${key(d)}: disabled with ${d.backlog} deliveries waiting`
          : `${key(d)}: ${d.backlog} deliveries waiting (max ${thresholds.destinationMaxBacklog})${d.state === 'active' ? '' : `, ${d.state}`}`,
    ),
  };
  const recommendations: string[] = [];
  for (const d of failing) {
    recommendations.push(
      `${key(d)} accepts only ${d.recentSuccessRate}% of deliveries: read the status codes and errors (hookbox deliveries list --destination ${d.name} --status failed,dead), fix the endpoint, then retry the dead ones (hookbox deliveries retry --dead ${key(d)}); pause it meanwhile to stop spending attempts (hookbox destinations pause ${key(d)}).`,
    );
  }
  for (const d of backingUp) {
    if (d.state === 'disabled') {
      recommendations.push(
        `${key(d)} is disabled (${d.stateReason ?? 'it answered 410 Gone'}) with ${d.backlog} deliveries waiting: once the endpoint accepts deliveries again, enable it (hookbox destinations enable ${key(d)}); the queue goes out oldest first.`,
      );
    } else if (d.state === 'paused') {
      recommendations.push(
        `${key(d)} is paused with ${d.backlog} deliveries waiting: resume it when the endpoint is ready (hookbox destinations resume ${key(d)}).`,
      );
    } else {
      recommendations.push(
        `${key(d)} has ${d.backlog} deliveries waiting: the endpoint is slower than events arrive or failing; raise its concurrency or ratePerSecond if it can take more, or look at its latency in /metrics (hookbox_destination_attempt_duration_seconds).`,
      );
    }
  }
  return { checks, recommendations };
}
