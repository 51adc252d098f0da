import { startServer } from '../lib/processes.ts';
import { seedPendingEvents } from '../lib/seed.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { type Engine, newTarget } from '../lib/targets.ts';
import type { DrainReport, HookboxServerConfig } from '../servers/hookbox.ts';
import { round } from './ingest.ts';

export interface OrderingResult {
  events: number;
  keys: number;
  unorderedPerSec: number;
  orderedPerSec: number;
  /** orderedPerSec / unorderedPerSec (target >= 0.8). */
  vsUnordered: number;
  /** Events per claim query and per verdict write, unordered / ordered: what the store round trips cost. */
  eventsPerClaim: { unordered: number; ordered: number };
  eventsPerWrite: { unordered: number; ordered: number };
  /** Ordered events claimed in the verdict write that freed their key, not by a claim of their own. */
  handedOver: number;
  oneKey: { events: number; eventsPerSec: number; overlaps: number; complete: boolean };
  complete: boolean;
}

async function drain(
  engine: Engine,
  events: number,
  keys: number | null,
  timeLimitSec: number,
  logRuns = false,
): Promise<DrainReport & { overlaps?: number }> {
  const target = newTarget(engine, keys === null ? 'unordered' : `ordered_${keys}`);
  // Ordered over `keys` keys (in key order: event i is the i-th), or unordered.
  await seedPendingEvents(target, events, {
    prefix: 'ordering',
    ...(keys === null
      ? {}
      : {
          extra: (index, now) => ({
            ordering: {
              key: `obj_${index % keys}`,
              orderedAt: now + index,
              holdMs: 0,
              onDead: 'block' as const,
            },
          }),
        }),
  });
  const config: HookboxServerConfig = { mode: 'drain', target, expected: events, timeLimitSec, logRuns };
  const server = await startServer(
    `hookbox drain (${keys === null ? 'unordered' : `${keys} keys`})`,
    'bench/servers/hookbox.ts',
    config,
  );
  try {
    const report = await server.report<DrainReport & { overlaps?: number }>();
    return {
      ...report,
      elapsedMs: round(report.elapsedMs, 1),
      eventsPerSec: Math.round(report.eventsPerSec),
    };
  } finally {
    await server.stop();
  }
}

const perTrip = (events: number, trips: number) => (trips > 0 ? round(events / trips, 1) : 0);

export async function runOrdering(
  engine: Engine,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<OrderingResult> {
  const { events, keys, oneKeyEvents, timeLimitSec } = settings.ordering;
  log(`[${engine}] ordering: unordered drain, ${events} events`);
  const unordered = await drain(engine, events, null, timeLimitSec);
  log(`[${engine}] ordering: ordered drain, ${events} events over ${keys} keys`);
  const ordered = await drain(engine, events, keys, timeLimitSec);
  log(`[${engine}] ordering: one key, ${oneKeyEvents} events (strictly serial)`);
  const oneKey = await drain(engine, oneKeyEvents, 1, timeLimitSec, true);
  return {
    events,
    keys,
    unorderedPerSec: unordered.eventsPerSec,
    orderedPerSec: ordered.eventsPerSec,
    vsUnordered: unordered.eventsPerSec > 0 ? round(ordered.eventsPerSec / unordered.eventsPerSec, 3) : 0,
    eventsPerClaim: {
      unordered: perTrip(unordered.finished, unordered.claims),
      ordered: perTrip(ordered.finished, ordered.claims),
    },
    eventsPerWrite: {
      unordered: perTrip(unordered.finished, unordered.writes),
      ordered: perTrip(ordered.finished, ordered.writes),
    },
    handedOver: ordered.handedOver,
    oneKey: {
      events: oneKeyEvents,
      eventsPerSec: oneKey.eventsPerSec,
      overlaps: oneKey.overlaps ?? -1,
      complete: oneKey.complete,
    },
    complete: unordered.complete && ordered.complete,
  };
}
