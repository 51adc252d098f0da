import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eFixture, deliver, type E2eFixture } from '../support/e2e-fixture.ts';
import { type ServerProcess, startServerProcess, waitUntil } from '../support/processes.ts';

// Three stateless server processes share one PostgreSQL (DESIGN, Scaling out): 1,000 concurrent
// deliveries of 100 distinct events, ten copies each, spread over all three, store exactly 100
// events, run each handler once, and count every delivery.
describe('three server processes on one PostgreSQL', () => {
  let fixture: E2eFixture;
  let servers: ServerProcess[] = [];

  beforeAll(async () => {
    // A lease long enough that a PostgreSQL stall of a few seconds on a loaded CI machine does
    // not lapse it: a lapsed lease runs a handler twice, as it should, and this test counts runs.
    fixture = await createE2eFixture('postgres', { handlerDelayMs: 20, leaseMs: 15_000 });
    servers = await Promise.all(
      [0, 1, 2].map(() =>
        startServerProcess({ cwd: fixture.cwd, env: { DATABASE_URL: fixture.databaseUrl } }),
      ),
    );
  }, 90_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await fixture.cleanup();
  });

  /** What the servers logged at warn level or above, for a failure to say why. */
  const serverWarnings = () =>
    servers.flatMap((s) => s.output.filter((line) => /"level":(4|5|6)0/.test(line)));

  it('stores 100 events, runs each handler once, and counts 1,000 deliveries', async () => {
    const deliveries = Array.from({ length: 1000 }, (_, i) => ({
      eventId: `evt_three_${i % 100}`,
      // Copies of one event land on different processes.
      server: servers[(i + Math.floor(i / 100)) % 3]!,
    }));
    // As a provider does, a delivery answered 503 (the store could not commit in time: a stall
    // of the shared machine) is sent again. Nothing was acknowledged by a 503, but the commit may
    // still have landed after the server gave up on it, so such a copy may count twice.
    let resent = 0;
    const deliverAsProvider = async (url: string, eventId: string) => {
      for (let attempt = 1; ; attempt++) {
        const result = await deliver(url, fixture.secret, eventId);
        if (attempt === 4 || (result.status !== 503 && result.status !== 0)) return result;
        resent++;
        await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
      }
    };
    const results = await Promise.all(
      deliveries.map(({ eventId, server }) => deliverAsProvider(server.url, eventId)),
    );
    // Every delivery acknowledged; if not, which answers came back and what the servers logged.
    const refused = results.filter((r) => r.status !== 200);
    expect({
      refused: refused.length,
      answers: [...new Set(refused.map((r) => `${r.status} ${JSON.stringify(r.body)}`))],
      warnings: refused.length ? serverWarnings() : [],
    }).toEqual({ refused: 0, answers: [], warnings: [] });
    // One first answer per event, unless the resent copy of a 503 whose commit landed anyway
    // was that event's first: then every answer it got says duplicate.
    const firsts = results.filter((r) => !(r.body as { duplicate: boolean }).duplicate);
    expect(firsts.length).toBeLessThanOrEqual(100);
    expect(firsts.length).toBeGreaterThanOrEqual(100 - resent);
    expect(new Set(firsts.map((r) => (r.body as { id: string }).id)).size).toBe(firsts.length);
    // All copies of an event got the same id.
    const idsByKey = new Map<string, Set<string>>();
    deliveries.forEach(({ eventId }, i) => {
      const set = idsByKey.get(eventId) ?? new Set();
      set.add((results[i]!.body as { id: string }).id);
      idsByKey.set(eventId, set);
    });
    expect([...idsByKey.values()].every((ids) => ids.size === 1)).toBe(true);

    const store = fixture.openStore();
    try {
      await waitUntil(async () => (await store.countEvents({ status: 'processed' })) === 100, 60_000);
      expect(await store.countEvents({})).toBe(100);
      const page = await store.listEvents({ limit: 1000 });
      expect(page.events).toHaveLength(100);
      const counted = page.events.reduce((sum, e) => sum + e.deliveryCount, 0);
      expect(counted).toBeGreaterThanOrEqual(1000);
      expect(counted).toBeLessThanOrEqual(1000 + resent);
      expect(page.events.filter((e) => e.deliveryCount < 10).map((e) => e.dedupeKey)).toEqual([]);

      // Give any second run a chance to show itself before counting.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const runs = fixture.readRuns();
      expect(runs.size).toBe(100);
      for (const event of page.events) {
        const eventRuns = runs.get(event.id) ?? [];
        expect(eventRuns, `event ${event.dedupeKey} ran ${eventRuns.length} times`).toHaveLength(1);
        expect(eventRuns[0]!.end).not.toBeNull();
      }
      // The work was shared: more than one process ran handlers.
      const pids = new Set([...runs.values()].flat().map((r) => r.pid));
      expect(pids.size).toBeGreaterThan(1);

      // Exactly-once effects through the event's transaction.
      const tx = (await store.beginEventTransaction())!;
      const { rows } = await tx.handle.query<{ n: string; distinct_events: string }>(
        'SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_events FROM effects',
      );
      await tx.rollback();
      expect(Number(rows[0]!.n)).toBe(100);
      expect(Number(rows[0]!.distinct_events)).toBe(100);

      // One attempt each: a second one (even one that never reached the handler) says why,
      // with each attempt's worker, outcome and error and what the servers warned about.
      const retried = page.events.filter((e) => e.attempts !== 1);
      const retriedAttempts = await Promise.all(
        retried.map(async (e) => ({
          event: e.dedupeKey,
          attempts: (await store.listAttempts(e.id)).map((a) => [a.workerId, a.outcome, a.error]),
        })),
      );
      expect({ retriedAttempts, warnings: retriedAttempts.length ? serverWarnings() : [] }).toEqual({
        retriedAttempts: [],
        warnings: [],
      });
    } finally {
      await store.close();
    }
  }, 120_000);
});
