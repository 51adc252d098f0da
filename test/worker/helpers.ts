import { Writable } from 'node:stream';
import { type Clock, systemClock } from '../../src/clock.ts';
import { createEventId } from '../../src/ids.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import type { EventOrdering } from '../../src/ordering/key.ts';
import type { IngestStore, WorkerStore } from '../../src/store/types.ts';
import type { HandlerContext } from '../../src/worker/handler-registry.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { Worker, type WorkerOptions } from '../../src/worker/worker.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

/** Record one event the way ingest does (ordered under a key with `ordering`); returns its id. */
export async function recordEvent(
  store: IngestStore,
  dedupeKey: string,
  options: { clock?: Clock; source?: string; eventType?: string; ordering?: EventOrdering } = {},
): Promise<string> {
  const now = (options.clock ?? systemClock).now();
  const eventType = options.eventType ?? 'invoice.paid';
  const body = Buffer.from(JSON.stringify({ id: dedupeKey, type: eventType }));
  const [result] = await store.recordEvents([
    {
      id: createEventId(now),
      source: options.source ?? 'stripe',
      provider: 'stripe',
      dedupeKey,
      eventType,
      headers: {},
      body,
      bodySha256: dedupeKey,
      receivedAt: now,
      ...(options.ordering ? { ordering: options.ordering } : {}),
    },
  ]);
  return result!.id;
}

/** A clock that runs with real time and jumps forward when told (leases expire on cue). */
export function createOffsetClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** Poll `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(everyMs);
  }
}

/** Resolves when the signal fires: a handler that honours it. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** POST one signed Stripe delivery to a Hookbox's fetch (no socket). */
export function deliverStripe(
  target: { fetch(request: Request): Promise<Response> },
  secret: string,
  eventId: string,
  clock: Clock = systemClock,
): Promise<Response> {
  const body = stripeEventBody(eventId);
  return target.fetch(
    new Request('http://hookbox.test/webhooks/stripe', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(clock.now() / 1000)),
      },
      body,
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A logger whose JSON lines the test can read (warnings about stale verdicts, lost leases...). */
export function createCapturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines: () => lines };
}

/** One run of a handler for one event, in performance.now() time (one process). */
export interface Run {
  eventId: string;
  workerId: string;
  attempt: number;
  start: number;
  end: number | null;
  /** When the run's signal fired, and why (the AttemptAborted reason), if it did. */
  abortedAt: number | null;
  abortReason: string | null;
  /** Set by the handler: this run carries on past its signal (the handler does not honour it). */
  ignoresSignal: boolean;
}

/** Every run's start and end, to check that no two runs of one event overlap. */
export class RunLog {
  readonly runs: Run[] = [];

  /** Wrap a handler body so its runs are logged; `workerId` says which worker ran it. */
  track(workerId: string, body: (context: HandlerContext, run: Run) => Promise<void> | void) {
    return async (context: HandlerContext): Promise<void> => {
      const run: Run = {
        eventId: context.event.id,
        workerId,
        attempt: context.attempt,
        start: performance.now(),
        end: null,
        abortedAt: null,
        abortReason: null,
        ignoresSignal: false,
      };
      this.runs.push(run);
      context.signal.addEventListener('abort', () => {
        run.abortedAt = performance.now();
        run.abortReason = String((context.signal.reason as { reason?: unknown })?.reason ?? 'unknown');
      });
      try {
        await body(context, run);
      } finally {
        run.end = performance.now();
      }
    };
  }

  of(eventId: string): Run[] {
    return this.runs.filter((r) => r.eventId === eventId).sort((a, b) => a.start - b.start);
  }

  running(eventId: string): Run[] {
    return this.runs.filter((r) => r.eventId === eventId && r.end === null);
  }

  /** Pairs of runs of one event where the later started before the earlier ended. */
  overlaps(): [Run, Run][] {
    const found: [Run, Run][] = [];
    const byEvent = new Map<string, Run[]>();
    for (const run of this.runs) byEvent.set(run.eventId, [...(byEvent.get(run.eventId) ?? []), run]);
    for (const runs of byEvent.values()) {
      const ordered = runs.sort((a, b) => a.start - b.start);
      for (let i = 0; i < ordered.length; i++) {
        for (let j = i + 1; j < ordered.length; j++) {
          const earlier = ordered[i]!;
          if (earlier.end === null || ordered[j]!.start < earlier.end) found.push([earlier, ordered[j]!]);
        }
      }
    }
    return found;
  }
}

export type TestWorkerOptions = Partial<WorkerOptions> & { store: WorkerStore };

/** A Worker with test defaults: short leases, fast polling, a retry policy that never gives up quickly. */
export function createTestWorker(options: TestWorkerOptions & { handlers?: HandlerRegistry }): Worker {
  return new Worker({
    handlers: options.handlers ?? new HandlerRegistry(),
    clock: systemClock,
    random: () => 0,
    logger: createLogger({ level: 'silent' }),
    retryPolicy: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 100 },
    decodePayload: (event) => JSON.parse(event.body.toString()),
    leaseMs: 1_000,
    pollIntervalMs: 25,
    handlerTimeoutMs: 60_000,
    ...options,
  });
}
