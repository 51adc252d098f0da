import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { createTestStore, engines, postgresProcessUrl, type TestStore } from '../support/stores.ts';
import { createSeeder } from './seed.ts';

const day = 24 * 60 * 60_000;
const adminToken = 'server-admin-token-0123456789';

describe.each(engines)('the server maintenance schedule on %s', (engine) => {
  let cleanup: () => Promise<void>;
  let created: TestStore;
  let running: RunningServer;
  let cwd: string;
  let databaseUrl: string;

  beforeEach(async () => {
    created = await createTestStore(engine);
    cleanup = created.cleanup;
    databaseUrl = engine === 'sqlite' ? `file:${created.path}` : postgresProcessUrl(created.schema!);
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-maintenance-'));
    // No worker: the test seeds events by claiming them itself.
    writeFileSync(join(cwd, 'hookbox.config.mjs'), 'export default { worker: { enabled: false } };\n');
  });
  afterEach(async () => {
    await running?.close();
    await cleanup();
    rmSync(cwd, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>) {
    const config = await loadConfig({
      cwd,
      env: {
        DATABASE_URL: databaseUrl,
        STRIPE_WEBHOOK_SECRET: 'whsec_x',
        PORT: '0',
        ADMIN_TOKEN: adminToken,
        ...env,
      },
    });
    running = await startServer(config, createLogger({ level: 'silent' }));
    return running;
  }

  it('schedules maintenance daily at 02:00 by default, and a scheduled run cleans up per retention', async () => {
    const server = await start({ MAINTENANCE_TIMEZONE: 'UTC', RETENTION_DAYS: '30' });
    const schedule = server.hookbox.monitoring.schedule();
    const next = schedule!.nextRun()!;
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([2, 0, 0]);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(day);

    // Seeded through a store whose clock is 31 days behind: events processed "a month ago".
    const monthAgo = { now: () => Date.now() - 31 * day };
    const past = created.openSibling({ clock: monthAgo });
    const old = await createSeeder(past, monthAgo.now).processed(2);
    const dead = await createSeeder(past, monthAgo.now).dead(1);
    await schedule!.trigger();
    for (const id of old) expect(await server.hookbox.store.getEvent(id)).toBeNull();
    expect((await server.hookbox.store.getEvent(dead[0]!))?.status).toBe('dead');
  });

  it('takes MAINTENANCE_CRON, or none with off; the admin API uses ADMIN_TOKEN from the environment', async () => {
    let server = await start({ MAINTENANCE_CRON: '15 4 * * 1', MAINTENANCE_TIMEZONE: 'UTC' });
    const next = server.hookbox.monitoring.schedule()!.nextRun()!;
    expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 4, 15]);
    const response = await fetch(`${server.url}/api/cron/webhook-maintenance`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(response.status).toBe(200);
    expect((await response.json()).data).toHaveProperty('reclaimedLeases');
    await server.close();

    server = await start({ MAINTENANCE_CRON: 'off' });
    expect(server.hookbox.monitoring.schedule()).toBeNull();
  });
});

describe('progress output', () => {
  const capture = (isTTY: boolean) => {
    const writes: string[] = [];
    return { stream: { isTTY, columns: 60, write: (text: string) => writes.push(text) }, writes };
  };

  it('redraws one bar in place on a terminal', () => {
    const { stream, writes } = capture(true);
    const progress = createProgress('retry', 4, stream);
    progress.update(1);
    progress.update(4);
    progress.finish('requeued 4 failed events');
    expect(writes[0]).toMatch(/^\rretry \[#+-+\] 25% 1\/4$/);
    expect(writes[1]).toMatch(/^\rretry \[#+\] 100% 4\/4$/);
    expect(writes[2]).toBe('\r\u001b[2Krequeued 4 failed events\n');
  });

  it('prints plain lines otherwise, raising the total when the estimate was low', () => {
    const { stream, writes } = capture(false);
    const progress = createProgress('cleanup', 2, stream);
    progress.update(1);
    progress.update(1);
    progress.update(3);
    progress.finish('deleted 3');
    expect(writes).toEqual(['cleanup: 1/2 (50%)\n', 'cleanup: 3/3 (100%)\n', 'deleted 3\n']);
  });
});
