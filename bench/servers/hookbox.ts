import { createHookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { benchSecret, benchSource } from '../lib/deliveries.ts';
import { openTargetStore, type StoreTarget } from '../lib/targets.ts';
import { announceReady, readConfig, serveParent } from './child.ts';

export interface HookboxServerConfig {
  mode: 'drain';
  target: StoreTarget;
  /** drain: how many events must be finished before the drain counts as done. */
  expected?: number;
  /** drain: stop counting after this long, whatever is left. */
  timeLimitSec?: number;
  worker?: { batchSize?: number; concurrency?: number };
  /** Ordering bench: each handler run yields once and is logged; the report counts overlapping runs. */
  logRuns?: boolean;
}

export interface DrainReport {
  /** Whether every expected event finished within the time limit. */
  complete: boolean;
  finished: number;
  elapsedMs: number;
  eventsPerSec: number;
  /** Claim queries that returned events, and verdict writes: events per store round trip. */
  claims: number;
  writes: number;
  /** Ordered events a verdict write claimed for its worker in the same commit (their key's next). */
  handedOver: number;
  /** With logRuns: how many runs started while another was still running (0 for one key: strictly serial). */
  overlaps?: number;
}

const config = readConfig<HookboxServerConfig>();

await runDrain();

async function runDrain(): Promise<void> {
  const expected = config.expected ?? 0;
  const store: Store = openTargetStore(config.target);
  let finished = 0;
  let claims = 0;
  let writes = 0;
  let handedOver = 0;
  let startedAt = 0;
  let doneAt = 0;
  let onDone: (() => void) | null = null;
  const done = new Promise<void>((resolve) => {
    onDone = resolve;
  });
  // Count what is committed, not what handlers saw: a drain ends when the last outcome is written.
  const countWrite = (applied: number) => {
    writes++;
    finished += applied;
    if (finished >= expected && doneAt === 0) {
      doneAt = performance.now();
      onDone?.();
    }
  };
  const finishAttempts = store.finishAttempts.bind(store);
  store.finishAttempts = async (workerId, results) => {
    const applied = await finishAttempts(workerId, results);
    countWrite(applied.length);
    return applied;
  };
  // Ordered verdicts may claim their keys' next events in the same commit: those are not claims.
  const finishAndClaimNext = store.finishAttemptsAndClaimNext?.bind(store);
  if (finishAndClaimNext) {
    store.finishAttemptsAndClaimNext = async (workerId, results, next) => {
      const outcome = await finishAndClaimNext(workerId, results, next);
      countWrite(outcome.applied.length);
      handedOver += outcome.claimed.length;
      return outcome;
    };
  }
  const claimEvents = store.claimEvents.bind(store);
  store.claimEvents = async (options) => {
    const claimed = await claimEvents(options);
    if (claimed.length > 0) claims++;
    return claimed;
  };
  // The ordering bench's one-key drain: a run yields once (so a second run of the key could start
  // beside it if ordering failed), and its start and end are counted.
  let running = 0;
  let overlaps = 0;
  const loggedRun = async () => {
    if (running > 0) overlaps++;
    running++;
    await new Promise((resolve) => setImmediate(resolve));
    running--;
  };
  await store.migrate();
  const hookbox = createHookbox({
    store,
    sources: { [benchSource]: { provider: 'stripe', secrets: [benchSecret] } },
    handlers: { [benchSource]: { '*': config.logRuns ? loggedRun : () => {} } },
    worker: { ...config.worker },
    migrate: false,
  });
  announceReady();
  serveParent({
    report: async (): Promise<DrainReport> => {
      startedAt = performance.now();
      const limit = setTimeout(
        () => {
          doneAt = performance.now();
          onDone?.();
        },
        (config.timeLimitSec ?? 600) * 1000,
      );
      await hookbox.start();
      await done;
      clearTimeout(limit);
      const elapsedMs = doneAt - startedAt;
      const counted = finished;
      return {
        complete: counted >= expected,
        finished: counted,
        claims,
        writes,
        handedOver,
        elapsedMs,
        eventsPerSec: (counted / elapsedMs) * 1000,
        ...(config.logRuns ? { overlaps } : {}),
      };
    },
    close: () => hookbox.stop(),
  });
}
