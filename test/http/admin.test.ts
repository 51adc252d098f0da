import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { StoreUnavailableError } from '../../src/errors.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { adminOperations, type OperationId } from '../../src/http/admin/operations.ts';
import type { Store } from '../../src/store/types.ts';
import { createSeeder } from '../monitor/seed.ts';
import { createDeliverySeeder } from '../support/delivery-seed.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const adminToken = 'admin-token-0123456789abcdef';
const readToken = 'read-only-token-0123456789';
const cronSecret = 'cron-secret-0123456789abcdef';
const secret = 'whsec_admin_test';
const destinationSecret = `whsec_${Buffer.from('destination-secret-0123456789abcd').toString('base64')}`;
const destinationHeaderValue = 'header-credential-0123456789';
const minute = 60_000;
const day = 24 * 60 * minute;

interface Call {
  method: string;
  path: string;
  body?: unknown;
  /** State the call needs first (a paused destination, a dead delivery); changes no event. */
  prepare?: () => Promise<void>;
}

describe.each(engines)('admin API on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  let clock: ReturnType<typeof createManualClock>;
  let seed: ReturnType<typeof createSeeder>;

  beforeEach(async () => {
    clock = createManualClock(Date.UTC(2026, 5, 1, 12));
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    seed = createSeeder(store, clock.now);
    hookbox = createHookbox({
      store,
      clock,
      sources: {
        stripe: {
          provider: 'stripe',
          secrets: [secret],
          // Never contacted: the worker is off. Its secret and header value must never show.
          destinations: [
            {
              name: 'billing',
              url: 'http://127.0.0.1:9/hooks',
              signingSecret: destinationSecret,
              headers: { authorization: `Bearer ${destinationHeaderValue}` },
              allowPrivateNetwork: true,
            },
          ],
        },
      },
      worker: { enabled: false },
      admin: { token: adminToken, readOnlyTokens: [readToken], cronSecret },
      monitor: { metrics: { processMetrics: false }, maintenance: { retentionDays: 30 } },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  function call({ method, path, body }: Call, token?: string | null, headers: Record<string, string> = {}) {
    return hookbox.fetch(
      new Request(`http://hookbox.test${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );
  }
  async function json(call: Promise<Response>, status = 200) {
    const response = await call;
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(status);
    return body;
  }
  const action = (name: string, params?: unknown) =>
    json(
      call(
        { method: 'POST', path: '/api/admin/webhooks/monitor', body: { action: name, params } },
        adminToken,
      ),
    );
  /** id -> status/attempts of every event, to show an action changed exactly what it says. */
  async function snapshot() {
    const page = await store.listEvents({ limit: 1000 });
    return Object.fromEntries(page.events.map((e) => [e.id, `${e.status}/${e.attempts}`]));
  }

  /** A dead delivery of `eventId` to stripe/billing; the event itself stays as it is. */
  async function seedDeadDelivery(eventId: string): Promise<number> {
    const deliveries = createDeliverySeeder(store, clock.now);
    const { id } = await deliveries.create(eventId, 'billing');
    await deliveries.attempt('stripe', 'billing', 'dead');
    return id;
  }
  let preparedDeliveryId = 0;

  /** One valid call and one bad-input call per route; typed by OperationId so no route is left out. */
  function routeCases(
    eventId: string,
  ): Record<OperationId, { valid: Call; invalid: Call & { field: string } }> {
    const destination = '/api/admin/destinations/stripe/billing';
    return {
      listDestinations: {
        valid: { method: 'GET', path: '/api/admin/destinations?windowMinutes=60' },
        invalid: { method: 'GET', path: '/api/admin/destinations?windowMinutes=0', field: 'windowMinutes' },
      },
      pauseDestination: {
        valid: { method: 'POST', path: `${destination}/pause`, body: { reason: 'deploying' } },
        invalid: { method: 'POST', path: `${destination}/pause`, body: { reason: 7 }, field: 'reason' },
      },
      resumeDestination: {
        valid: {
          method: 'POST',
          path: `${destination}/resume`,
          prepare: async () => void (await hookbox.destinations.pause('stripe', 'billing')),
        },
        invalid: { method: 'POST', path: '/api/admin/destinations/stripe/no%20such/resume', field: 'name' },
      },
      enableDestination: {
        valid: {
          method: 'POST',
          path: `${destination}/enable`,
          prepare: async () => void (await store.setDestinationState('stripe', 'billing', 'disabled', '410')),
        },
        invalid: { method: 'POST', path: '/api/admin/destinations/-stripe/billing/enable', field: 'source' },
      },
      listDeliveries: {
        valid: { method: 'GET', path: `/api/admin/deliveries?status=dead,failed&source=stripe&limit=5` },
        invalid: { method: 'GET', path: '/api/admin/deliveries?status=gone', field: 'status' },
      },
      getDelivery: {
        get valid(): Call {
          return {
            method: 'GET',
            path: `/api/admin/deliveries/${preparedDeliveryId}`,
            prepare: async () => {
              preparedDeliveryId = await seedDeadDelivery(eventId);
            },
          };
        },
        invalid: { method: 'GET', path: '/api/admin/deliveries/0', field: 'id' },
      },
      retryDelivery: {
        get valid(): Call {
          return {
            method: 'POST',
            path: `/api/admin/deliveries/${preparedDeliveryId}/retry`,
            prepare: async () => {
              preparedDeliveryId = await seedDeadDelivery(eventId);
            },
          };
        },
        invalid: { method: 'POST', path: '/api/admin/deliveries/1.5/retry', field: 'id' },
      },
      replayEvent: {
        valid: {
          method: 'POST',
          path: `/api/admin/events/${eventId}/replay`,
          body: { destination: 'billing' },
        },
        invalid: {
          method: 'POST',
          path: `/api/admin/events/${eventId}/replay`,
          body: { destination: 'bad name' },
          field: 'destination',
        },
      },
      getMonitor: {
        valid: { method: 'GET', path: '/api/admin/webhooks/monitor?timeWindow=60&report=true' },
        invalid: { method: 'GET', path: '/api/admin/webhooks/monitor?timeWindow=0', field: 'timeWindow' },
      },
      runMonitorAction: {
        valid: {
          method: 'POST',
          path: '/api/admin/webhooks/monitor',
          body: { action: 'find-duplicates', params: { limit: 5 } },
        },
        invalid: {
          method: 'POST',
          path: '/api/admin/webhooks/monitor',
          body: { action: 'cleanup', params: { olderThanDays: -3 } },
          field: 'params.olderThanDays',
        },
      },
      listEvents: {
        valid: { method: 'GET', path: '/api/admin/events?limit=10&status=pending' },
        invalid: { method: 'GET', path: '/api/admin/events?limit=5000', field: 'limit' },
      },
      bulkRetryEvents: {
        valid: { method: 'POST', path: '/api/admin/events/retry', body: { status: ['failed'] } },
        invalid: {
          method: 'POST',
          path: '/api/admin/events/retry',
          body: { status: ['processing'] },
          field: 'status.0',
        },
      },
      getEvent: {
        valid: { method: 'GET', path: `/api/admin/events/${eventId}` },
        invalid: { method: 'GET', path: '/api/admin/events/not%20an%20id', field: 'id' },
      },
      retryEvent: {
        valid: { method: 'POST', path: `/api/admin/events/${eventId}/retry` },
        invalid: {
          method: 'POST',
          path: `/api/admin/events/${eventId}/retry`,
          body: { force: 'yes' },
          field: 'force',
        },
      },
      deleteEvent: {
        valid: { method: 'DELETE', path: `/api/admin/events/${eventId}` },
        invalid: { method: 'DELETE', path: `/api/admin/events/${'x'.repeat(65)}`, field: 'id' },
      },
      getStatistics: {
        valid: { method: 'GET', path: '/api/admin/statistics' },
        invalid: { method: 'GET', path: '/api/admin/statistics?window=5', field: 'window' },
      },
      getTimeSeries: {
        valid: { method: 'GET', path: '/api/admin/timeseries?window=1440' },
        invalid: { method: 'GET', path: '/api/admin/timeseries?window=2000', field: 'window' },
      },
      getDuplicates: {
        valid: { method: 'GET', path: '/api/admin/duplicates?limit=10' },
        invalid: { method: 'GET', path: '/api/admin/duplicates?limit=0', field: 'limit' },
      },
      listBlockedKeys: {
        valid: { method: 'GET', path: '/api/admin/ordering/blocked-keys?limit=10' },
        invalid: { method: 'GET', path: '/api/admin/ordering/blocked-keys?limit=0', field: 'limit' },
      },
      unblockKey: {
        valid: {
          method: 'POST',
          path: '/api/admin/ordering/blocked-keys/unblock',
          body: { source: 'stripe', key: 'sub_1', action: 'skip' },
        },
        invalid: {
          method: 'POST',
          path: '/api/admin/ordering/blocked-keys/unblock',
          body: { source: 'stripe', key: 'sub_1', action: 'unblock' },
          field: 'action',
        },
      },
      getOpenApi: {
        valid: { method: 'GET', path: '/api/admin/openapi.json' },
        invalid: { method: 'GET', path: '/api/admin/openapi.json?format=yaml', field: 'format' },
      },
      runMaintenance: {
        valid: { method: 'POST', path: '/api/cron/webhook-maintenance' },
        invalid: { method: 'POST', path: '/api/cron/webhook-maintenance?dryRun=1', field: 'dryRun' },
      },
      getMetrics: {
        valid: { method: 'GET', path: '/metrics' },
        invalid: { method: 'GET', path: '/metrics?name[]=x', field: 'name[]' },
      },
    };
  }

  /** A route's cases after its valid call's prepare ran (a path may name what prepare made). */
  async function preparedCase(eventId: string, id: OperationId) {
    await routeCases(eventId)[id].valid.prepare?.();
    return routeCases(eventId)[id];
  }

  describe('every route', () => {
    const ids = Object.keys(adminOperations) as OperationId[];

    it.each(ids)('%s: 401 without a token or with a wrong one, naming no token', async (id) => {
      const [eventId] = await seed.record(1);
      const { valid } = await preparedCase(eventId!, id);
      for (const token of [null, 'not-a-configured-token-000000']) {
        const response = await call(valid, token);
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        const body = await response.json();
        expect(body.error.code).toBe('unauthorized');
        expect(JSON.stringify(body)).not.toContain('not-a-configured-token');
      }
      // A malformed Authorization header is 401 too.
      expect((await call(valid, null, { authorization: `Basic ${adminToken}` })).status).toBe(401);
      expect(await snapshot()).toEqual({ [eventId!]: 'pending/0' });
    });

    it.each(ids)('%s: a read-only token reads (200) but runs no action (403)', async (id) => {
      const [eventId] = await seed.record(1);
      const { valid } = await preparedCase(eventId!, id);
      const response = await call(valid, readToken);
      if (adminOperations[id].access === 'read') {
        expect(response.status).toBe(200);
      } else {
        expect(response.status).toBe(403);
        expect((await response.json()).error.code).toBe('forbidden');
        expect(await snapshot()).toEqual({ [eventId!]: 'pending/0' });
      }
    });

    it.each(ids)('%s: bad input is 400 naming the field, and changes nothing', async (id) => {
      const [eventId] = await seed.record(1);
      const { invalid } = routeCases(eventId!)[id];
      const body = await json(call(invalid, adminToken), 400);
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.details.map((d: { path: string }) => d.path)).toContain(invalid.field);
      expect(body.error.message).toContain(invalid.field);
      expect(await snapshot()).toEqual({ [eventId!]: 'pending/0' });
    });

    it.each(ids)('%s: the admin token is accepted', async (id) => {
      const [eventId] = await seed.record(1);
      const response = await call((await preparedCase(eventId!, id)).valid, adminToken);
      expect(response.status).toBe(200);
    });
  });

  it('answers 401 on every route when no admin token is configured', async () => {
    const bare = createHookbox({
      store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      worker: { enabled: false },
      monitor: { metrics: { processMetrics: false } },
    });
    const response = await bare.fetch(
      new Request('http://hookbox.test/api/admin/statistics', {
        headers: { authorization: `Bearer ${adminToken}` },
      }),
    );
    expect(response.status).toBe(401);
    expect((await response.json()).error.message).toMatch(/disabled: set ADMIN_TOKEN/);
  });

  it('rejects a body that is not JSON, and an unknown action, naming them', async () => {
    let body = await json(
      call({ method: 'POST', path: '/api/admin/webhooks/monitor', body: '{nope' }, adminToken),
      400,
    );
    expect(body.error.details).toEqual([{ in: 'body', path: '', message: 'the body is not valid JSON' }]);
    body = await json(
      call({ method: 'POST', path: '/api/admin/webhooks/monitor', body: { action: 'reboot' } }, adminToken),
      400,
    );
    expect(body.error.details[0]).toMatchObject({ in: 'body', path: 'action' });
    expect(body.error.details[0].message).toMatch(/cleanup, auto-remediate/);
    body = await json(
      call(
        { method: 'POST', path: '/api/admin/webhooks/monitor', body: { action: 'retry-event', params: {} } },
        adminToken,
      ),
      400,
    );
    expect(body.error.details[0]).toMatchObject({ path: 'params.eventId' });
    body = await json(
      call(
        {
          method: 'POST',
          path: '/api/admin/webhooks/monitor',
          body: { action: 'cleanup', params: { olderThan: 3 } },
        },
        adminToken,
      ),
      400,
    );
    expect(body.error.details).toEqual([{ in: 'body', path: 'params.olderThan', message: 'unknown field' }]);
  });

  it('range-checks every time and number at the edge: 400 invalid_input, never the database', async () => {
    await seed.failed(1);
    const refused = async (request: Call, path: string) => {
      const body = await json(call(request, adminToken), 400);
      expect(body.error.code, JSON.stringify(body)).toBe('invalid_input');
      expect(body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      return body;
    };
    const get = (path: string): Call => ({ method: 'GET', path });
    // Times JavaScript can hold but no store can: before 1970, after 9999, or absurdly large.
    for (const time of ['-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', '1969-12-31T23:59:59Z']) {
      await refused(get(`/api/admin/events?since=${encodeURIComponent(time)}`), 'since');
      await refused(get(`/api/admin/events?until=${encodeURIComponent(time)}`), 'until');
    }
    await refused(get('/api/admin/events?until=999999999999999'), 'until');
    const bulk = (body: unknown): Call => ({ method: 'POST', path: '/api/admin/events/retry', body });
    await refused(bulk({ until: 9007199254740991 }), 'until');
    await refused(bulk({ since: 253402300800000 }), 'since');
    const action = (params: unknown): Call => ({
      method: 'POST',
      path: '/api/admin/webhooks/monitor',
      body: { action: 'auto-remediate', params },
    });
    for (const stuckAfterMinutes of [1e308, 10_000_000]) {
      await refused(action({ stuckAfterMinutes }), 'params.stuckAfterMinutes');
    }
    // In range, the same requests work, and every refusal above changed nothing.
    expect(
      (await json(call(get('/api/admin/events?since=1970-01-01T00:00:00Z'), adminToken))).data.events,
    ).toHaveLength(1);
    await json(call(action({ stuckAfterMinutes: 60 }), adminToken));
    await json(call(bulk({ until: Date.UTC(9999, 0, 1) }), adminToken));
  });

  it('never puts a store error message in a response', async () => {
    const failing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'listEvents' || property === 'getStatistics') {
          return async () => {
            // What an adapter raises: the driver's text (here a connection detail) inside.
            throw new StoreUnavailableError(
              'The postgres store could not list events (connect ECONNREFUSED 10.9.8.7:5432 for user "hookbox_prod"): check that PostgreSQL is running.',
            );
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const broken = createHookbox({
      store: failing,
      clock,
      sources: {},
      worker: { enabled: false },
      migrate: false,
      admin: { token: adminToken },
      monitor: { metrics: { processMetrics: false } },
    });
    for (const path of ['/api/admin/events', '/api/admin/statistics']) {
      const response = await broken.fetch(
        new Request(`http://hookbox.test${path}`, { headers: { authorization: `Bearer ${adminToken}` } }),
      );
      const text = await response.text();
      expect(response.status, path).toBe(503);
      expect(JSON.parse(text).error.code).toBe('store_unavailable');
      for (const internal of ['ECONNREFUSED', '10.9.8.7', 'hookbox_prod', 'postgres store']) {
        expect(text, path).not.toContain(internal);
      }
    }
  });

  describe('GET /api/admin/webhooks/monitor', () => {
    it('returns health, checks and metrics; alerts and recommendations only with report=true', async () => {
      await seed.record(101);
      const plain = await json(call({ method: 'GET', path: '/api/admin/webhooks/monitor' }, readToken));
      expect(plain.success).toBe(true);
      expect(Object.keys(plain.data).sort()).toEqual([
        'checks',
        'circuitBreakers',
        'healthy',
        'metrics',
        'status',
        'timestamp',
      ]);
      expect(plain.data).toMatchObject({ healthy: false, status: 'DEGRADED', metrics: { backlog: 101 } });
      expect(plain.data.metrics.window.minutes).toBe(60);

      const report = await json(
        call(
          { method: 'GET', path: '/api/admin/webhooks/monitor?timeWindow=15&report=true&refresh=true' },
          readToken,
        ),
      );
      expect(report.data.metrics.window.minutes).toBe(15);
      expect(report.data.alerts).toEqual([
        expect.objectContaining({ type: 'LARGE_BACKLOG', severity: 'WARNING' }),
      ]);
      expect(report.data.recommendations).toHaveLength(1);
    });
  });

  describe('the seven actions', () => {
    it('cleanup deletes processed events older than olderThanDays, nothing else', async () => {
      const old = await seed.processed(2);
      const oldFailed = await seed.failed(1);
      clock.advance(40 * day);
      const recent = await seed.processed(1);
      const before = await snapshot();
      const body = await action('cleanup', { olderThanDays: 30 });
      expect(body).toMatchObject({
        success: true,
        action: 'cleanup',
        data: { deleted: 2, olderThanDays: 30 },
      });
      const expected = { ...before };
      for (const id of old) delete expected[id];
      expect(await snapshot()).toEqual(expected);
      expect(expected[oldFailed[0]!]).toBe('failed/1');
      expect(expected[recent[0]!]).toBe('processed/1');
    });

    it('cleanup without olderThanDays uses the retention', async () => {
      await seed.processed(1);
      clock.advance(31 * day);
      expect((await action('cleanup')).data).toMatchObject({ deleted: 1, olderThanDays: 30 });
    });

    it('auto-remediate reclaims, reports held-too-long, releases due failed, leaves dead and processed alone', async () => {
      const [expired, stuck] = await seed.record(2);
      await seed.claim([expired!], minute);
      await seed.claim([stuck!], 120 * minute);
      const dueFailed = await seed.failed(1);
      const dead = await seed.dead(1);
      const processed = await seed.processed(1);
      clock.advance(31 * minute);
      const before = await snapshot();
      const { data } = await action('auto-remediate');
      expect(data).toMatchObject({
        reclaimedLeases: { count: 1, eventIds: [expired] },
        heldTooLong: { count: 1 },
        releasedFailed: { count: 1, eventIds: dueFailed },
        requeuedDead: null,
        cleanedUp: { count: 0, olderThanDays: 30 },
      });
      expect(await snapshot()).toEqual({
        ...before,
        [expired!]: 'failed/1',
        // Still held by its worker: reported, never taken from it.
        [stuck!]: 'processing/1',
        [dueFailed[0]!]: 'failed/1', // released to the workers with its attempt count kept
      });
      expect(before[dead[0]!]).toBe('dead/1');
      expect(before[processed[0]!]).toBe('processed/1');
    });

    it('auto-remediate requeues dead events only with includeDead', async () => {
      const dead = await seed.dead(1);
      const { data } = await action('auto-remediate', { includeDead: true });
      expect(data.requeuedDead).toEqual({ count: 1 });
      expect(await snapshot()).toEqual({ [dead[0]!]: 'pending/0' });
    });

    it('retry-failed requeues failed events (of a source), and dead ones only with includeDead', async () => {
      const failed = await seed.failed(2);
      const otherSource = await seed.failed(1, { source: 'github' });
      const dead = await seed.dead(1);
      const processed = await seed.processed(1);
      const before = await snapshot();

      let body = await action('retry-failed', { source: 'stripe' });
      expect(body.data).toEqual({ requeued: 2, statuses: ['failed'] });
      expect(await snapshot()).toEqual({ ...before, [failed[0]!]: 'pending/0', [failed[1]!]: 'pending/0' });

      body = await action('retry-failed', { includeDead: true });
      expect(body.data).toEqual({ requeued: 2, statuses: ['failed', 'dead'] });
      const after = await snapshot();
      expect(after[otherSource[0]!]).toBe('pending/0');
      expect(after[dead[0]!]).toBe('pending/0');
      expect(after[processed[0]!]).toBe('processed/1');
    });

    it('retry-event requeues one event; refuses processing, and processed without force', async () => {
      const [failed, other] = await seed.failed(2);
      const processed = await seed.processed(1);
      const [busy] = await seed.record(1);
      await seed.claim([busy!]);
      const before = await snapshot();

      const body = await action('retry-event', { eventId: failed });
      expect(body.data).toEqual({ eventId: failed, previousStatus: 'failed', status: 'pending' });
      expect(await snapshot()).toEqual({ ...before, [failed!]: 'pending/0' });
      expect((await snapshot())[other!]).toBe('failed/1');

      const refuse = async (params: unknown, status: number, code: string) => {
        const response = await call(
          { method: 'POST', path: '/api/admin/webhooks/monitor', body: { action: 'retry-event', params } },
          adminToken,
        );
        expect(response.status).toBe(status);
        expect((await response.json()).error.code).toBe(code);
      };
      await refuse({ eventId: processed[0] }, 409, 'event_not_retryable');
      await refuse({ eventId: busy }, 409, 'event_not_retryable');
      await refuse({ eventId: '01UNKNOWN0000000000000000' }, 404, 'event_not_found');
      expect((await snapshot())[processed[0]!]).toBe('processed/1');

      await action('retry-event', { eventId: processed[0], force: true });
      expect((await snapshot())[processed[0]!]).toBe('pending/0');
    });

    it('mark-processed marks one event processed and records a manual attempt', async () => {
      const [target, other] = await seed.failed(2);
      const before = await snapshot();
      const { data } = await action('mark-processed', { eventId: target });
      expect(data).toEqual({ eventId: target, previousStatus: 'failed', changed: true });
      const after = await snapshot();
      expect(after[target!]).toMatch(/^processed\//);
      expect(after[other!]).toBe(before[other!]);
      expect((await store.listAttempts(target!)).at(-1)).toMatchObject({
        workerId: 'manual',
        outcome: 'processed',
      });
      expect((await action('mark-processed', { eventId: target })).data.changed).toBe(false);
    });

    it('delete-event deletes one event and nothing else', async () => {
      const [target, other] = await seed.processed(2);
      const { data } = await action('delete-event', { eventId: target });
      expect(data).toEqual({ eventId: target, deleted: true, previousStatus: 'processed' });
      expect(await snapshot()).toEqual({ [other!]: 'processed/1' });
      const response = await call(
        {
          method: 'POST',
          path: '/api/admin/webhooks/monitor',
          body: { action: 'delete-event', params: { eventId: target } },
        },
        adminToken,
      );
      expect(response.status).toBe(404);
    });

    it('find-duplicates reports same bodies under several keys and redeliveries, changing nothing', async () => {
      const body = stripeEventBody('evt_same');
      const sameBody = [];
      for (const key of ['evt_a', 'evt_b']) {
        const [result] = await store.recordEvents([
          {
            id: `01DUP${key.toUpperCase().replace('_', '')}0000000000000000`.slice(0, 26),
            source: 'stripe',
            provider: 'stripe',
            dedupeKey: key,
            eventType: 'invoice.paid',
            headers: {},
            body: Buffer.from(body),
            bodySha256: 'f'.repeat(64),
            receivedAt: clock.now(),
          },
        ]);
        sameBody.push(result!.id);
      }
      await seed.record(1, { key: 'evt_again' });
      const [redelivered] = await seed.record(1, { key: 'evt_again' });
      const before = await snapshot();

      const { data } = await action('find-duplicates');
      expect(data.sameBody).toEqual([
        expect.objectContaining({
          source: 'stripe',
          count: 2,
          dedupeKeys: expect.arrayContaining(['evt_a', 'evt_b']),
        }),
      ]);
      expect(data.sameBody[0].eventIds.sort()).toEqual(sameBody.sort());
      expect(data.redelivered).toEqual([expect.objectContaining({ id: redelivered, deliveryCount: 2 })]);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('REST endpoints', () => {
    it('lists events with filters and cursor pagination, newest first', async () => {
      const pending = await seed.record(3);
      clock.advance(minute);
      const failed = await seed.failed(2, { type: 'charge.failed' });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${cursor}` : '';
        const page = await json(
          call({ method: 'GET', path: `/api/admin/events?limit=2${query}` }, readToken),
        );
        expect(page.data.events.length).toBeLessThanOrEqual(2);
        seen.push(...page.data.events.map((e: { id: string }) => e.id));
        cursor = page.data.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...pending, ...failed].sort().reverse());

      const filtered = await json(
        call({ method: 'GET', path: '/api/admin/events?status=failed,dead&type=charge.failed' }, readToken),
      );
      expect(filtered.data.events.map((e: { id: string }) => e.id).sort()).toEqual([...failed].sort());
      expect(filtered.data.events[0]).toMatchObject({
        status: 'failed',
        receivedAt: expect.stringMatching(/Z$/),
      });

      const since = new Date(clock.now()).toISOString();
      const recent = await json(call({ method: 'GET', path: `/api/admin/events?since=${since}` }, readToken));
      expect(recent.data.events).toHaveLength(2);

      const bad = await json(
        call({ method: 'GET', path: '/api/admin/events?status=lost&since=yesterday' }, readToken),
        400,
      );
      expect(bad.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['since', 'status']);
    });

    it('shows one event with attempts, redacted headers and the body as received', async () => {
      const body = stripeEventBody('evt_detail');
      const at = Math.floor(clock.now() / 1000);
      const delivered = await (
        await hookbox.fetch(
          new Request('http://hookbox.test/webhooks/stripe', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'stripe-signature': signStripe(body, secret, at),
              'x-trace': 'abc',
            },
            body,
          }),
        )
      ).json();
      await seed.attempt([delivered.id], 'failed');
      const { data } = await json(
        call({ method: 'GET', path: `/api/admin/events/${delivered.id}` }, readToken),
      );
      expect(data).toMatchObject({
        id: delivered.id,
        dedupeKey: 'evt_detail',
        status: 'failed',
        body,
        bodyEncoding: 'utf8',
        attempts: [{ attemptNumber: 1, outcome: 'failed', error: 'handler exploded', durationMs: 40 }],
      });
      expect(data.headers['stripe-signature']).toBe('[redacted]');
      expect(data.headers['x-trace']).toBe('abc');
      expect(JSON.stringify(data)).not.toContain('v1=');

      const missing = await json(
        call({ method: 'GET', path: '/api/admin/events/01MISSING000000000000000' }, readToken),
        404,
      );
      expect(missing.error.code).toBe('event_not_found');
    });

    it('retries one event, bulk-retries by filter with a count, and deletes one', async () => {
      const [one, two] = await seed.dead(2);
      const failedGithub = await seed.failed(2, { source: 'github' });
      const processed = await seed.processed(1);

      const retried = await json(
        call({ method: 'POST', path: `/api/admin/events/${one}/retry` }, adminToken),
      );
      expect(retried.data).toEqual({ eventId: one, previousStatus: 'dead', status: 'pending' });

      const bulk = await json(
        call(
          { method: 'POST', path: '/api/admin/events/retry', body: { status: ['failed'], source: 'github' } },
          adminToken,
        ),
      );
      expect(bulk.data).toEqual({ count: 2 });
      const after = await snapshot();
      expect(after[failedGithub[0]!]).toBe('pending/0');
      expect(after[two!]).toBe('dead/1');
      expect(after[processed[0]!]).toBe('processed/1');

      const defaultBulk = await json(
        call({ method: 'POST', path: '/api/admin/events/retry', body: {} }, adminToken),
      );
      expect(defaultBulk.data).toEqual({ count: 0 });

      const deleted = await json(call({ method: 'DELETE', path: `/api/admin/events/${two}` }, adminToken));
      expect(deleted.data).toMatchObject({ eventId: two, deleted: true });
      expect(await store.getEvent(two!)).toBeNull();
    });

    it('reports statistics', async () => {
      const [oldest] = await seed.record(2);
      await seed.processed(1, { type: 'charge.succeeded' });
      clock.advance(5 * minute);
      const { data } = await json(call({ method: 'GET', path: '/api/admin/statistics' }, readToken));
      expect(data).toMatchObject({
        total: 3,
        byStatus: { pending: 2, processed: 1 },
        byType: { 'invoice.paid': 2, 'charge.succeeded': 1 },
        oldestPending: { id: oldest, ageMinutes: 5 },
      });
    });

    it('runs maintenance for an external scheduler with the cron secret, which opens nothing else', async () => {
      const old = await seed.processed(1);
      const dead = await seed.dead(1);
      clock.advance(31 * day);
      const body = await json(call({ method: 'POST', path: '/api/cron/webhook-maintenance' }, cronSecret));
      expect(body.data.cleanedUp).toEqual({ count: 1, olderThanDays: 30 });
      expect(body.data.requeuedDead).toBeNull();
      expect(await store.getEvent(old[0]!)).toBeNull();
      expect((await store.getEvent(dead[0]!))?.status).toBe('dead');

      expect((await call({ method: 'GET', path: '/api/admin/statistics' }, cronSecret)).status).toBe(403);
      expect((await call({ method: 'POST', path: '/api/cron/webhook-maintenance' }, readToken)).status).toBe(
        403,
      );
    });
  });

  describe('OpenAPI document', () => {
    it('is OpenAPI 3.1 with every route, generated from the validating schemas', async () => {
      const doc = await json(call({ method: 'GET', path: '/api/admin/openapi.json' }, readToken));
      expect(doc.openapi).toBe('3.1.0');
      const operations = Object.entries(
        doc.paths as Record<string, Record<string, { operationId: string }>>,
      ).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => `${method} ${path} ${op.operationId}`),
      );
      expect(operations.sort()).toEqual(
        Object.entries(adminOperations)
          .map(([id, spec]) => `${spec.method} ${spec.path.replace(/:(\w+)/g, '{$1}')} ${id}`)
          .sort(),
      );
      const monitorGet = doc.paths['/api/admin/webhooks/monitor'].get;
      const timeWindow = monitorGet.parameters.find((p: { name: string }) => p.name === 'timeWindow');
      expect(timeWindow).toMatchObject({
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 10080 },
      });
      const actionSchema =
        doc.paths['/api/admin/webhooks/monitor'].post.requestBody.content['application/json'].schema;
      const actions = (actionSchema.oneOf ?? actionSchema.anyOf).map(
        (variant: { properties: { action: { const: string } } }) => variant.properties.action.const,
      );
      expect(actions).toEqual([
        'cleanup',
        'auto-remediate',
        'retry-failed',
        'retry-event',
        'mark-processed',
        'delete-event',
        'find-duplicates',
      ]);
      expect(doc.paths['/api/admin/events/{id}'].get.parameters[0]).toMatchObject({
        name: 'id',
        in: 'path',
        required: true,
      });
      expect(doc.paths['/api/admin/webhooks/monitor'].post.responses['403']).toBeDefined();
      expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
      // Destinations: the 404 and 409 say what they mean on each route.
      const retry = doc.paths['/api/admin/deliveries/{id}/retry'].post;
      expect(retry.responses['404'].description).toBe('No delivery with this id.');
      expect(retry.responses['409']).toBeDefined();
      expect(retry.parameters[0]).toMatchObject({
        name: 'id',
        in: 'path',
        schema: { type: 'integer', minimum: 1 },
      });
      const pause = doc.paths['/api/admin/destinations/{source}/{name}/pause'].post;
      expect(pause.parameters.map((p: { name: string }) => p.name)).toEqual(['source', 'name']);
      expect(pause.responses['403']).toBeDefined();
      const listDeliveries = doc.paths['/api/admin/deliveries'].get;
      expect(listDeliveries.parameters.map((p: { name: string }) => p.name)).toEqual([
        'source',
        'destination',
        'status',
        'eventId',
        'limit',
        'cursor',
      ]);
      expect(doc.paths['/api/admin/events/{id}/replay'].post.requestBody.required).toBe(false);
    });
  });
});
