import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.ts';
import { createSeeder } from '../monitor/seed.ts';
import { createDeliverySeeder } from '../support/delivery-seed.ts';
import { runCli, withoutEnvSources } from '../support/processes.ts';
import { createTestStore, engines, postgresProcessUrl, type TestStore } from '../support/stores.ts';

const signingSecret = `whsec_${Buffer.from('cli-destination-secret-0123456789').toString('base64')}`;
const headerValue = 'Bearer cli-header-credential';

// The commands run as real processes over the database the test seeds, with a JSON config.
describe.each(engines)('destinations and deliveries CLI on %s', (engine) => {
  let created: TestStore;
  let store: Store;
  let cwd: string;
  let env: Record<string, string>;
  let eventIds: string[];

  beforeAll(async () => {
    created = await createTestStore(engine);
    store = created.store;
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-destinations-cli-'));
    const destination = (name: string) => ({
      name,
      url: `http://127.0.0.1:9/${name}`,
      signingSecret,
      headers: { authorization: headerValue },
      allowPrivateNetwork: true,
    });
    writeFileSync(
      join(cwd, 'hookbox.config.json'),
      JSON.stringify({
        sources: {
          stripe: {
            provider: 'stripe',
            secrets: ['whsec_cli'],
            destinations: [destination('billing'), destination('crm')],
          },
        },
      }),
    );
    env = {
      ...withoutEnvSources,
      DATABASE_URL: engine === 'sqlite' ? `file:${created.path}` : postgresProcessUrl(created.schema!),
    };
    const now = () => Date.now();
    eventIds = await createSeeder(store, now).record(3);
    const deliveries = createDeliverySeeder(store, now);
    for (const id of eventIds) {
      await deliveries.create(id, 'billing');
      await deliveries.create(id, 'crm');
    }
    await deliveries.attempt('stripe', 'crm', 'dead', { statusCode: 503 });
    await deliveries.attempt('stripe', 'billing', 'succeeded', { limit: 1 });
  });
  afterAll(async () => {
    await created.cleanup();
    rmSync(cwd, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(args, { cwd, env });

  it('destinations list shows state, success rate and backlog, and never a secret or header value', async () => {
    const result = await cli('destinations', 'list', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(signingSecret);
    expect(result.stdout).not.toContain(headerValue);
    const list = JSON.parse(result.stdout);
    expect(list).toEqual([
      expect.objectContaining({ name: 'billing', state: 'active', backlog: 2, recentSuccessRate: 100 }),
      expect.objectContaining({
        name: 'crm',
        backlog: 0,
        recentSuccessRate: 0,
        headerNames: ['authorization'],
      }),
    ]);
    const table = await cli('destinations', 'list');
    expect(table.stdout).toMatch(/^DESTINATION\s+STATE\s+SUCCESS\s+BACKLOG\s+DEAD\s+URL/);
    expect(table.stdout).toMatch(/stripe\/crm\s+active\s+0%\s+0\s+3\s+http:\/\/127\.0\.0\.1:9\/crm/);
  });

  it('health flags the failing destination with its alert and advice', async () => {
    const result = await runCli(['health', '--json'], {
      cwd,
      env: { ...env, HEALTH_DESTINATION_MIN_ATTEMPTS: '3' },
    });
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.status).toBe('DEGRADED');
    expect(report.checks.destinationFailures).toMatchObject({ passed: false, value: 1 });
    expect(report.checks.destinationFailures.message).toContain('stripe/crm: 0% of 3 attempts');
    expect(report.alerts.map((a: { type: string }) => a.type)).toEqual(['DESTINATION_FAILING']);
    expect(report.recommendations.join('\n')).toContain('hookbox deliveries retry --dead stripe/crm');
    // With the default minimum of 10 attempts, 3 say nothing yet.
    const table = await cli('health');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/destinationFailures\s+ok\s+0 destinations\s+max 0/);
  });

  it('pause, resume and enable write the state the server reads; wrong states and names exit 1', async () => {
    let result = await cli('destinations', 'pause', 'stripe/billing', '--reason', 'deploying');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('stripe/billing is paused (2 deliveries waiting)\n');
    expect((await store.listDestinationStates())[0]).toMatchObject({ state: 'paused', reason: 'deploying' });

    result = await cli('destinations', 'enable', 'stripe', 'billing', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'billing', state: 'active' });

    result = await cli('destinations', 'resume', 'stripe/billing');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('hookbox: stripe/billing is not paused (it is active)\n');

    result = await cli('destinations', 'pause', 'stripe/nowhere');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^hookbox: no destination stripe\/nowhere is configured; configured: stripe\/billing, stripe\/crm\n$/,
    );

    result = await cli('destinations', 'pause', 'billing');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('SOURCE/NAME');
  });

  it('deliveries list filters; retry retries dead deliveries alone; bad input exits 2', async () => {
    let result = await cli(
      'deliveries',
      'list',
      '--destination',
      'crm',
      '--status',
      'dead',
      '--json',
      '--limit',
      '2',
    );
    expect(result.code, result.stderr).toBe(0);
    const page = JSON.parse(result.stdout);
    expect(page.deliveries).toHaveLength(2);
    expect(page.nextCursor).toMatch(/^\d+$/);
    const table = await cli('deliveries', 'list', '--event', eventIds[0]!);
    expect(table.stdout).toMatch(/^ID\s+EVENT\s+DESTINATION\s+STATUS\s+ATTEMPTS\s+LAST_CODE/);
    expect(table.stdout).toMatch(/stripe\/crm\s+dead\s+1\s+503/);

    const [first] = page.deliveries;
    result = await cli('deliveries', 'show', String(first.id), '--json');
    expect(JSON.parse(result.stdout).attempts[0]).toMatchObject({ outcome: 'dead', statusCode: 503 });

    result = await cli('deliveries', 'retry', String(first.id));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`retrying delivery ${first.id}`);
    expect((await store.getDelivery(first.id))?.status).toBe('pending');
    result = await cli('deliveries', 'retry', String(first.id));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is pending: only a failed or dead delivery can be retried/);
    // A refusal among several ids: the others are still retried, and the exit is 1.
    const [, second] = page.deliveries;
    result = await cli('deliveries', 'retry', '987654', String(second.id));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`retrying delivery ${second.id}`);
    expect(result.stderr).toBe('hookbox: no delivery with id 987654\n');
    expect((await store.getDelivery(second.id))?.status).toBe('pending');

    result = await cli('deliveries', 'retry', '--dead', 'stripe/crm', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toHaveLength(1);
    const crm = (await store.listDeliveries({ destination: 'crm', limit: 10 })).map((d) => d.status);
    expect(crm).toEqual(['pending', 'pending', 'pending']);
    // The other destination was not touched.
    const billing = (await store.listDeliveries({ destination: 'billing', limit: 10 })).map((d) => d.status);
    expect(billing.sort()).toEqual(['pending', 'pending', 'succeeded']);

    for (const args of [
      ['deliveries', 'list', '--status', 'lost'],
      ['deliveries', 'list', '--limit', '501'],
      ['deliveries', 'retry', 'seven'],
      ['deliveries', 'retry'],
      ['deliveries', 'replay', 'not an id'],
      ['destinations', 'list', '--window', '0'],
    ]) {
      result = await cli(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^hookbox: /);
    }
  });

  it('deliveries replay sends an event again to one destination or all', async () => {
    const [eventId] = eventIds;
    let result = await cli('deliveries', 'replay', eventId!, '--destination', 'billing', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).map((d: { destination: string }) => d.destination)).toEqual(['billing']);
    result = await cli('deliveries', 'replay', eventId!);
    expect(result.stdout).toMatch(/replaying event \S+ to stripe\/billing/);
    expect(result.stdout).toMatch(/replaying event \S+ to stripe\/crm/);
    result = await cli('deliveries', 'replay', '01KC4Z7QW5X8J9R2T6Y3M0N1PA');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no event with id 01KC4Z7QW5X8J9R2T6Y3M0N1PA');
  });
});
