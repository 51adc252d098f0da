import { randomBytes } from 'node:crypto';
import { benchDestination } from '../lib/deliveries.ts';
import { startServer } from '../lib/processes.ts';
import { seedPendingEvents } from '../lib/seed.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { type Engine, newTarget } from '../lib/targets.ts';
import type { HookboxForwardConfig } from '../servers/hookbox-forward.ts';
import type { ForwardReport, UndiciForwardConfig } from '../servers/undici-forward.ts';
import { round } from './ingest.ts';

export interface ForwardResult {
  events: number;
  concurrency: number;
  /** `claims`: claim queries that returned deliveries; `writes`: verdict transactions. */
  hookbox: ForwardReport & { complete: boolean; claims: number; writes: number };
  undici: ForwardReport;
  /** Requests the no-op destination counted for each run (every delivery must arrive). */
  received: { hookbox: number; undici: number };
  vsUndici: number;
}

/**
 * Forwarding: Hookbox's delivery worker sends N stored events to a local no-op destination,
 * against a bare undici loop posting the same bodies with the same headers to the same server
 * at the same concurrency. Each in its own process; the destination too.
 */
export async function runForward(
  engine: Engine,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<ForwardResult> {
  const { events, concurrency, timeLimitSec } = settings.forward;
  const signingSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const bodyTime = Date.now();
  const target = newTarget(engine, 'forward');
  log(`[${engine}] forward: storing ${events} events with a pending delivery each`);
  // Each with its pending delivery to the bench destination, as ingest routes them: no handler
  // takes these events, so they are recorded delivering and the event worker never sees them.
  await seedPendingEvents(target, events, {
    prefix: 'forward',
    bodyTime,
    extra: () => ({ destinations: [benchDestination], forwardOnly: true }),
  });
  const destination = await startServer('no-op destination', 'bench/servers/noop-destination.ts', {});
  try {
    const url = `${destination.url}/hooks`;
    log(`[${engine}] forward: hookbox delivery worker, concurrency ${concurrency}`);
    const hookboxConfig: HookboxForwardConfig = {
      target,
      url,
      events,
      concurrency,
      signingSecret,
      timeLimitSec,
    };
    const server = await startServer('hookbox forward', 'bench/servers/hookbox-forward.ts', hookboxConfig);
    let hookbox: ForwardResult['hookbox'];
    try {
      hookbox = await server.report();
    } finally {
      await server.stop();
    }
    const afterHookbox = await destination.report<{ requests: number }>();

    log(`[${engine}] forward: bare undici loop, concurrency ${concurrency}`);
    const undiciConfig: UndiciForwardConfig = { url, events, concurrency, signingSecret, bodyTime };
    const loop = await startServer('undici forward', 'bench/servers/undici-forward.ts', undiciConfig);
    let undici: ForwardReport;
    try {
      undici = await loop.report();
    } finally {
      await loop.stop();
    }
    const afterUndici = await destination.report<{ requests: number }>();
    const tidy = <T extends ForwardReport>(r: T): T => ({
      ...r,
      elapsedMs: round(r.elapsedMs, 1),
      eventsPerSec: Math.round(r.eventsPerSec),
    });
    return {
      events,
      concurrency,
      hookbox: tidy(hookbox),
      undici: tidy(undici),
      received: { hookbox: afterHookbox.requests, undici: afterUndici.requests },
      vsUndici: round(hookbox.eventsPerSec / undici.eventsPerSec),
    };
  } finally {
    await destination.stop();
  }
}
