import type { Clock, Random } from '../clock.ts';
import { HookboxError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { BlockedKey, DuplicateBodyGroup, EventStatus, EventSummary, Store } from '../store/types.ts';
import type { HealthMonitor } from './health-monitor.ts';
import { autoRemediate, type RemediationReport, type RemediationSettings } from './remediation.ts';

export interface AdminActionsOptions {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  health: HealthMonitor;
  remediation: Omit<RemediationSettings, 'includeDead'>;
  /** Ask the in-process worker to look for work now (after a requeue). */
  wake?: () => void;
}

const dayMs = 24 * 60 * 60_000;

/**
 * The seven monitor actions of the original design, plus maintenance, over the Store port.
 * The admin API and the CLI both go through these, so each says exactly what it changed.
 */
export function createAdminActions(options: AdminActionsOptions) {
  const { store, clock, logger, health } = options;

  /** After a change, cached health reports describe the past. */
  function changed(requeued = false): void {
    health.invalidate();
    if (requeued) options.wake?.();
  }

  async function requireEvent(eventId: string) {
    const event = await store.getEvent(eventId);
    if (!event)
      throw new HookboxError(
        'event_not_found',
        `no event with id ${eventId}; list events with GET /api/admin/events`,
      );
    return event;
  }

  return {
    /** Delete processed (and ignored) events processed more than `olderThanDays` days ago. */
    async cleanup(params: {
      olderThanDays: number;
    }): Promise<{ deleted: number; olderThanDays: number; before: string }> {
      const before = clock.now() - params.olderThanDays * dayMs;
      const deleted = await store.deleteProcessedBefore(before);
      changed();
      logger.info({ deleted, olderThanDays: params.olderThanDays }, 'cleanup deleted processed events');
      return { deleted, olderThanDays: params.olderThanDays, before: new Date(before).toISOString() };
    },

    async autoRemediate(
      params: { includeDead?: boolean; stuckAfterMinutes?: number } = {},
    ): Promise<RemediationReport> {
      const report = await autoRemediate(
        { store, clock, random: options.random, wake: options.wake },
        {
          ...options.remediation,
          ...(params.stuckAfterMinutes === undefined ? {} : { stuckAfterMinutes: params.stuckAfterMinutes }),
          includeDead: params.includeDead ?? false,
        },
      );
      changed(true);
      logger.info({ report: summarizeReport(report) }, 'auto-remediation finished');
      return report;
    },

    /** Requeue failed events (and dead ones only when asked), optionally of one source. */
    async retryFailed(
      params: { source?: string; includeDead?: boolean } = {},
    ): Promise<{ requeued: number; statuses: EventStatus[] }> {
      const statuses: EventStatus[] = params.includeDead ? ['failed', 'dead'] : ['failed'];
      const requeued = await store.requeueEvents({ status: statuses, source: params.source });
      changed(requeued > 0);
      return { requeued, statuses };
    },

    /**
     * Requeue one event for the workers with a fresh set of attempts. A processed event is
     * replayed only with `force`; one a worker holds now is refused.
     */
    async retryEvent(params: { eventId: string; force?: boolean }): Promise<{
      eventId: string;
      previousStatus: EventStatus;
      status: EventStatus;
    }> {
      const event = await requireEvent(params.eventId);
      if (event.status === 'processing') {
        throw new HookboxError(
          'event_not_retryable',
          `event ${event.id} is being processed by ${event.lockedBy ?? 'a worker'}; retry after it finishes`,
        );
      }
      if (event.status === 'processed' && !params.force) {
        throw new HookboxError(
          'event_not_retryable',
          `event ${event.id} is already processed; pass force: true to run its handlers again`,
        );
      }
      const count = await store.requeueEvents({ ids: [event.id] });
      if (count !== 1) {
        throw new HookboxError(
          'event_not_retryable',
          `event ${event.id} was claimed by a worker meanwhile; try again`,
        );
      }
      changed(true);
      // An ordered event behind an earlier one of its key is requeued `waiting` (docs/ordering.md).
      const status = (await store.getEvent(event.id))?.status ?? 'pending';
      return { eventId: event.id, previousStatus: event.status, status };
    },

    // ---- Ordering (docs/ordering.md): keys blocked by a dead head ----

    /** Blocked keys with their dead heads, longest blocked first. */
    async listBlockedKeys(params: { limit?: number } = {}): Promise<BlockedKey[]> {
      const keys = await store.listBlockedKeys(params.limit ?? 100);
      return keys.sort((a, b) => a.blockedSince - b.blockedSince);
    },

    /**
     * Unblock a key: retry its dead head (it runs first) or skip it (the next event runs).
     * `unblocked: false` (headId null) when the key was not blocked: nothing changed.
     */
    async unblockKey(params: { source: string; key: string; action: 'retry' | 'skip' }): Promise<{
      source: string;
      key: string;
      action: 'retry' | 'skip';
      unblocked: boolean;
      headId: string | null;
    }> {
      const headId = await store.unblockKey(params.source, params.key, params.action);
      if (headId) {
        changed(true);
        logger.info({ ...params, headId }, 'ordering key unblocked');
      }
      return { ...params, unblocked: headId !== null, headId };
    },

    async bulkRetry(filter: {
      status: EventStatus[];
      source?: string;
      provider?: string;
      eventType?: string;
      since?: number;
      until?: number;
    }): Promise<{ requeued: number }> {
      const requeued = await store.requeueEvents(filter);
      changed(requeued > 0);
      return { requeued };
    },

    async markProcessed(params: { eventId: string }): Promise<{
      eventId: string;
      previousStatus: EventStatus;
      changed: boolean;
    }> {
      const event = await requireEvent(params.eventId);
      const didChange = await store.markProcessed(event.id);
      changed();
      return { eventId: event.id, previousStatus: event.status, changed: didChange };
    },

    async deleteEvent(params: {
      eventId: string;
    }): Promise<{ eventId: string; deleted: true; previousStatus: EventStatus }> {
      const event = await requireEvent(params.eventId);
      if (!(await store.deleteEvent(event.id))) {
        throw new HookboxError('event_not_found', `event ${event.id} was deleted meanwhile`);
      }
      changed();
      return { eventId: event.id, deleted: true, previousStatus: event.status };
    },

    /**
     * Two kinds of duplicates: one body stored under several dedupe keys of a source (a sender
     * minting new ids for one event), and one event delivered several times (redeliveries).
     */
    async findDuplicates(params: { limit?: number } = {}): Promise<{
      sameBody: DuplicateBodyGroup[];
      redelivered: EventSummary[];
    }> {
      const limit = params.limit ?? 100;
      const [sameBody, redelivered] = await Promise.all([
        store.findDuplicateBodies(limit),
        store.listRedeliveredEvents(limit),
      ]);
      return { sameBody, redelivered };
    },

    /** Scheduled maintenance: auto-remediation with cleanup per retention; dead events untouched. */
    async runMaintenance(): Promise<RemediationReport> {
      const report = await autoRemediate(
        { store, clock, random: options.random, wake: options.wake },
        { ...options.remediation, includeDead: false },
      );
      changed(true);
      logger.info({ report: summarizeReport(report) }, 'maintenance finished');
      return report;
    },
  };
}

export type AdminActions = ReturnType<typeof createAdminActions>;

function summarizeReport(report: RemediationReport) {
  return {
    reclaimedLeases: report.reclaimedLeases.count,
    heldTooLong: report.heldTooLong.count,
    releasedFailed: report.releasedFailed?.count ?? 0,
    requeuedDead: report.requeuedDead?.count ?? 0,
    deleted: report.cleanedUp?.count ?? 0,
    scrubbedBodies: report.scrubbedBodies?.count ?? 0,
  };
}
