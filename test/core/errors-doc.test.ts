import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../src/errors.ts';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map(
      (match) => [match[1]!, Number(match[2])] as const,
    ),
  );

  it('lists every code of the catalogue with its status', () => {
    for (const [code, { status }] of Object.entries(errorCatalogue)) {
      expect(rows.get(code), `docs/errors.md is missing ${code}`).toBe(status);
    }
  });

  it('lists no code the catalogue does not have', () => {
    expect(rows.size).toBeGreaterThan(0);
    for (const code of rows.keys()) expect(Object.keys(errorCatalogue)).toContain(code);
  });
});
