import type { InlineOutcome } from '../ingest/receive.ts';
import type { EventQueryStore, WorkerStore } from '../store/types.ts';
import type { Worker } from './worker.ts';

export interface InlineRunnerOptions {
  store: Pick<WorkerStore, 'claimEventById'> & Pick<EventQueryStore, 'getEvent'>;
  worker: Worker;
  /** How long to wait for another worker's run of the event before answering "busy". */
  waitMs: number;
  /** How often to look at that run meanwhile. */
  pollMs?: number;
}

/**
 * Sync mode: run a just-recorded event's handlers inside the request, under the same claim,
 * lease and fencing rules as the background worker. Only a pending event, or a failed one whose
 * backoff has passed, is claimed: a provider's retry never skips Hookbox's backoff. Dead and
 * finished events are reported as they are.
 */
export function createInlineRunner(options: InlineRunnerOptions) {
  const { store, worker } = options;
  const pollMs = options.pollMs ?? 50;

  async function report(eventId: string): Promise<InlineOutcome | null> {
    const event = await store.getEvent(eventId);
    if (!event) return { outcome: 'failed', error: 'event deleted' };
    if (event.status === 'processed' || event.status === 'ignored') return { outcome: event.status };
    // Destinations: its handlers succeeded; the deliveries are the delivery worker's business.
    if (event.status === 'delivering') return { outcome: 'processed' };
    if (event.status === 'dead') return { outcome: 'dead', error: event.lastError ?? 'handler failed' };
    if (event.status === 'failed') {
      return {
        outcome: 'failed',
        error: event.lastError ?? 'handler failed',
        ...(event.nextAttemptAt === null ? {} : { nextAttemptAt: event.nextAttemptAt }),
      };
    }
    return null;
  }

  /** Another worker holds the event: report its outcome if it finishes within `waitMs`. */
  async function waitForOutcome(eventId: string): Promise<InlineOutcome> {
    const deadline = performance.now() + options.waitMs;
    while (performance.now() < deadline) {
      const settled = await report(eventId);
      if (settled) return settled;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return { outcome: 'busy' };
  }

  return async function runInline(eventId: string, payload: unknown): Promise<InlineOutcome> {
    const sentAt = performance.now();
    const claimed = await store.claimEventById(eventId, {
      workerId: worker.workerId,
      leaseMs: worker.leaseMs,
    });
    if (!claimed) return (await report(eventId)) ?? waitForOutcome(eventId);
    const summary = await worker.processClaimed(claimed, payload, sentAt);
    if (summary.outcome === 'processed' || summary.outcome === 'ignored') return { outcome: summary.outcome };
    if (summary.outcome === 'dead') return { outcome: 'dead', error: summary.error };
    if (summary.outcome === 'failed')
      return (await report(eventId)) ?? { outcome: 'failed', error: summary.error };
    // Released without running: an open circuit breaker (or shutdown) deferred it.
    if (summary.outcome === 'released')
      return { outcome: 'deferred', error: summary.error ?? 'the worker is shutting down' };
    return { outcome: 'busy' };
  };
}
