import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eFixture, deliver, type E2eFixture } from '../support/e2e-fixture.ts';
import { type ServerProcess, startServerProcess, waitUntil } from '../support/processes.ts';

// Two stateless server processes share one PostgreSQL: one event delivered 100 times at once,
// spread over both, is stored once and handled once.
describe('two server processes on one PostgreSQL', () => {
  let fixture: E2eFixture;
  let servers: ServerProcess[] = [];

  beforeAll(async () => {
    fixture = await createE2eFixture('postgres', { handlerDelayMs: 50, leaseMs: 5000 });
    servers = await Promise.all(
      [0, 1].map(() => startServerProcess({ cwd: fixture.cwd, env: { DATABASE_URL: fixture.databaseUrl } })),
    );
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await fixture.cleanup();
  });

  it('runs the handler exactly once for 100 concurrent deliveries of one event', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => deliver(servers[i % 2]!.url, fixture.secret, 'evt_shared_1')),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    const duplicates = results.filter((r) => (r.body as { duplicate: boolean }).duplicate).length;
    expect(duplicates).toBe(99);
    const ids = new Set(results.map((r) => (r.body as { id: string }).id));
    expect(ids.size).toBe(1);

    const store = fixture.openStore();
    try {
      const event = await waitUntil(async () => {
        const found = await store.findEventByDedupeKey('stripe', 'evt_shared_1');
        return found?.status === 'processed' ? found : undefined;
      });
      expect(event.deliveryCount).toBe(100);
      // Give any second run a chance to show itself before counting.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const runs = fixture.readRuns().get(event.id) ?? [];
      expect(runs).toHaveLength(1);
      expect(runs[0]!.end).not.toBeNull();
    } finally {
      await store.close();
    }
  });
});
