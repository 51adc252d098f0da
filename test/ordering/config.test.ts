import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/problems.ts';
import { resolveSources } from '../../src/config/sources.ts';
import { decideOrdering, normalizeOrderingKey, readProviderEventTime } from '../../src/ordering/key.ts';

const stripe = { provider: 'stripe', secrets: ['whsec_ordering'] };
const noHeaders = { get: () => null };

function problemsOf(source: Record<string, unknown>): string[] {
  try {
    resolveSources({ s: source as never });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

describe('ordering config', () => {
  it.each([
    [{ key: 'data..id' }, 'sources.s.ordering.key'],
    [{ key: '' }, 'sources.s.ordering.key'],
    [{ key: [] }, 'sources.s.ordering.key'],
    [{ key: 42 }, 'sources.s.ordering.key'],
    [{}, 'sources.s.ordering.key'],
    [{ key: 'data.object.id', reorderWindowMs: -1 }, 'sources.s.ordering.reorderWindowMs'],
    [{ key: 'data.object.id', reorderWindowMs: 1.5 }, 'sources.s.ordering.reorderWindowMs'],
    [{ key: 'data.object.id', reorderWindowMs: 7_200_000 }, 'sources.s.ordering.reorderWindowMs'],
    [{ key: 'data.object.id', onDead: 'retry' }, 'sources.s.ordering.onDead'],
    [{ key: 'data.object.id', reorderWindow: 5 }, 'sources.s.ordering.reorderWindow'],
    [true, 'sources.s.ordering'],
  ])('refuses %j, naming %s', (ordering, path) => {
    const problems = problemsOf({ ...stripe, ordering });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.startsWith(`${path}:`))).toBe(true);
  });

  it('refuses a preset for a provider without one, and ordering on a sync source', () => {
    expect(problemsOf({ provider: 'slack', signingSecret: 'x', ordering: { key: 'preset' } })).toEqual([
      expect.stringMatching(/^sources\.s\.ordering\.key: slack has no ordering preset: name the JSON path/),
    ]);
    expect(problemsOf({ ...stripe, mode: 'sync', ordering: { key: 'data.object.id' } })).toEqual([
      expect.stringMatching(/^sources\.s\.ordering: a sync source runs each event inside its request/),
    ]);
  });

  it('resolves paths, lists of paths, presets and functions', () => {
    const payload = { data: { object: { id: 'sub_1', customer: 'cus_9' } }, created: 1_700_000_000 };
    const read = (ordering: unknown, body: unknown = payload, provider: Record<string, unknown> = stripe) =>
      resolveSources({ s: { ...provider, ordering } as never })
        .get('s')!
        .ordering!.readKey(body);
    expect(read({ key: 'data.object.id' })).toBe('sub_1');
    expect(read({ key: ['data.object.customer', 'data.object.id'] })).toBe('cus_9|sub_1');
    expect(read({ key: 'preset' })).toBe('sub_1');
    expect(read({ key: (p: typeof payload) => p.data.object.customer })).toBe('cus_9');
    // No value: unordered.
    expect(read({ key: 'data.object.missing' })).toBeUndefined();
    expect(read({ key: 'data.object' })).toBeUndefined();
    expect(read({ key: 'data.object.id' }, { data: { object: { id: null } } })).toBeUndefined();
    expect(read({ key: 'data.object.id' }, { data: { object: { id: '' } } })).toBeUndefined();
    expect(read({ key: 'data.object.id' }, 'not json')).toBeUndefined();
    const github = { provider: 'github', secret: 'gh-secret' };
    expect(read({ key: 'preset' }, { repository: { id: 7 }, pull_request: { number: 12 } }, github)).toBe(
      '7|12',
    );
    expect(read({ key: 'preset' }, { repository: { id: 7 } }, github)).toBe('7|7');
    const twilio = { provider: 'twilio', authToken: 'tok' };
    expect(read({ key: 'preset' }, { MessageSid: 'SM1' }, twilio)).toBe('SM1');
    const shopify = { provider: 'shopify', secret: 'shp' };
    expect(read({ key: 'preset' }, { id: 5, admin_graphql_api_id: 'gid://shopify/Order/5' }, shopify)).toBe(
      'gid://shopify/Order/5',
    );
  });

  it('loads ordering from JSON and YAML config files', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'hookbox-ordering-config-'));
    try {
      writeFileSync(
        join(cwd, 'hookbox.config.yaml'),
        'sources:\n  stripe:\n    provider: stripe\n    secrets: [whsec_x]\n    ordering:\n      key: data.object.id\n      reorderWindowMs: 2000\n      onDead: skip\n',
      );
      const config = await loadConfig({ cwd, env: { DATABASE_URL: 'file::memory:' } });
      expect(config.sources.stripe).toMatchObject({
        ordering: { key: 'data.object.id', reorderWindowMs: 2000 },
      });
      const resolved = resolveSources(config.sources).get('stripe')!;
      expect(resolved.ordering).toMatchObject({ reorderWindowMs: 2000, onDead: 'skip' });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('ordering keys and times at ingest', () => {
  it('hashes long keys and leaves unstorable ones unordered', () => {
    expect(normalizeOrderingKey('k')).toEqual({ ok: true, key: 'k' });
    const long = normalizeOrderingKey('x'.repeat(600));
    expect(long).toMatchObject({ ok: true, key: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(normalizeOrderingKey('a\u0000b')).toMatchObject({ ok: false });
    expect(normalizeOrderingKey('a\uD800b')).toMatchObject({ ok: false });
    const settings = { readKey: () => 'a\u0000', reorderWindowMs: 0, onDead: 'block' as const };
    expect(decideOrdering(settings, 'stripe', {}, noHeaders, 5)).toEqual({
      ordering: null,
      unorderedBecause: 'its ordering key contains a NUL character',
    });
    const throwing = {
      ...settings,
      readKey: () => {
        throw new Error('bad');
      },
    };
    expect(decideOrdering(throwing, 'stripe', {}, noHeaders, 5).ordering).toBeNull();
  });

  it("orders by the provider's event time where its scheme has one, else receipt", () => {
    expect(readProviderEventTime('stripe', { created: 1_700_000_000 }, noHeaders)).toBe(1_700_000_000_000);
    expect(readProviderEventTime('stripe', { created: 'soon' }, noHeaders)).toBeUndefined();
    expect(
      readProviderEventTime(
        'standard-webhooks',
        {},
        { get: (n: string) => (n === 'webhook-timestamp' ? '1700000001' : null) },
      ),
    ).toBe(1_700_000_001_000);
    expect(readProviderEventTime('paypal', { create_time: '2026-01-01T00:00:00.000Z' }, noHeaders)).toBe(
      Date.UTC(2026, 0, 1),
    );
    expect(readProviderEventTime('github', { created: 1 }, noHeaders)).toBeUndefined();
    const settings = { readKey: () => 'k', reorderWindowMs: 250, onDead: 'skip' as const };
    expect(decideOrdering(settings, 'github', {}, noHeaders, 99).ordering).toEqual({
      key: 'k',
      orderedAt: 99,
      holdMs: 250,
      onDead: 'skip',
    });
  });
});
