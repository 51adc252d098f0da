import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventId } from '../../src/ids.ts';
import type { NewEvent, Store } from '../../src/store/types.ts';
import { runCli } from '../support/processes.ts';
import { createTestStore, type TestStore } from '../support/stores.ts';

function ordered(dedupeKey: string, key: string, orderedAt: number): NewEvent {
  const body = Buffer.from(JSON.stringify({ id: dedupeKey }));
  return {
    id: createEventId(Date.now()),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey,
    eventType: 'invoice.updated',
    headers: {},
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    receivedAt: Date.now(),
    ordering: { key, orderedAt, holdMs: 0, onDead: 'block' },
  };
}

// `hookbox keys blocked` / `hookbox keys unblock` and the blocked keys in `hookbox health`, as a
// real process against a SQLite file.
describe('hookbox keys', () => {
  let test: TestStore;
  let store: Store;
  let cwd: string;
  let env: Record<string, string>;
  let head: string;

  beforeAll(async () => {
    test = await createTestStore('sqlite');
    store = test.store;
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-keys-'));
    writeFileSync(
      join(cwd, 'hookbox.config.json'),
      JSON.stringify({
        sources: { stripe: { provider: 'stripe', secrets: ['whsec_keys'], ordering: { key: 'preset' } } },
      }),
    );
    env = { DATABASE_URL: `file:${test.path}` };
    const recorded = await store.recordEvents([ordered('evt_1', 'in_1', 1), ordered('evt_2', 'in_1', 2)]);
    head = recorded[0]!.id;
    const [claimed] = await store.claimEvents({ workerId: 'w', limit: 10, leaseMs: 30_000 });
    await store.finishAttempts('w', [
      {
        eventId: claimed!.id,
        token: claimed!.claimToken,
        ordering: { source: 'stripe', key: 'in_1' },
        outcome: 'dead',
        startedAt: Date.now(),
        finishedAt: Date.now(),
        error: 'downstream refused',
      },
    ]);
  });
  afterAll(async () => {
    await test.cleanup();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('lists blocked keys (exit 1), shows them in health, refuses bad input, and unblocks by skipping', async () => {
    const listed = await runCli(['keys', 'blocked'], { cwd, env });
    expect(listed.code).toBe(1);
    expect(listed.stdout).toContain('in_1');
    expect(listed.stdout).toContain(head);
    expect(listed.stdout).toContain('downstream refused');
    const json = await runCli(['keys', 'blocked', '--json'], { cwd, env });
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ key: 'in_1', headId: head, waiting: 1 }),
    ]);

    const health = await runCli(['health'], { cwd, env });
    expect(health.stdout).toMatch(/blockedKeys\s+FAIL\s+1 keys?/);
    expect(health.stdout).toContain(`dead head ${head}`);

    const both = await runCli(['keys', 'unblock', 'stripe', 'in_1'], { cwd, env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('name one of --retry or --skip');
    const unknown = await runCli(['keys', 'unblock', 'stripe', 'nope', '--skip'], { cwd, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('is not blocked');

    const skipped = await runCli(['keys', 'unblock', 'stripe', 'in_1', '--skip'], { cwd, env });
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain(`skipped dead head ${head}`);
    expect((await runCli(['keys', 'blocked'], { cwd, env })).code).toBe(0);
    const next = await store.claimEvents({ workerId: 'w', limit: 10, leaseMs: 30_000 });
    expect(next.map((e) => e.dedupeKey)).toEqual(['evt_2']);
  });
});
