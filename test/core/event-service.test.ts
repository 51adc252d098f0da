import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createEventService, type EventService } from '../../src/events/event-service.ts';
import type { Store } from '../../src/store/types.ts';
import { defaultRetryPolicy } from '../../src/worker/retry-policy.ts';
import { createTestStore, engines } from '../support/stores.ts';

const day = 24 * 60 * 60 * 1000;

// The original design's integration cases, on both engines.
describe.each(engines)('event service on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let events: EventService;
  const clock = createManualClock(Date.UTC(2026, 5, 1));

  beforeEach(async () => {
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    events = createEventService({
      store,
      clock,
      random: () => 0.5,
      retryPolicy: defaultRetryPolicy,
      decodePayload: (event) => JSON.parse(event.body.toString()),
    });
  });
  afterEach(async () => cleanup());

  const record = (dedupeKey: string, overrides: Partial<Parameters<EventService['recordEvent']>[0]> = {}) =>
    events.recordEvent({
      source: 'stripe',
      provider: 'stripe',
      dedupeKey,
      eventType: 'payment_intent.succeeded',
      body: JSON.stringify({ id: dedupeKey }),
      ...overrides,
    });

  it('records a new event', async () => {
    const result = await record('evt_1');
    expect(result.outcome).toBe('new');
    const stored = await events.getEvent(result.id);
    expect(stored?.event).toMatchObject({
      dedupeKey: 'evt_1',
      status: 'pending',
      deliveryCount: 1,
      attempts: 0,
    });
    expect(stored?.event.body.toString()).toBe('{"id":"evt_1"}');
  });

  it('detects a duplicate, and reports an already processed one', async () => {
    const first = await record('evt_dup');
    const second = await record('evt_dup');
    expect(second).toEqual({ id: first.id, outcome: 'duplicate' });
    await events.markProcessed(first.id);
    const third = await record('evt_dup');
    expect(third).toEqual({ id: first.id, outcome: 'already_processed' });
    expect((await events.getEvent(first.id))?.event.deliveryCount).toBe(3);
  });

  it('detects a replayed processed event and does not reset it', async () => {
    const { id } = await record('evt_replay');
    await events.markProcessed(id);
    const replay = await record('evt_replay');
    expect(replay.outcome).toBe('already_processed');
    expect((await events.getEvent(id))?.event.status).toBe('processed');
  });

  it('marks processed, and does not update an already processed event', async () => {
    const { id } = await record('evt_mp');
    expect(await events.markProcessed(id)).toBe(true);
    const once = (await events.getEvent(id))!.event;
    expect(once.status).toBe('processed');
    expect(once.processedAt).toBe(clock.now());
    clock.advance(1000);
    expect(await events.markProcessed(id)).toBe(false);
    const twice = (await events.getEvent(id))!.event;
    expect(twice.updatedAt).toBe(once.updatedAt);
    expect(twice.processedAt).toBe(once.processedAt);
  });

  it('marking failed increments attempts and keeps the error', async () => {
    const { id } = await record('evt_fail');
    await events.markFailed(id, 'boom 1');
    await events.markFailed(id, 'boom 2');
    const event = (await events.getEvent(id))!.event;
    expect(event).toMatchObject({ attempts: 2, status: 'failed', lastError: 'boom 2' });
    expect(event.nextAttemptAt).toBeGreaterThan(clock.now());
  });

  it('checks whether an event is processed', async () => {
    const { id } = await record('evt_is');
    expect(await events.isProcessed('stripe', 'evt_is')).toBe(false);
    await events.markProcessed(id);
    expect(await events.isProcessed('stripe', 'evt_is')).toBe(true);
    expect(await events.isProcessed('stripe', 'evt_absent')).toBe(false);
  });

  it('filters by provider and by processed status', async () => {
    const a = await record('evt_a');
    await record('evt_b', { provider: 'paypal', source: 'paypal' });
    await events.markProcessed(a.id);
    const stripeOnly = await events.listEvents({ limit: 10, provider: 'stripe' });
    expect(stripeOnly.events.map((e) => e.dedupeKey)).toEqual(['evt_a']);
    const processed = await events.listEvents({ limit: 10, status: 'processed' });
    expect(processed.events.map((e) => e.id)).toEqual([a.id]);
    const pending = await events.listEvents({ limit: 10, status: 'pending' });
    expect(pending.events.map((e) => e.dedupeKey)).toEqual(['evt_b']);
  });

  it('lists failed events due for retry', async () => {
    const { id } = await record('evt_retryable');
    await record('evt_other');
    await events.markFailed(id, 'temporary');
    expect(await events.getFailedEventsForRetry()).toEqual([]);
    clock.advance(defaultRetryPolicy.maxDelayMs);
    expect((await events.getFailedEventsForRetry()).map((e) => e.id)).toEqual([id]);
  });

  it('gets an event by id with its attempts, and null for an unknown id', async () => {
    const { id } = await record('evt_get');
    await events.markFailed(id, 'first try failed');
    const found = await events.getEvent(id);
    expect(found?.event.id).toBe(id);
    expect(found?.attempts).toHaveLength(1);
    expect(found?.attempts[0]).toMatchObject({ outcome: 'failed', error: 'first try failed' });
    expect(await events.getEvent('01NOPE00000000000000000000')).toBeNull();
  });

  it('retries a failed event successfully', async () => {
    const { id } = await record('evt_retry_ok');
    await events.markFailed(id, 'temporary');
    const seen: string[] = [];
    const outcome = await events.retryEvent(id, (event, payload) => {
      seen.push((payload as { id: string }).id, event.id);
    });
    expect(outcome.success).toBe(true);
    expect(seen).toEqual(['evt_retry_ok', id]);
    expect(outcome.event?.status).toBe('processed');
  });

  it('records the error of a failing retry', async () => {
    const { id } = await record('evt_retry_bad');
    await events.markFailed(id, 'first');
    const outcome = await events.retryEvent(id, () => {
      throw new Error('still broken');
    });
    expect(outcome).toMatchObject({ success: false, error: 'still broken' });
    expect(outcome.event).toMatchObject({ status: 'failed', lastError: 'still broken', attempts: 2 });
    const attempts = (await events.getEvent(id))!.attempts;
    expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed']);
  });

  it('keeps renewing the lease of a retry while its handler runs past it', async () => {
    const renewing = createEventService({
      store,
      clock,
      random: () => 0.5,
      retryPolicy: defaultRetryPolicy,
      decodePayload: (event) => JSON.parse(event.body.toString()),
      retryLeaseMs: 300,
    });
    const { id } = await record('evt_retry_long');
    await events.markFailed(id, 'first');
    const expiredSeen: number[] = [];
    const outcome = await renewing.retryEvent(id, async () => {
      // Five lease lengths of store time pass while the handler runs; renewals keep up.
      for (let i = 0; i < 5; i++) {
        clock.advance(150);
        await new Promise((resolve) => setTimeout(resolve, 250));
        expiredSeen.push((await store.findExpiredLeases(10)).length);
      }
    });
    expect(outcome.success).toBe(true);
    expect(expiredSeen).toEqual([0, 0, 0, 0, 0]);
    expect((await store.getEvent(id))?.status).toBe('processed');
  });

  it('does not retry a processed event', async () => {
    const { id } = await record('evt_done');
    await events.markProcessed(id);
    let ran = false;
    const outcome = await events.retryEvent(id, () => {
      ran = true;
    });
    expect(outcome).toMatchObject({ success: false, error: 'event already processed' });
    expect(ran).toBe(false);
  });

  it('gives statistics by provider, type and status, and the oldest pending event', async () => {
    const first = await record('evt_s1');
    clock.advance(1000);
    const second = await record('evt_s2', { eventType: 'charge.refunded' });
    clock.advance(1000);
    await record('evt_s3', { provider: 'paypal', source: 'paypal', eventType: 'PAYMENT.SALE.COMPLETED' });
    await events.markProcessed(first.id);
    const stats = await events.getStatistics();
    expect(stats.total).toBe(3);
    expect(stats.byStatus).toMatchObject({ processed: 1, pending: 2, failed: 0, dead: 0 });
    expect(stats.byProvider).toEqual({ stripe: 2, paypal: 1 });
    expect(stats.byType).toEqual({
      'payment_intent.succeeded': 1,
      'charge.refunded': 1,
      'PAYMENT.SALE.COMPLETED': 1,
    });
    expect(stats.oldestPending?.id).toBe(second.id);
  });

  it('cleans up processed events older than N days only', async () => {
    const old = await record('evt_old');
    await events.markProcessed(old.id);
    const oldPending = await record('evt_old_pending');
    clock.advance(31 * day);
    const recent = await record('evt_recent');
    await events.markProcessed(recent.id);
    expect(await events.cleanupOldEvents(30)).toBe(1);
    expect(await events.getEvent(old.id)).toBeNull();
    expect(await events.getEvent(oldPending.id)).not.toBeNull();
    expect(await events.getEvent(recent.id)).not.toBeNull();
  });

  it('deletes an event', async () => {
    const { id } = await record('evt_del');
    expect(await events.deleteEvent(id)).toBe(true);
    expect(await events.getEvent(id)).toBeNull();
    expect(await events.deleteEvent(id)).toBe(false);
  });

  it('bulk marks events processed', async () => {
    const a = await record('evt_b1');
    const b = await record('evt_b2');
    const c = await record('evt_b3');
    await events.markProcessed(c.id);
    expect(await events.bulkMarkProcessed([a.id, b.id, c.id])).toBe(2);
    expect(await events.countEvents({ status: 'processed' })).toBe(3);
  });

  it('finds no duplicates in a clean data set, and finds them when present', async () => {
    await record('evt_u1', { body: '{"n":1}' });
    await record('evt_u2', { body: '{"n":2}' });
    expect(await events.findDuplicates()).toEqual([]);
    const copy = await record('evt_u3', { body: '{"n":1}' });
    const groups = await events.findDuplicates();
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ source: 'stripe', count: 2 });
    expect(groups[0]!.dedupeKeys.sort()).toEqual(['evt_u1', 'evt_u3']);
    expect(groups[0]!.eventIds).toContain(copy.id);
  });
});
