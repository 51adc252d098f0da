import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

// Admin tokens are compared in constant time: the presented token and every configured one are
// hashed to equal-length digests, and every candidate is compared with timingSafeEqual, match or
// not, so neither a token's length nor which one matched shows in the time taken.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const { createTokenAuthenticator } = await import('../../src/http/admin/auth.ts');

describe('admin token comparison', () => {
  const admin = 'admin-token-0123456789abcdef';
  const readOnly = ['read-token-0123456789abcdef', 'read-token-2-0123456789abcd'];
  const cron = 'cron-secret-0123456789abcdef';
  const authenticator = createTokenAuthenticator({
    token: admin,
    readOnlyTokens: readOnly,
    cronSecret: cron,
  });
  const compare = vi.mocked(crypto.timingSafeEqual);

  it.each([
    ['the admin token', admin, 'admin'],
    ['a read-only token', readOnly[1]!, 'read'],
    ['the cron secret', cron, 'cron'],
    ['a wrong token of the same length', `${admin.slice(0, -1)}x`, null],
    ['a one-character token', 'x', null],
    ['a very long token', 'y'.repeat(10_000), null],
  ])('compares %s against every candidate with equal-length digests', (_name, presented, expected) => {
    compare.mockClear();
    expect(authenticator.identify(presented)).toBe(expected);
    expect(compare).toHaveBeenCalledTimes(4);
    for (const [a, b] of compare.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
  });
});
