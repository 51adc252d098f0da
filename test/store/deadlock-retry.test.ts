import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventId } from '../../src/ids.ts';
import type { NewEvent, Store } from '../../src/store/types.ts';
import { createTestStore, postgresTestUrl, type TestStore } from '../support/stores.ts';

// Several processes on one PostgreSQL lock the same rows in different orders (an ingest upsert
// counting duplicates in dedupe-key order, another process's lease extension or attempt results
// in id order), and PostgreSQL breaks the cycle by aborting one statement. The adapter runs an
// aborted statement again (it was its own transaction, rolled back whole), so a delivery is not
// refused with 503 because of a deadlock. Found by the three-instances test.
describe('PostgreSQL store under a deadlock', () => {
  let test: TestStore;
  let store: Store;
  let client: pg.Client;

  beforeAll(async () => {
    test = await createTestStore('postgres');
    store = test.store;
    client = new pg.Client({ connectionString: postgresTestUrl(), options: `-c search_path=${test.schema}` });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await test.cleanup();
  });

  const delivery = (dedupeKey: string): NewEvent => ({
    id: createEventId(),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey,
    eventType: 'invoice.paid',
    headers: {},
    body: Buffer.from(dedupeKey),
    bodySha256: dedupeKey,
    receivedAt: Date.now(),
  });

  it('runs a statement aborted as the deadlock victim again, and the delivery is recorded', async () => {
    await store.recordEvents([delivery('evt_a'), delivery('evt_b')]);
    await client.query("SET deadlock_timeout = '5s'");
    await client.query('BEGIN');
    await client.query("UPDATE events SET updated_at = now() WHERE dedupe_key = 'evt_b'");

    // The upsert locks evt_a, then waits for evt_b.
    const recording = store.recordEvents([delivery('evt_a'), delivery('evt_b')]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Closing the cycle: this session waits for evt_a. The store's statement has waited longer,
    // so its deadlock check (after 1 s) runs first and makes it the victim.
    const closing = client.query("UPDATE events SET updated_at = now() WHERE dedupe_key = 'evt_a'");
    await closing;
    await client.query('COMMIT');

    const results = await recording;
    expect(results.map((r) => r.duplicate)).toEqual([true, true]);
    const a = await store.findEventByDedupeKey('stripe', 'evt_a');
    expect(a!.deliveryCount).toBe(2);
  }, 20_000);
});
