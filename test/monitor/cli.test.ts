import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.ts';
import { runCli } from '../support/processes.ts';
import { createTestStore, engines, postgresProcessUrl, type TestStore } from '../support/stores.ts';
import { createSeeder } from './seed.ts';

const minute = 60_000;
const day = 24 * 60 * minute;

// The commands run as real processes against the same database the test seeds; the CLI uses
// the system clock, so events are seeded at times relative to Date.now().
describe.each(engines)('monitoring CLI on %s', (engine) => {
  let store: Store;
  let created: TestStore;
  let cleanup: () => Promise<void>;
  let cwd: string;
  /** A seeder writing through a store whose clock runs `agoMs` behind: events from the past. */
  const seedAgo = (agoMs: number) => {
    const past = { now: () => Date.now() - agoMs };
    return createSeeder(created.openSibling({ clock: past }), past.now);
  };
  let env: Record<string, string>;

  beforeAll(async () => {
    created = await createTestStore(engine);
    store = created.store;
    cleanup = created.cleanup;
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-monitor-cli-'));
    const databaseUrl = engine === 'sqlite' ? `file:${created.path}` : postgresProcessUrl(created.schema!);
    env = { DATABASE_URL: databaseUrl, STRIPE_WEBHOOK_SECRET: 'whsec_cli', HEALTH_MAX_BACKLOG: '3' };
  });
  afterAll(async () => {
    await cleanup();
    rmSync(cwd, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(args, { cwd, env });

  it('health exits 0 HEALTHY, 1 DEGRADED, 2 CRITICAL, 3 on bad usage', async () => {
    let result = await cli('health', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'HEALTHY', healthy: true });

    const seed = seedAgo(minute);
    await seed.record(4);
    result = await cli('health', '--json', '--window', '30');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ status: 'DEGRADED', metrics: { backlog: 4, window: { minutes: 30 } } });
    expect(report.alerts.map((a: { type: string }) => a.type)).toEqual(['LARGE_BACKLOG']);

    // Waiting 31 minutes: stale, so CRITICAL; shown as a table with alerts and advice.
    await seedAgo(31 * minute).record(1);
    result = await cli('health');
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^Hookbox health: CRITICAL \(window 60 min/);
    expect(result.stdout).toMatch(/oldestPending\s+FAIL\s+31(\.\d+)? minutes\s+max 30/);
    expect(result.stdout).toContain('[CRITICAL] STALE_EVENTS');
    expect(result.stdout).toContain('Recommendations:');

    result = await cli('health', '--window', 'soon');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('--window takes a whole number of minutes');
  });

  it('stats prints all-time counts and window metrics', async () => {
    const result = await cli('stats', '--json');
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout);
    expect(stats.allTime).toMatchObject({ total: 5, byStatus: { pending: 5 } });
    expect(stats.window).toMatchObject({ total: 5, backlog: 5, window: { minutes: 60 } });
    const table = await cli('stats');
    expect(table.stdout).toContain('All events: 5');
    expect(table.stdout).toMatch(/handler ms avg\/p50\/p95\/p99/);
  });

  it('retry requeues failed (not dead) events with plain progress lines outside a terminal', async () => {
    const seed = seedAgo(2 * minute);
    const failed = await seed.failed(3);
    const dead = await seed.dead(1);
    const dry = await cli('retry', '--status', 'failed', '--dry-run');
    expect(dry.stdout).toBe('3 failed events would be requeued (dry run)\n');
    expect((await store.getEvent(failed[0]!))?.status).toBe('failed');

    const result = await cli('retry', '--status', 'failed', '--batch-size', '2');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('retry: 2/3 (66%)\nretry: 3/3 (100%)\nrequeued 3 failed events\n');
    for (const id of failed) expect((await store.getEvent(id))?.status).toBe('pending');
    expect((await store.getEvent(dead[0]!))?.status).toBe('dead');

    const bad = await cli('retry', '--status', 'processed');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--status is failed or dead');
  });

  it('retry --status dead --source only touches dead events of that source', async () => {
    const seed = seedAgo(2 * minute);
    const github = await seed.dead(1, { source: 'github' });
    const before = await store.countEvents({ status: 'dead' });
    const result = await cli('retry', '--status', 'dead', '--source', 'github', '--since', '1h');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('requeued 1 dead events');
    expect((await store.getEvent(github[0]!))?.status).toBe('pending');
    expect(await store.countEvents({ status: 'dead' })).toBe(before - 1);
  });

  it('cleanup --older-than 90d deletes only processed events older than 90 days', async () => {
    const old = await seedAgo(91 * day).processed(3);
    const recent = await seedAgo(89 * day).processed(1);
    const result = await cli('cleanup', '--older-than', '90d', '--batch-size', '2');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^cleanup: 2\/3 \(66%\)\ncleanup: 3\/3 \(100%\)\ndeleted 3 processed events processed before /,
    );
    for (const id of old) expect(await store.getEvent(id)).toBeNull();
    expect((await store.getEvent(recent[0]!))?.status).toBe('processed');

    const bad = await cli('cleanup', '--older-than', 'ninety days');
    expect(bad.code).toBe(2);
  });
  it('health counts an event held past its handler timeout as stuck, with the configured timeout', async () => {
    const [held] = await seedAgo(2 * minute).record(1);
    await seedAgo(2 * minute).claim([held!], 10 * minute);
    // The default handler timeout (30 s) plus 10 s: held 2 minutes is stuck.
    let result = await cli('health');
    expect(result.stdout).toContain('Stuck events (held longer than their handler may run): 1');
    expect(JSON.parse((await cli('health', '--json')).stdout).metrics.stuck).toBe(1);
    // A handler allowed 5 minutes is not stuck after 2.
    writeFileSync(
      join(cwd, 'hookbox.config.json'),
      JSON.stringify({
        sources: { stripe: { provider: 'stripe', secrets: ['whsec_cli'] } },
        worker: { handlerTimeoutMs: 5 * minute },
      }),
    );
    try {
      result = await cli('--config', 'hookbox.config.json', 'health');
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('Stuck events (held longer than their handler may run): 0');
    } finally {
      rmSync(join(cwd, 'hookbox.config.json'));
    }
  });
});
