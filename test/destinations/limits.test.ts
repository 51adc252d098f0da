import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createDeliveryLimits } from '../../src/destinations/limits.ts';
import { createManualTimers, flushMicrotasks } from './helpers.ts';

/** A task the test finishes by hand, recording when it started. */
function createGate() {
  let open!: () => void;
  const done = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { done, open };
}

describe('createDeliveryLimits', () => {
  it('runs at most `concurrency` tasks at once; the rest wait in order and all complete', async () => {
    const limits = createDeliveryLimits({ concurrency: 2 });
    const gates = [createGate(), createGate(), createGate(), createGate()];
    const started: number[] = [];
    const results = gates.map((gate, index) =>
      limits.run(async () => {
        started.push(index);
        await gate.done;
        return index;
      }),
    );
    await flushMicrotasks();
    expect(started).toEqual([0, 1]);
    expect([limits.running, limits.waiting]).toEqual([2, 2]);

    gates[1]?.open();
    await flushMicrotasks();
    expect(started).toEqual([0, 1, 2]);
    for (const gate of gates) gate.open();
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3]);
    expect([limits.running, limits.waiting]).toEqual([0, 0]);
  });

  it('frees the slot of a task that fails or throws synchronously', async () => {
    const limits = createDeliveryLimits({ concurrency: 1 });
    const failing = limits.run(() => Promise.reject(new Error('boom')));
    const throwing = limits.run(() => {
      throw new Error('sync boom');
    });
    const next = limits.run(async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(throwing).rejects.toThrow('sync boom');
    expect(await next).toBe('ran');
  });

  it('spaces starts by the rate: excess waits instead of failing', async () => {
    const clock = createManualClock(0);
    const timers = createManualTimers(clock);
    const limits = createDeliveryLimits({ concurrency: 100, ratePerSecond: 2, clock, timers });
    const startedAt: number[] = [];
    const results = Array.from({ length: 5 }, (_, index) =>
      limits.run(async () => {
        startedAt.push(clock.now());
        return index;
      }),
    );
    await flushMicrotasks();
    expect(startedAt).toEqual([0]);
    expect(limits.waiting).toBe(4);

    await timers.advance(2000);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
    expect(startedAt).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it('refills while idle, up to the small burst, not a whole second of tokens', async () => {
    const clock = createManualClock(0);
    const timers = createManualTimers(clock);
    const limits = createDeliveryLimits({ concurrency: 100, ratePerSecond: 500, clock, timers });
    await timers.advance(60_000);
    const startedAt: number[] = [];
    const results = Array.from({ length: 30 }, () => limits.run(async () => startedAt.push(clock.now())));
    await flushMicrotasks();
    // 500/s holds 20 ms of tokens: 10 at once, then one every 2 ms.
    expect(startedAt).toHaveLength(10);
    await timers.advance(40);
    await Promise.all(results);
    expect(startedAt).toHaveLength(30);
    expect(startedAt.at(-1)).toBe(60_000 + 40);
  });

  it('keeps arrival order when both limits apply', async () => {
    const clock = createManualClock(0);
    const timers = createManualTimers(clock);
    const limits = createDeliveryLimits({ concurrency: 1, ratePerSecond: 10, clock, timers });
    const order: number[] = [];
    const gates = [createGate(), createGate(), createGate()];
    const results = gates.map((gate, index) =>
      limits.run(async () => {
        order.push(index);
        await gate.done;
      }),
    );
    await flushMicrotasks();
    gates[0]?.open();
    await flushMicrotasks();
    // The slot is free, but the next token is 100 ms away.
    expect(order).toEqual([0]);
    await timers.advance(100);
    expect(order).toEqual([0, 1]);
    for (const gate of gates) gate.open();
    await timers.advance(100);
    await Promise.all(results);
    expect(order).toEqual([0, 1, 2]);
  });

  it('takes an aborted waiter out of the queue without running it', async () => {
    const limits = createDeliveryLimits({ concurrency: 1 });
    const gate = createGate();
    const ran: string[] = [];
    const first = limits.run(async () => {
      ran.push('first');
      await gate.done;
    });
    const controller = new AbortController();
    const second = limits.run(async () => ran.push('second'), { signal: controller.signal });
    const third = limits.run(async () => ran.push('third'));
    await flushMicrotasks();
    controller.abort(new Error('shutting down'));
    await expect(second).rejects.toThrow('shutting down');
    expect(limits.waiting).toBe(1);
    gate.open();
    await Promise.all([first, third]);
    expect(ran).toEqual(['first', 'third']);
    await expect(limits.run(async () => 1, { signal: controller.signal })).rejects.toThrow('shutting down');
  });
});
