import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import type { CheckName } from '../../src/monitor/health-checks.ts';
import { createHealthMonitor, type HealthReport } from '../../src/monitor/health-monitor.ts';
import { createRejectionLog } from '../../src/monitor/rejection-log.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { createSeeder } from './seed.ts';

const minute = 60_000;

function failing(report: HealthReport): CheckName[] {
  return (Object.entries(report.checks) as [CheckName, { passed: boolean }][])
    .filter(([, check]) => !check.passed)
    .map(([name]) => name);
}

describe.each(engines)('health checks on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let clock: ReturnType<typeof createManualClock>;
  let seed: ReturnType<typeof createSeeder>;
  let monitor: ReturnType<typeof createHealthMonitor>;
  const check = () => monitor.checkHealth({ fresh: true });

  beforeEach(async () => {
    clock = createManualClock(Date.UTC(2026, 2, 1, 12));
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    seed = createSeeder(store, clock.now);
    monitor = createHealthMonitor({ store, clock });
  });
  afterEach(async () => {
    await cleanup();
  });

  it('is HEALTHY with no events, every check passing', async () => {
    const report = await check();
    expect(report.status).toBe('HEALTHY');
    expect(report.healthy).toBe(true);
    expect(failing(report)).toEqual([]);
    expect(report.alerts).toEqual([]);
    expect(report.recommendations).toEqual([]);
    expect(report.metrics.successRate).toBe(100);
  });

  it('recent failures: 10 passes, 11 is DEGRADED with HIGH_FAILURE_RATE (ERROR)', async () => {
    // 220 processed keep the success rate above 95% at 11 failures, so only this check moves.
    await seed.processed(220);
    await seed.dead(10);
    let report = await check();
    expect(report.checks.recentFailures).toMatchObject({ passed: true, value: 10, threshold: 10 });
    expect(report.status).toBe('HEALTHY');

    await seed.dead(1);
    report = await check();
    expect(failing(report)).toEqual(['recentFailures']);
    expect(report.status).toBe('DEGRADED');
    expect(report.alerts).toEqual([
      expect.objectContaining({
        type: 'HIGH_FAILURE_RATE',
        severity: 'ERROR',
        check: 'recentFailures',
        value: 11,
      }),
    ]);
    expect(report.alerts[0]!.action).toMatch(/Investigate the provider/);
    expect(report.recommendations).toHaveLength(1);
    expect(report.recommendations[0]).toMatch(/11 events failed.*retry-failed/);
  });

  it('recent failures leave the window after it passes', async () => {
    await seed.processed(220);
    await seed.dead(11);
    expect((await check()).status).toBe('DEGRADED');
    clock.advance(61 * minute);
    const report = await check();
    expect(report.metrics.failed).toBe(0);
    expect(report.status).toBe('HEALTHY');
    // A longer window still sees them.
    expect(
      (await monitor.checkHealth({ windowMinutes: 120, fresh: true })).checks.recentFailures.passed,
    ).toBe(false);
  });

  it('processing backlog: 100 waiting passes, 101 is DEGRADED with LARGE_BACKLOG (WARNING)', async () => {
    await seed.record(100);
    let report = await check();
    expect(report.checks.processingBacklog).toMatchObject({ passed: true, value: 100 });
    expect(report.status).toBe('HEALTHY');

    await seed.record(1);
    report = await check();
    expect(failing(report)).toEqual(['processingBacklog']);
    expect(report.status).toBe('DEGRADED');
    expect(report.alerts.map((a) => [a.type, a.severity])).toEqual([['LARGE_BACKLOG', 'WARNING']]);
    expect(report.alerts[0]!.action).toMatch(/Scale workers/);
    expect(report.recommendations[0]).toMatch(/101 events are waiting: add workers/);
  });

  it('oldest pending: 30 min passes, 30.1 min is CRITICAL (stale) with STALE_EVENTS', async () => {
    const [id] = await seed.record(1);
    clock.advance(30 * minute);
    let report = await check();
    expect(report.checks.oldestPending).toMatchObject({ passed: true, value: 30 });
    expect(report.status).toBe('HEALTHY');

    clock.advance(6_000);
    report = await check();
    expect(failing(report)).toEqual(['oldestPending']);
    // One failing check, but stale events make it CRITICAL.
    expect(report.status).toBe('CRITICAL');
    expect(report.alerts.map((a) => [a.type, a.severity])).toEqual([['STALE_EVENTS', 'CRITICAL']]);
    expect(report.alerts[0]!.action).toMatch(/Manual intervention/);
    expect(report.metrics.oldestPending).toMatchObject({ id, source: 'stripe', ageMinutes: 30.1 });
    expect(report.recommendations[0]).toContain(`Event ${id} (stripe) has waited 30.1 min`);
  });

  it('average attempts: 2 passes, 2.33 is DEGRADED with SLOW_PROCESSING (WARNING)', async () => {
    const ids = await seed.record(2);
    await seed.attempt(ids, 'failed');
    await seed.attempt(ids, 'processed');
    let report = await check();
    expect(report.checks.averageAttempts).toMatchObject({ passed: true, value: 2 });
    expect(report.metrics.failedAttempts).toBe(2);
    expect(report.status).toBe('HEALTHY');

    const [third] = await seed.record(1);
    await seed.attempt([third!], 'failed');
    await seed.attempt([third!], 'failed');
    await seed.attempt([third!], 'processed');
    report = await check();
    expect(report.checks.averageAttempts.value).toBeCloseTo(7 / 3, 2);
    expect(failing(report)).toEqual(['averageAttempts']);
    expect(report.status).toBe('DEGRADED');
    expect(report.alerts.map((a) => [a.type, a.severity])).toEqual([['SLOW_PROCESSING', 'WARNING']]);
    expect(report.alerts[0]!.action).toMatch(/Check performance/);
    expect(report.recommendations[0]).toMatch(/attempts on average: handler p95 is 40 ms/);
  });

  it('duplicate events: 5 repeat deliveries pass, 6 are DEGRADED with DUPLICATE_EVENTS (WARNING)', async () => {
    for (let i = 0; i < 6; i++) await seed.record(1, { key: 'evt_repeated' });
    let report = await check();
    expect(report.checks.duplicateEvents).toMatchObject({ passed: true, value: 5 });
    expect(report.metrics.total).toBe(1);

    await seed.record(1, { key: 'evt_repeated' });
    report = await check();
    expect(failing(report)).toEqual(['duplicateEvents']);
    expect(report.status).toBe('DEGRADED');
    expect(report.alerts.map((a) => [a.type, a.severity])).toEqual([['DUPLICATE_EVENTS', 'WARNING']]);
    expect(report.alerts[0]!.action).toMatch(/Review idempotency/);
    expect(report.recommendations[0]).toMatch(/6 duplicate deliveries.*find-duplicates/);
  });

  it('success rate: 95% passes, below is DEGRADED with LOW_SUCCESS_RATE (ERROR)', async () => {
    await seed.processed(19);
    await seed.dead(1);
    let report = await check();
    expect(report.checks.successRate).toMatchObject({ passed: true, value: 95, bound: 'min' });
    expect(report.status).toBe('HEALTHY');

    await seed.dead(1);
    report = await check();
    expect(report.checks.successRate.value).toBeCloseTo(90.48, 2);
    expect(failing(report)).toEqual(['successRate']);
    expect(report.status).toBe('DEGRADED');
    expect(report.alerts.map((a) => [a.type, a.severity])).toEqual([['LOW_SUCCESS_RATE', 'ERROR']]);
    expect(report.alerts[0]!.action).toMatch(/Full review/);
    expect(report.recommendations[0]).toMatch(/Only 90.48% of finished events succeeded/);
  });

  it('one or two failing checks are DEGRADED, three are CRITICAL', async () => {
    await seed.record(101);
    expect((await check()).status).toBe('DEGRADED');

    for (let i = 0; i < 7; i++) await seed.record(1, { key: 'evt_dup' });
    let report = await check();
    expect(failing(report)).toEqual(['processingBacklog', 'duplicateEvents']);
    expect(report.status).toBe('DEGRADED');

    // Enough successes that only recentFailures joins in: exactly three failing.
    await seed.processed(220);
    await seed.dead(11);
    report = await check();
    expect(failing(report)).toEqual(['recentFailures', 'processingBacklog', 'duplicateEvents']);
    expect(report.status).toBe('CRITICAL');
    expect(report.healthy).toBe(false);
    expect(report.alerts.map((a) => [a.type, a.severity])).toEqual([
      ['HIGH_FAILURE_RATE', 'ERROR'],
      ['LARGE_BACKLOG', 'WARNING'],
      ['DUPLICATE_EVENTS', 'WARNING'],
    ]);
    expect(report.recommendations).toHaveLength(3);
  });

  it('takes configured thresholds', async () => {
    monitor = createHealthMonitor({ store, clock, thresholds: { maxBacklog: 2, minSuccessRate: 50 } });
    await seed.record(3);
    const report = await check();
    expect(report.checks.processingBacklog).toMatchObject({ passed: false, value: 3, threshold: 2 });
    expect(report.checks.successRate.threshold).toBe(50);
  });

  it('reuses a report for 30 s, then recomputes', async () => {
    await seed.record(101);
    const first = await monitor.checkHealth();
    expect(first.status).toBe('DEGRADED');
    const ids = (await store.listEvents({ limit: 1000 })).events.map((e) => e.id);
    await seed.attempt(ids, 'processed');

    clock.advance(29_999);
    expect(await monitor.checkHealth()).toBe(first);
    clock.advance(1);
    const second = await monitor.checkHealth();
    expect(second.status).toBe('HEALTHY');
    expect(second.timestamp).not.toBe(first.timestamp);
  });

  it('reports window metrics: counts, durations, latency, rejections', async () => {
    const rejections = createRejectionLog(clock);
    monitor = createHealthMonitor({ store, clock, rejections });
    const ids = await seed.record(4, { type: 'charge.succeeded' });
    await seed.record(1, { source: 'github', type: 'push' });
    clock.advance(2_000);
    await seed.attempt(ids.slice(0, 3), 'processed', 100);
    await seed.attempt(ids.slice(3), 'dead', 20);
    rejections.record('stripe', 'signature_mismatch');
    rejections.record('stripe', 'signature_mismatch');
    rejections.record('github', 'timestamp_outside_tolerance');

    const { metrics } = await check();
    expect(metrics).toMatchObject({
      total: 5,
      processed: 3,
      failed: 1,
      dead: 1,
      pending: 1,
      successRate: 75,
      averageAttempts: 0.8,
      byProvider: { stripe: 5 },
      byType: { 'charge.succeeded': 4, push: 1 },
      backlog: 1,
      duplicateDeliveries: 0,
    });
    expect(metrics.handlerDurationMs).toEqual({ average: 80, p50: 100, p95: 100, p99: 100, samples: 4 });
    expect(metrics.processingLatencyMs).toMatchObject({ average: 2000, p50: 2000, samples: 3 });
    expect(metrics.rejected).toEqual({
      total: 3,
      byReason: { signature_mismatch: 2, timestamp_outside_tolerance: 1 },
      bySource: { stripe: 2, github: 1 },
    });

    clock.advance(61 * minute);
    expect((await check()).metrics.rejected.total).toBe(0);
  });
});
