import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { autoRemediate } from '../../src/monitor/remediation.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { createSeeder } from './seed.ts';

const minute = 60_000;
const day = 24 * 60 * minute;

describe.each(engines)('auto-remediation on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let clock: ReturnType<typeof createManualClock>;
  let seed: ReturnType<typeof createSeeder>;
  const settings = {
    retryPolicy: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 60_000 },
    stuckAfterMinutes: 30,
    retentionDays: null,
  };
  // Jitter pinned: a reclaimed lease waits half its backoff ceiling.
  const random = () => 0.5;
  const statusOf = async (id: string) => (await store.getEvent(id))?.status ?? 'deleted';

  beforeEach(async () => {
    clock = createManualClock(Date.UTC(2026, 4, 1));
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    seed = createSeeder(store, clock.now);
  });
  afterEach(async () => {
    await cleanup();
  });

  it('changes nothing on a healthy store, and says so', async () => {
    await seed.processed(2);
    await seed.record(1);
    const report = await autoRemediate({ store, clock, random }, settings);
    expect(report).toMatchObject({
      reclaimedLeases: { count: 0, eventIds: [] },
      heldTooLong: { count: 0 },
      releasedFailed: { count: 0, eventIds: [] },
      requeuedDead: null,
      cleanedUp: null,
    });
  });

  it('reclaims an expired lease (keeping its attempt count, waiting its backoff) and nothing else', async () => {
    const [expired, held] = await seed.record(2);
    await seed.claim([expired!], minute);
    await seed.claim([held!], 60 * minute, 'other-worker');
    clock.advance(2 * minute);
    const report = await autoRemediate({ store, clock, random }, settings);
    expect(report.reclaimedLeases).toEqual({ count: 1, eventIds: [expired] });
    // Reclaimed like a failed attempt: its attempt counts towards dead and it waits its backoff
    // (half of the first retry's 10 s ceiling here), so it is not released yet either.
    expect(report.releasedFailed).toEqual({ count: 0, eventIds: [] });
    expect(await store.getEvent(expired!)).toMatchObject({
      status: 'failed',
      attempts: 1,
      nextAttemptAt: clock.now() + 5_000,
    });
    expect(await statusOf(held!)).toBe('processing');
  });

  it('reports events held past stuckAfterMinutes but never takes them from their holder', async () => {
    const [stuck, recent] = await seed.record(2);
    await seed.claim([stuck!], 120 * minute);
    clock.advance(20 * minute);
    await seed.claim([recent!], 120 * minute);
    clock.advance(11 * minute);
    const report = await autoRemediate({ store, clock, random }, settings);
    expect(report.heldTooLong).toEqual({ count: 1, stuckAfterMinutes: 30 });
    // Its holder still runs the handler: a second run beside it is what the lease prevents.
    expect(await store.getEvent(stuck!)).toMatchObject({ status: 'processing', lockedBy: 'seed-worker' });
    expect(await statusOf(recent!)).toBe('processing');
  });

  it('releases failed events whose backoff has passed, not those still waiting', async () => {
    const due = await seed.record(1);
    await seed.attempt(due, 'failed', 40, minute);
    const waiting = await seed.record(1);
    await seed.attempt(waiting, 'failed', 40, 60 * minute);
    clock.advance(2 * minute);
    let woken = 0;
    const report = await autoRemediate({ store, clock, random, wake: () => woken++ }, settings);
    expect(report.releasedFailed).toEqual({ count: 1, eventIds: due });
    expect(woken).toBe(1);
    // Released to the workers, not given a new retry budget: the attempt count still leads to dead.
    expect(await store.getEvent(due[0]!)).toMatchObject({ status: 'failed', attempts: 1 });
    expect((await store.claimEvents({ workerId: 'w', limit: 10, leaseMs: 1000 })).map((e) => e.id)).toEqual(
      due,
    );
    expect(await store.getEvent(waiting[0]!)).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('never touches dead events unless asked', async () => {
    const dead = await seed.dead(2);
    let report = await autoRemediate({ store, clock, random }, settings);
    expect(report.requeuedDead).toBeNull();
    expect(await statusOf(dead[0]!)).toBe('dead');

    report = await autoRemediate({ store, clock, random }, { ...settings, includeDead: true });
    expect(report.requeuedDead).toEqual({ count: 2 });
    expect(await statusOf(dead[0]!)).toBe('pending');
    expect(await statusOf(dead[1]!)).toBe('pending');
  });

  it('deletes processed events past retention, keeping newer and unprocessed ones', async () => {
    const old = await seed.processed(3);
    const oldFailed = await seed.failed(1);
    const oldDead = await seed.dead(1);
    clock.advance(31 * day);
    const recent = await seed.processed(1);
    const report = await autoRemediate(
      { store, clock, random },
      { ...settings, retentionDays: 30, releaseDueFailed: false },
    );
    expect(report.cleanedUp).toEqual({ count: 3, olderThanDays: 30 });
    for (const id of old) expect(await statusOf(id)).toBe('deleted');
    expect(await statusOf(recent[0]!)).toBe('processed');
    expect(await statusOf(oldFailed[0]!)).toBe('failed');
    expect(await statusOf(oldDead[0]!)).toBe('dead');
  });
});
