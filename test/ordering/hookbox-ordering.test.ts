import { afterEach, describe, expect, it } from 'vitest';
import { createHookbox } from '../../src/hookbox.ts';
import { createTestStore, engines, type TestStore } from '../support/stores.ts';
import { signStripe } from '../support/stripe.ts';
import { sleep, waitUntil } from '../worker/helpers.ts';

const secret = 'whsec_ordering_test';

function stripeBody(
  id: string,
  created: number,
  object: string,
  type = 'customer.subscription.updated',
): string {
  return JSON.stringify({ id, object: 'event', type, created, data: { object: { id: object } } });
}

function deliver(hookbox: { fetch(request: Request): Promise<Response> }, body: string): Promise<Response> {
  return hookbox.fetch(
    new Request('http://hookbox.test/webhooks/stripe', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
      },
      body,
    }),
  );
}

for (const engine of engines) {
  describe(`ordering through Hookbox (${engine})`, () => {
    let test: TestStore;
    let hookbox: ReturnType<typeof createHookbox> | undefined;
    afterEach(async () => {
      await hookbox?.stop();
      hookbox = undefined;
      await test.cleanup();
    });

    it('runs a Stripe pair whose `created` arrive out of order within reorderWindowMs in `created` order', async () => {
      test = await createTestStore(engine);
      const ran: string[] = [];
      hookbox = createHookbox({
        store: test.store,
        sources: {
          stripe: {
            provider: 'stripe',
            secrets: [secret],
            ordering: { key: 'data.object.id', reorderWindowMs: 400 },
          },
        },
        handlers: {
          stripe: {
            '*': async ({ event }) => {
              ran.push(event.dedupeKey);
            },
          },
        },
        worker: { pollIntervalMs: 25 },
      });
      await hookbox.start();
      const now = Math.floor(Date.now() / 1000);
      // `updated` (created later) arrives first; `created` (created earlier) 100 ms after it.
      expect((await deliver(hookbox, stripeBody('evt_updated', now, 'sub_1'))).status).toBe(200);
      await sleep(100);
      expect(
        (await deliver(hookbox, stripeBody('evt_created', now - 5, 'sub_1', 'customer.subscription.created')))
          .status,
      ).toBe(200);
      // An unordered-by-key neighbour (another subscription) is not held behind them.
      expect((await deliver(hookbox, stripeBody('evt_other', now - 10, 'sub_2'))).status).toBe(200);
      await waitUntil(async () => ran.length === 3, 'all three events ran', 10_000, 20);
      expect(ran.filter((k) => k !== 'evt_other')).toEqual(['evt_created', 'evt_updated']);
    });
  });
}

const adminToken = 'ordering-admin-token-0123456789abcdef';

for (const engine of engines) {
  describe(`blocked keys through Hookbox (${engine})`, () => {
    let test: TestStore;
    let hookbox: ReturnType<typeof createHookbox> | undefined;
    afterEach(async () => {
      await hookbox?.stop();
      hookbox = undefined;
      await test.cleanup();
    });

    async function start(onDead: 'block' | 'skip', failing: Set<string>, ran: string[]) {
      test = await createTestStore(engine);
      const alerts: string[] = [];
      hookbox = createHookbox({
        store: test.store,
        sources: {
          stripe: { provider: 'stripe', secrets: [secret], ordering: { key: 'data.object.id', onDead } },
        },
        handlers: {
          stripe: {
            '*': async ({ event }) => {
              ran.push(event.dedupeKey);
              if (failing.has(event.dedupeKey)) throw new Error(`cannot handle ${event.dedupeKey}`);
            },
          },
        },
        retry: { maxAttempts: 1 },
        worker: { pollIntervalMs: 25 },
        admin: { token: adminToken },
        monitor: {
          cacheSeconds: 0,
          metrics: { processMetrics: false },
          alerts: {
            checkIntervalSeconds: 0,
            sinks: [{ name: 'memory', send: async (n) => void alerts.push(`${n.state}:${n.alert.type}`) }],
          },
        },
      });
      await hookbox.start();
      return alerts;
    }
    const admin = (path: string, body?: unknown) =>
      hookbox!.fetch(
        new Request(`http://hookbox.test${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      );

    it('a dead head blocks its key, with the alert, the health check and the gauges, until it is skipped or retried', async () => {
      const failing = new Set(['evt_1']);
      const ran: string[] = [];
      const alerts = await start('block', failing, ran);
      const now = Math.floor(Date.now() / 1000);
      await deliver(hookbox!, stripeBody('evt_1', now - 3, 'sub_1'));
      await deliver(hookbox!, stripeBody('evt_2', now - 2, 'sub_1'));
      await deliver(hookbox!, stripeBody('evt_3', now - 1, 'sub_1'));
      await deliver(hookbox!, stripeBody('evt_x', now, 'sub_2'));
      await waitUntil(async () => ran.includes('evt_1') && ran.includes('evt_x'), 'the heads ran');
      await sleep(200);
      // evt_1 is dead; evt_2 and evt_3 wait behind it; the other key was not held up.
      expect(ran.sort()).toEqual(['evt_1', 'evt_x']);

      const { report } = await hookbox!.monitoring.evaluateAndNotify();
      expect(report.checks.blockedKeys).toMatchObject({ passed: false, value: 1 });
      expect(alerts).toContain('firing:BLOCKED_KEYS');
      const metrics = await (await admin('/metrics')).text();
      expect(metrics).toMatch(/^hookbox_ordering_blocked_keys 1$/m);
      expect(metrics).toMatch(/^hookbox_ordering_oldest_blocked_age_seconds \d+$/m);

      const listed = await (await admin('/api/admin/ordering/blocked-keys')).json();
      expect(listed.data.keys).toEqual([
        expect.objectContaining({
          source: 'stripe',
          key: 'sub_1',
          waiting: 2,
          lastError: 'cannot handle evt_1',
        }),
      ]);
      const headId = listed.data.keys[0].headId;

      // Retry the head: it runs again first (and dies again).
      const retried = await (
        await admin('/api/admin/ordering/blocked-keys/unblock', {
          source: 'stripe',
          key: 'sub_1',
          action: 'retry',
        })
      ).json();
      expect(retried.data).toMatchObject({ unblocked: true, headId });
      await waitUntil(async () => ran.filter((k) => k === 'evt_1').length === 2, 'the head ran again');
      await waitUntil(
        async () => (await test.store.getEvent(headId))?.status === 'dead',
        'the retried head is dead again',
      );
      await sleep(100);
      expect(ran.filter((k) => k !== 'evt_1' && k !== 'evt_x')).toEqual([]);

      // Skip it: the rest of the key runs, in order.
      const skipped = await (
        await admin('/api/admin/ordering/blocked-keys/unblock', {
          source: 'stripe',
          key: 'sub_1',
          action: 'skip',
        })
      ).json();
      expect(skipped.data).toMatchObject({ unblocked: true, headId });
      await waitUntil(async () => ran.includes('evt_3'), 'the key went on');
      expect(ran.filter((k) => k === 'evt_2' || k === 'evt_3')).toEqual(['evt_2', 'evt_3']);
      const again = await (
        await admin('/api/admin/ordering/blocked-keys/unblock', {
          source: 'stripe',
          key: 'sub_1',
          action: 'skip',
        })
      ).json();
      expect(again.data).toMatchObject({ unblocked: false, headId: null });
      const after = await hookbox!.monitoring.evaluateAndNotify();
      expect(after.report.checks.blockedKeys.passed).toBe(true);
      expect(alerts).toContain('resolved:BLOCKED_KEYS');
    });

    it("with onDead: 'skip' the next event runs after a dead head", async () => {
      const ran: string[] = [];
      await start('skip', new Set(['evt_1']), ran);
      const now = Math.floor(Date.now() / 1000);
      await deliver(hookbox!, stripeBody('evt_1', now - 2, 'sub_1'));
      await deliver(hookbox!, stripeBody('evt_2', now - 1, 'sub_1'));
      await waitUntil(async () => ran.length === 2, 'both ran');
      expect(ran).toEqual(['evt_1', 'evt_2']);
      expect((await hookbox!.monitoring.health.checkHealth({ fresh: true })).checks.blockedKeys.passed).toBe(
        true,
      );
    });
  });
}
