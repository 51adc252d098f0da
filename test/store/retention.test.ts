import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ArchiveProgress, archiveEvents } from '../../src/cli/archive.ts';
import { createManualClock } from '../../src/clock.ts';
import { createEventId } from '../../src/ids.ts';
import { autoRemediate } from '../../src/monitor/remediation.ts';
import type { Store } from '../../src/store/types.ts';
import { runCli } from '../support/processes.ts';
import { createTestStore, engines, postgresTestUrl, type TestStore } from '../support/stores.ts';

const day = 24 * 60 * 60_000;
const now = Date.UTC(2026, 5, 1);

describe.each(engines)('retention and archive on %s', (engine) => {
  let test: TestStore;
  let store: Store;
  let dir: string;
  // The store's clock: each seeded event is recorded and finished at its own time.
  const clock = createManualClock(now);

  beforeEach(async () => {
    clock.set(now);
    test = await createTestStore(engine, { clock });
    store = test.store;
    dir = mkdtempSync(join(tmpdir(), 'hookbox-archive-'));
  });
  afterEach(async () => {
    await test.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An event received and finished `ageDays` ago (processed unless `finish` says otherwise). */
  async function seed(key: string, ageDays: number, finish: 'processed' | 'dead' | 'pending' = 'processed') {
    const at = now - ageDays * day;
    clock.set(at);
    const body = Buffer.from(JSON.stringify({ id: key, type: 'invoice.paid', data: { amount: 100 } }));
    const [recorded] = await store.recordEvents([
      {
        id: createEventId(at),
        source: 'stripe',
        provider: 'stripe',
        dedupeKey: key,
        eventType: 'invoice.paid',
        headers: { 'stripe-signature': 't=1,v1=00' },
        body,
        bodySha256: `sha-${key}`,
        receivedAt: at,
      },
    ]);
    if (finish !== 'pending') {
      const claimed = await store.claimEventById(recorded!.id, { workerId: 'w', leaseMs: 1000 });
      expect(claimed!.id).toBe(recorded!.id);
      await store.finishAttempts('w', [
        {
          eventId: recorded!.id,
          token: claimed!.claimToken,
          outcome: finish,
          startedAt: at,
          finishedAt: at,
          error: finish === 'dead' ? 'x' : null,
        },
      ]);
    }
    clock.set(now);
    return recorded!.id;
  }

  it('scrubs the bodies of old processed events only, keeping metadata, headers, hash and attempts', async () => {
    const old = await seed('evt_old', 40);
    const older = await seed('evt_older', 50);
    const recent = await seed('evt_recent', 10);
    const deadOld = await seed('evt_dead', 40, 'dead');
    const pendingOld = await seed('evt_pending', 40, 'pending');
    const before = (await store.getEvent(old))!;

    // Oldest events first, at most `limit` events looked at per call.
    expect((await store.scrubBodiesBefore(now - 30 * day, { limit: 1 })).count).toBe(1);
    expect((await store.getEvent(older))!.body.length).toBe(0);
    expect((await store.getEvent(old))!.body.length).toBeGreaterThan(0);
    expect((await store.scrubBodiesBefore(now - 30 * day)).count).toBe(1);
    expect((await store.scrubBodiesBefore(now - 30 * day)).count).toBe(0);

    const after = (await store.getEvent(old))!;
    expect(after.body.length).toBe(0);
    // The body row alone changes: the event's own row is not even rewritten.
    const { body: _b1, ...metaBefore } = before;
    const { body: _b2, ...metaAfter } = after;
    expect(metaAfter).toEqual(metaBefore);
    expect(await store.listAttempts(old)).toHaveLength(1);
    for (const id of [recent, deadOld, pendingOld])
      expect((await store.getEvent(id))!.body.length).toBeGreaterThan(0);

    const [listed] = await store.listFinishedEvents(now - 30 * day, '', 1);
    expect(listed).toMatchObject({ id: older, bodyScrubbedAt: now });
  });

  it('maintenance deletes after the retention and scrubs after M days', async () => {
    const ancient = await seed('evt_ancient', 100);
    const middle = await seed('evt_middle', 40);
    const fresh = await seed('evt_fresh', 10);
    const report = await autoRemediate(
      { store, clock, random: () => 0.5 },
      {
        retryPolicy: { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 10_000 },
        stuckAfterMinutes: 30,
        retentionDays: 90,
        scrubBodiesAfterDays: 30,
      },
    );
    expect(report.cleanedUp).toEqual({ count: 1, olderThanDays: 90 });
    expect(report.scrubbedBodies).toEqual({ count: 1, olderThanDays: 30 });
    expect(await store.getEvent(ancient)).toBeNull();
    expect((await store.getEvent(middle))!.body.length).toBe(0);
    expect((await store.getEvent(fresh))!.body.length).toBeGreaterThan(0);
  });

  it('archives in id order with attempts, resumes after an interruption without duplicating a line, then deletes', async () => {
    const archivedIds: string[] = [];
    for (let i = 0; i < 23; i++) archivedIds.push(await seed(`evt_a${i}`, 120 - i));
    const keptRecent = await seed('evt_keep_recent', 5);
    const keptDead = await seed('evt_keep_dead', 120, 'dead');
    const out = join(dir, 'archive.ndjson.gz');
    const run = {
      store,
      out,
      cutoff: now - 90 * day,
      olderThan: '90d',
      batchSize: 5,
      deleteAfterWrite: true,
    };

    // First run stops after two batches, as a killed process would.
    const first = await archiveEvents({ ...run, maxBatches: 2 });
    expect(first).toMatchObject({ archived: 10, resumed: false });
    const progress = JSON.parse(readFileSync(`${out}.progress`, 'utf8')) as ArchiveProgress;
    expect(progress).toMatchObject({ archived: 10, lastId: archivedIds[9], done: false });
    expect(await store.getEvent(archivedIds[9]!)).toBeNull();
    expect(await store.getEvent(archivedIds[10]!)).not.toBeNull();
    // A batch that reached the file but not the checkpoint: the resumed run cuts it off.
    appendFileSync(out, Buffer.from('half-written gzip member'));

    // Resuming keeps the checkpoint's cutoff even when given another one.
    const second = await archiveEvents({ ...run, cutoff: now });
    expect(second).toMatchObject({ archived: 23, resumed: true });
    expect(JSON.parse(readFileSync(`${out}.progress`, 'utf8')).done).toBe(true);
    const third = await archiveEvents(run);
    expect(third).toMatchObject({ alreadyComplete: true, archived: 23 });

    const lines = gunzipSync(readFileSync(out))
      .toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((l) => l.id)).toEqual(archivedIds);
    expect(lines[0]).toMatchObject({
      source: 'stripe',
      dedupeKey: 'evt_a0',
      status: 'processed',
      bodyEncoding: 'utf8',
      headers: { 'stripe-signature': 't=1,v1=00' },
      attemptHistory: [expect.objectContaining({ attemptNumber: 1, outcome: 'processed', workerId: 'w' })],
    });
    expect(JSON.parse(lines[0].body)).toMatchObject({ id: 'evt_a0' });

    for (const id of archivedIds) expect(await store.getEvent(id)).toBeNull();
    expect(await store.getEvent(keptRecent)).not.toBeNull();
    expect(await store.getEvent(keptDead)).not.toBeNull();
  });

  it('refuses to overwrite an archive that has no checkpoint; --no-delete keeps the events', async () => {
    const id = await seed('evt_x', 100);
    const out = join(dir, 'existing.ndjson.gz');
    writeFileSync(out, 'something');
    const run = {
      store,
      out,
      cutoff: now - 90 * day,
      olderThan: '90d',
      batchSize: 5,
      deleteAfterWrite: false,
    };
    await expect(archiveEvents(run)).rejects.toThrow(/no .*\.progress checkpoint/);
    const fresh = join(dir, 'fresh.ndjson.gz');
    expect(await archiveEvents({ ...run, out: fresh })).toMatchObject({ archived: 1 });
    expect(await store.getEvent(id)).not.toBeNull();
  });

  it('runs as `hookbox archive` with plain progress lines off a terminal', async () => {
    // The CLI uses the real clock: seed relative to now.
    const realNow = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const at = realNow - (100 + i) * day;
      clock.set(at);
      const [r] = await store.recordEvents([
        {
          id: createEventId(at),
          source: 'stripe',
          provider: 'stripe',
          dedupeKey: `evt_cli_${i}`,
          eventType: 'invoice.paid',
          headers: {},
          body: Buffer.from(`{"id":"evt_cli_${i}"}`),
          bodySha256: `h${i}`,
          receivedAt: at,
        },
      ]);
      const [claimed] = await store.claimEvents({ workerId: 'w', limit: 1, leaseMs: 1000 });
      await store.finishAttempts('w', [
        { eventId: r!.id, token: claimed!.claimToken, outcome: 'processed', startedAt: at, finishedAt: at },
      ]);
      ids.push(r!.id);
    }
    const databaseUrl =
      engine === 'sqlite' ? `file:${test.path}` : withSchema(postgresTestUrl(), test.schema!);
    writeFileSync(
      join(dir, 'hookbox.config.mjs'),
      `export default { sources: { stripe: { provider: 'stripe', secrets: ['whsec_cli'] } } };\n`,
    );
    const out = join(dir, 'cli.ndjson.gz');
    const result = await runCli(['archive', '--older-than', '90d', '--out', out, '--batch-size', '2'], {
      cwd: dir,
      env: { DATABASE_URL: databaseUrl },
    });
    expect(result.stderr).toContain('archive: 2/3 (66%)');
    expect(result.stderr).toContain('archive complete: 3 event(s)');
    expect(result.stdout).toContain('archived 3 event(s)');
    expect(result.code).toBe(0);
    expect(existsSync(`${out}.progress`)).toBe(true);
    expect(gunzipSync(readFileSync(out)).toString().trim().split('\n')).toHaveLength(3);
    for (const id of ids) expect(await store.getEvent(id)).toBeNull();
  });
});

function withSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('schema', schema);
  return parsed.toString();
}
