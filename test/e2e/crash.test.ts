import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.ts';
import { createE2eFixture, deliver, type E2eFixture } from '../support/e2e-fixture.ts';
import { startServerProcess, waitUntil } from '../support/processes.ts';
import { engines } from '../support/stores.ts';

// kill -9 of a real server under load, five times: every acknowledged delivery survives, every
// event reaches processed, no handler runs twice at once for one event, and on PostgreSQL the
// effect written through the event's transaction exists exactly once.
describe.each(engines)('SIGKILL under load on %s', (engine) => {
  let fixture: E2eFixture;
  let store: Store;
  const acknowledged = new Set<string>();
  const killedAt = new Map<number, number>();

  beforeAll(async () => {
    fixture = await createE2eFixture(engine, { leaseMs: 1000 });
  });
  afterAll(async () => {
    await store?.close();
    await fixture.cleanup();
  });

  it('loses nothing acknowledged and runs each event to processed', async () => {
    let next = 0;
    for (let round = 0; round < 5; round++) {
      const server = await startServerProcess({
        cwd: fixture.cwd,
        env: { DATABASE_URL: fixture.databaseUrl },
      });
      const pid = server.process.pid!;
      let stop = false;
      const senders = Array.from({ length: 8 }, async () => {
        while (!stop) {
          // One in ten deliveries repeats an earlier event, as a provider's retry would.
          const id = next > 10 && next % 10 === 0 ? `evt_crash_${next - 7}` : `evt_crash_${next}`;
          next++;
          const { status } = await deliver(server.url, fixture.secret, id);
          if (status === 200) acknowledged.add(id);
          else if (status !== 0) throw new Error(`unexpected status ${status}`);
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 500));
      killedAt.set(pid, Date.now());
      await server.kill();
      stop = true;
      await Promise.all(senders);
    }
    expect(acknowledged.size).toBeGreaterThan(20);

    const survivor = await startServerProcess({
      cwd: fixture.cwd,
      env: { DATABASE_URL: fixture.databaseUrl },
    });
    try {
      store = fixture.openStore();
      await waitUntil(
        async () => (await store.countEvents({ status: ['pending', 'processing', 'failed'] })) === 0,
        60_000,
      );
    } finally {
      await survivor.stop();
    }

    for (const dedupeKey of acknowledged) {
      const event = await store.findEventByDedupeKey('stripe', dedupeKey);
      expect(event, `acknowledged ${dedupeKey} must be stored`).not.toBeNull();
      expect(event!.status).toBe('processed');
    }
    expect(await store.countEvents({ status: ['dead', 'failed', 'ignored'] })).toBe(0);

    for (const [eventId, runs] of fixture.readRuns()) {
      const ordered = [...runs].sort((a, b) => a.start - b.start);
      for (let i = 1; i < ordered.length; i++) {
        const previous = ordered[i - 1]!;
        const endedBy = previous.end ?? killedAt.get(previous.pid) ?? Number.POSITIVE_INFINITY;
        expect(ordered[i]!.start, `event ${eventId} ran twice at once`).toBeGreaterThanOrEqual(endedBy);
      }
    }

    if (engine === 'postgres') {
      const tx = (await store.beginEventTransaction())!;
      const { rows } = await tx.handle.query<{ event_id: string; n: string }>(
        'SELECT event_id, count(*) AS n FROM effects GROUP BY event_id',
      );
      await tx.rollback();
      const processed = await store.countEvents({ status: 'processed' });
      expect(rows.length).toBe(processed);
      expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
    }
    // Five server start-ups, kills and a recovery that waits each reclaimed event's backoff.
  }, 90_000);
});
