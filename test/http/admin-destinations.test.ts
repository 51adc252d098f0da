import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { createSeeder } from '../monitor/seed.ts';
import { createDeliverySeeder } from '../support/delivery-seed.ts';
import { createTestStore, engines } from '../support/stores.ts';

const adminToken = 'admin-token-0123456789abcdef';
const readToken = 'read-only-token-0123456789';
const signingSecret = `whsec_${Buffer.from('a-destination-secret-0123456789ab').toString('base64')}`;
const headerValue = 'Bearer header-credential-do-not-show';

describe.each(engines)('admin API: destinations and deliveries on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  let clock: ReturnType<typeof createManualClock>;
  let seed: ReturnType<typeof createSeeder>;
  let deliveries: ReturnType<typeof createDeliverySeeder>;

  beforeEach(async () => {
    clock = createManualClock(Date.UTC(2026, 5, 1, 12));
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    seed = createSeeder(store, clock.now);
    deliveries = createDeliverySeeder(store, clock.now);
    const destination = (name: string) => ({
      name,
      url: `http://127.0.0.1:9/${name}`,
      signingSecret,
      headers: { authorization: headerValue, 'x-team': 'payments' },
      allowPrivateNetwork: true,
    });
    hookbox = createHookbox({
      store,
      clock,
      sources: {
        stripe: {
          provider: 'stripe',
          secrets: ['whsec_x'],
          destinations: [destination('billing'), destination('crm')],
        },
      },
      worker: { enabled: false },
      admin: { token: adminToken, readOnlyTokens: [readToken] },
      monitor: { metrics: { processMetrics: false } },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  async function call(method: string, path: string, body?: unknown, token = adminToken) {
    const response = await hookbox.fetch(
      new Request(`http://hookbox.test${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: response.status, body: await response.json(), text: '' };
  }

  it('lists destinations with state, success rate and backlog, never a secret or a header value', async () => {
    const ids = await seed.record(4);
    for (const id of ids) await deliveries.create(id, 'billing');
    await deliveries.attempt('stripe', 'billing', 'succeeded', { limit: 1 });
    await deliveries.attempt('stripe', 'billing', 'dead', { limit: 1 });
    const { status, body } = await call('GET', '/api/admin/destinations', undefined, readToken);
    expect(status).toBe(200);
    const text = JSON.stringify(body);
    expect(text).not.toContain(signingSecret);
    expect(text).not.toContain(headerValue);
    expect(text).not.toContain('payments');
    const [billing, crm] = body.data.destinations;
    expect(billing).toMatchObject({
      source: 'stripe',
      name: 'billing',
      state: 'active',
      backlog: 2,
      recentSuccessRate: 50,
      headerNames: ['authorization', 'x-team'],
      deliveries: { pending: 2, succeeded: 1, dead: 1 },
    });
    expect(crm).toMatchObject({ name: 'crm', backlog: 0, recentSuccessRate: null });
  });

  it('pauses, resumes and enables, answering 409 for the wrong state and 404 for an unknown one', async () => {
    const base = '/api/admin/destinations/stripe/billing';
    let reply = await call('POST', `${base}/pause`, { reason: 'deploying v2' });
    expect(reply.status).toBe(200);
    expect(reply.body.data).toMatchObject({ state: 'paused', stateReason: 'deploying v2' });
    expect(JSON.stringify(reply.body)).not.toContain(signingSecret);

    reply = await call('POST', `${base}/resume`);
    expect(reply.body.data.state).toBe('active');
    reply = await call('POST', `${base}/resume`);
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('destination_state_conflict');
    reply = await call('POST', `${base}/enable`);
    expect(reply.status).toBe(409);

    await store.setDestinationState('stripe', 'billing', 'disabled', 'answered 410 Gone');
    reply = await call('POST', `${base}/pause`);
    expect(reply.status).toBe(409);
    expect(reply.body.error.message).toMatch(/enable it/);
    reply = await call('POST', `${base}/enable`);
    expect(reply.body.data.state).toBe('active');

    reply = await call('POST', '/api/admin/destinations/stripe/nowhere/pause');
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('destination_not_found');
    reply = await call('POST', `${base}/pause`, undefined, readToken);
    expect(reply.status).toBe(403);
    expect((await hookbox.destinations.listDestinations())[0]!.state).toBe('active');
  });

  it('lists deliveries with filters and a cursor, shows one with its attempts, retries a dead one', async () => {
    const ids = await seed.record(3);
    for (const id of ids) {
      await deliveries.create(id, 'billing');
      await deliveries.create(id, 'crm');
    }
    await deliveries.attempt('stripe', 'crm', 'dead', { statusCode: 502 });

    let reply = await call(
      'GET',
      '/api/admin/deliveries?destination=crm&status=dead&limit=2',
      undefined,
      readToken,
    );
    expect(reply.body.data.deliveries.map((d: { status: string }) => d.status)).toEqual(['dead', 'dead']);
    const next = reply.body.data.nextCursor;
    expect(next).toMatch(/^\d+$/);
    reply = await call('GET', `/api/admin/deliveries?destination=crm&status=dead&cursor=${next}`);
    expect(reply.body.data.deliveries).toHaveLength(1);
    expect(reply.body.data.nextCursor).toBeNull();
    reply = await call('GET', `/api/admin/deliveries?eventId=${ids[0]}`);
    expect(reply.body.data.deliveries.map((d: { destination: string }) => d.destination).sort()).toEqual([
      'billing',
      'crm',
    ]);

    const [dead] = (await hookbox.destinations.listDeliveries({ destination: 'crm' })).deliveries;
    reply = await call('GET', `/api/admin/deliveries/${dead!.id}`, undefined, readToken);
    expect(reply.body.data.delivery).toMatchObject({ id: dead!.id, status: 'dead', lastStatusCode: 502 });
    expect(reply.body.data.attempts).toEqual([
      expect.objectContaining({
        attemptNumber: 1,
        outcome: 'dead',
        statusCode: 502,
        responseExcerpt: 'upstream exploded',
        responseExcerptEncoding: 'utf8',
      }),
    ]);

    reply = await call('POST', `/api/admin/deliveries/${dead!.id}/retry`);
    expect(reply.status).toBe(200);
    expect(reply.body.data).toMatchObject({ id: dead!.id, status: 'pending', attempts: 0 });
    reply = await call('POST', `/api/admin/deliveries/${dead!.id}/retry`);
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('delivery_not_retryable');
    reply = await call('POST', '/api/admin/deliveries/987654/retry');
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('delivery_not_found');
    reply = await call('GET', '/api/admin/deliveries/987654');
    expect(reply.status).toBe(404);
  });

  it('replays an event to one destination or all; unknown events and destinations are 404', async () => {
    const [id] = await seed.record(1);
    let reply = await call('POST', `/api/admin/events/${id}/replay`, { destination: 'crm' });
    expect(reply.status).toBe(200);
    expect(reply.body.data.deliveries.map((d: { destination: string }) => d.destination)).toEqual(['crm']);
    reply = await call('POST', `/api/admin/events/${id}/replay`);
    expect(reply.body.data.deliveries.map((d: { destination: string }) => d.destination).sort()).toEqual([
      'billing',
      'crm',
    ]);
    reply = await call('POST', `/api/admin/events/${id}/replay`, { destination: 'nowhere' });
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('destination_not_found');
    reply = await call('POST', '/api/admin/events/01KC4Z7QW5X8J9R2T6Y3M0N1PA/replay');
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('event_not_found');
  });

  it('refuses malformed input with 400 naming the field, changing nothing', async () => {
    const [id] = await seed.record(1);
    const cases: [string, string, unknown, string][] = [
      ['GET', '/api/admin/deliveries?limit=501', undefined, 'limit'],
      ['GET', '/api/admin/deliveries?cursor=abc', undefined, 'cursor'],
      ['GET', '/api/admin/deliveries?eventId=no%20way', undefined, 'eventId'],
      ['GET', '/api/admin/deliveries?colour=red', undefined, 'colour'],
      ['GET', '/api/admin/deliveries/x', undefined, 'id'],
      ['POST', '/api/admin/destinations/stripe/billing/pause', { reason: '' }, 'reason'],
      ['POST', '/api/admin/destinations/stripe/billing/pause', { why: 'x' }, 'why'],
      ['POST', `/api/admin/events/${id}/replay`, { destination: 5 }, 'destination'],
      ['POST', `/api/admin/events/${id}/replay`, { destinations: ['crm'] }, 'destinations'],
    ];
    for (const [method, path, body, field] of cases) {
      const reply = await call(method, path, body);
      expect(reply.status, `${method} ${path}`).toBe(400);
      expect(reply.body.error.code).toBe('invalid_input');
      expect(reply.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
    }
    expect((await hookbox.destinations.listDeliveries()).deliveries).toEqual([]);
    expect((await hookbox.destinations.listDestinations()).map((d) => d.state)).toEqual(['active', 'active']);
  });
});
