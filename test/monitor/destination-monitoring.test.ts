import { afterEach, describe, expect, it } from 'vitest';
import type { DestinationSummary } from '../../src/destinations/operations.ts';
import { createHookbox, type HookboxInternals } from '../../src/hookbox.ts';
import {
  defaultDestinationThresholds,
  evaluateDestinationHealth,
} from '../../src/monitor/destination-health.ts';
import {
  generateSigningSecret,
  type RecordingServer,
  startRecordingServer,
} from '../destinations/helpers.ts';
import { waitUntil } from '../support/processes.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const stripeSecret = 'whsec_destination_monitoring';
const adminToken = 'destination-monitoring-admin-token';

function summary(fields: Partial<DestinationSummary> & { name: string }): DestinationSummary {
  return {
    source: 'stripe',
    url: 'http://127.0.0.1:1/x',
    types: ['*'],
    state: 'active',
    stateReason: null,
    stateChangedAt: null,
    deliveries: { pending: 0, processing: 0, succeeded: 0, failed: 0, dead: 0 },
    backlog: 0,
    recentAttempts: { succeeded: 0, failed: 0, dead: 0, disabled: 0, lease_expired: 0 },
    recentSuccessRate: null,
    ...fields,
  };
}

describe('destination health checks', () => {
  const thresholds = {
    ...defaultDestinationThresholds,
    destinationMinAttempts: 10,
    destinationMaxBacklog: 50,
  };

  it('flags a destination failing only with enough attempts, and one backing up or disabled with a backlog', () => {
    const attempts = (succeeded: number, failed: number) => ({
      recentAttempts: { succeeded, failed, dead: 0, disabled: 0, lease_expired: 0 },
      recentSuccessRate: Math.round((succeeded / (succeeded + failed)) * 100),
    });
    const health = evaluateDestinationHealth(
      [
        summary({ name: 'few', ...attempts(0, 9) }), // 0 % but only 9 attempts: not judged
        summary({ name: 'bad', ...attempts(7, 3) }), // 70 % of 10 < 80 %
        summary({ name: 'fine', ...attempts(8, 2) }), // 80 %: a value equal to the threshold passes
        summary({ name: 'busy', backlog: 51 }),
        summary({ name: 'full', backlog: 50 }), // equal: passes
        summary({ name: 'gone', state: 'disabled', stateReason: 'answered 410 Gone', backlog: 1 }),
        summary({ name: 'off', state: 'disabled', backlog: 0 }),
      ],
      thresholds,
      60,
    );
    expect(health.checks.destinationFailures).toMatchObject({
      passed: false,
      value: 1,
      threshold: 0,
      bound: 'max',
    });
    expect(health.checks.destinationFailures.message).toBe(
      'stripe/bad: 70% of 10 attempts succeeded in the last 60 min (min 80%)',
    );
    expect(health.checks.destinationBacklog).toMatchObject({ passed: false, value: 2 });
    expect(health.checks.destinationBacklog.message).toBe(
      'stripe/busy: 51 deliveries waiting (max 50); stripe/gone: disabled with 1 deliveries waiting',
    );
    expect(health.recommendations).toHaveLength(3);
    expect(health.recommendations[0]).toContain('hookbox deliveries retry --dead stripe/bad');
    expect(health.recommendations[2]).toContain('hookbox destinations enable stripe/gone');
  });

  it('passes with no destination at all', () => {
    const health = evaluateDestinationHealth([], thresholds, 60);
    expect(health.checks.destinationFailures.passed).toBe(true);
    expect(health.checks.destinationBacklog.passed).toBe(true);
    expect(health.recommendations).toEqual([]);
  });
});

for (const engine of engines) {
  describe(`destinations in /metrics and the health report on ${engine}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setUp(): Promise<{ hookbox: HookboxInternals; server: RecordingServer }> {
      const server = await startRecordingServer((request, response) => {
        response.statusCode = request.url === '/bad' ? 500 : 200;
        response.end(request.url === '/bad' ? 'broken' : 'ok');
      });
      cleanups.push(() => server.close());
      const t = await createTestStore(engine);
      cleanups.push(() => t.cleanup());
      const destination = (name: string) => ({
        name,
        url: `${server.url}/${name}`,
        signingSecret: generateSigningSecret(),
        allowPrivateNetwork: true,
        maxAttempts: 1,
      });
      const hookbox = createHookbox({
        store: t.store,
        migrate: false,
        sources: {
          stripe: {
            provider: 'stripe',
            secrets: [stripeSecret],
            destinations: [destination('good'), destination('bad')],
          },
        },
        worker: { pollIntervalMs: 50 },
        delivery: { pollIntervalMs: 50, settleIntervalMs: 200 },
        admin: { token: adminToken },
        monitor: {
          metrics: { processMetrics: false },
          thresholds: { destinationMinAttempts: 3, destinationMaxBacklog: 5 },
        },
      });
      await hookbox.start();
      cleanups.push(() => hookbox.stop(500));
      return { hookbox, server };
    }

    async function send(hookbox: HookboxInternals, id: string) {
      const body = stripeEventBody(id, 'invoice.paid');
      const response = await hookbox.fetch(
        new Request('http://hookbox.test/webhooks/stripe', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'stripe-signature': signStripe(body, stripeSecret, Math.floor(Date.now() / 1000)),
          },
          body,
        }),
      );
      expect(response.status).toBe(200);
    }

    const get = async (hookbox: HookboxInternals, path: string) =>
      hookbox.fetch(
        new Request(`http://hookbox.test${path}`, { headers: { authorization: `Bearer ${adminToken}` } }),
      );

    it('counts attempts by outcome with their latency, and shows backlog and state per destination', async () => {
      const { hookbox } = await setUp();
      for (let i = 0; i < 4; i++) await send(hookbox, `evt_metrics_${engine}_${i}`);
      await waitUntil(async () => {
        const { deliveries } = await hookbox.destinations.listDeliveries();
        return (
          deliveries.length === 8 && deliveries.every((d) => d.status === 'succeeded' || d.status === 'dead')
        );
      }, 20_000);
      await hookbox.destinations.pause('stripe', 'good', 'deploying');
      await hookbox.store.setDestinationState('stripe', 'bad', 'disabled', 'answered 410 Gone');
      await send(hookbox, `evt_metrics_${engine}_queued`);

      const text = await (await get(hookbox, '/metrics')).text();
      expect(text).toContain(
        'hookbox_destination_attempts_total{source="stripe",destination="good",outcome="succeeded"} 4',
      );
      expect(text).toContain(
        'hookbox_destination_attempts_total{source="stripe",destination="bad",outcome="dead"} 4',
      );
      expect(text).toMatch(
        /hookbox_destination_attempt_duration_seconds_count\{source="stripe",destination="good",outcome="succeeded"\} 4/,
      );
      expect(text).toContain('hookbox_destination_backlog{source="stripe",destination="good"} 1');
      expect(text).toContain('hookbox_destination_backlog{source="stripe",destination="bad"} 1');
      expect(text).toContain('hookbox_destination_state{source="stripe",destination="good"} 1');
      expect(text).toContain('hookbox_destination_state{source="stripe",destination="bad"} 2');
      expect(text).toContain(
        'hookbox_destination_deliveries{source="stripe",destination="bad",status="dead"} 4',
      );
      expect(text).toContain('hookbox_health_check_passed{check="destinationFailures"} 0');

      const monitor = await (
        await get(hookbox, '/api/admin/webhooks/monitor?report=true&refresh=true')
      ).json();
      const { checks, alerts, recommendations } = monitor.data;
      expect(checks.destinationFailures).toMatchObject({ passed: false, value: 1, unit: 'destinations' });
      expect(checks.destinationFailures.message).toContain('stripe/bad: 0% of 4 attempts');
      expect(checks.destinationBacklog).toMatchObject({ passed: false, value: 1 });
      expect(checks.destinationBacklog.message).toBe('stripe/bad: disabled with 1 deliveries waiting');
      expect(alerts.map((a: { type: string }) => a.type)).toEqual(
        expect.arrayContaining(['DESTINATION_FAILING', 'DESTINATION_BACKLOG']),
      );
      expect(recommendations.join('\n')).toContain('hookbox destinations enable stripe/bad');

      // /healthz (no token, no store query): what this process's delivery worker holds.
      const healthz = await (await hookbox.fetch(new Request('http://hookbox.test/healthz'))).json();
      expect(healthz.deliveries).toEqual({ held: 0, byDestination: expect.any(Object) });
    });

    it('adds no destination series or checks failing when none is configured', async () => {
      const t = await createTestStore(engine);
      cleanups.push(() => t.cleanup());
      const hookbox = createHookbox({
        store: t.store,
        migrate: false,
        sources: { stripe: { provider: 'stripe', secrets: [stripeSecret] } },
        worker: { enabled: false },
        admin: { token: adminToken },
        monitor: { metrics: { processMetrics: false } },
      });
      await hookbox.start();
      cleanups.push(() => hookbox.stop(500));
      const text = await (await get(hookbox, '/metrics')).text();
      expect(text).not.toContain('hookbox_destination_');
      const healthz = await (await hookbox.fetch(new Request('http://hookbox.test/healthz'))).json();
      expect(healthz.deliveries).toBeUndefined();
      const report = await hookbox.monitoring.health.checkHealth({ fresh: true });
      expect(report.checks.destinationFailures.passed).toBe(true);
      expect(report.checks.destinationBacklog.passed).toBe(true);
    });
  });
}
