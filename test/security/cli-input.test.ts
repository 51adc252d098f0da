/**
 * Issue 11, item 5, for the CLI: a time or number no store can hold is refused where it is
 * typed, with exit code 2 and one line, never passed to the database to come back as a stack
 * trace. Through real `hookbox` processes on both engines.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTime } from '../../src/cli/shared.ts';
import { noSourcesFromEnv } from '../support/every-scheme.ts';
import { runCli } from '../support/processes.ts';
import { engines, postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';

describe('parseTime', () => {
  const now = Date.UTC(2026, 5, 1, 12);

  it('reads ISO 8601, unix seconds and ages', () => {
    expect(parseTime('2026-01-31T12:00:00Z', now)).toBe(Date.UTC(2026, 0, 31, 12));
    expect(parseTime('1767225600', now)).toBe(1_767_225_600_000);
    expect(parseTime('90d', now)).toBe(now - 90 * 86_400_000);
    expect(parseTime('1970-01-01T00:00:00Z', now)).toBe(0);
  });

  it('refuses times outside the years 1970 to 9999, in one line that says what to use', () => {
    for (const value of [
      '99999999999999999999',
      '253402300800',
      '-271821-04-20T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '99999999999999d',
      '1e400',
    ]) {
      expect(() => parseTime(value, now), value).toThrow(/^"[^\n]+" (is not a time|is outside)[^\n]*$/);
    }
  });
});

describe.each(engines)('hookbox commands refuse out-of-range input at the edge (%s)', (engine) => {
  let cwd: string;
  let schema: string | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-cli-input-'));
    let databaseUrl = `file:${join(cwd, 'hookbox.db')}`;
    if (engine === 'postgres') {
      await queryPostgres('SELECT 1');
      schema = uniqueSchemaName();
      const url = new URL(postgresTestUrl());
      url.searchParams.set('schema', schema);
      databaseUrl = url.toString();
    }
    env = { ...noSourcesFromEnv, DATABASE_URL: databaseUrl };
    writeFileSync(
      join(cwd, 'hookbox.config.mjs'),
      `export default { sources: { stripe: { provider: 'stripe', secrets: ['whsec_cli_input'] } } };\n`,
    );
  });
  afterAll(async () => {
    if (schema) await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    rmSync(cwd, { recursive: true, force: true });
  });

  const cases = [
    ['events', 'list', '--since', '99999999999999999999'],
    ['events', 'list', '--until=-271821-04-20T00:00:00Z'],
    ['events', 'list', '--cursor', `x${'0'.repeat(100)}`],
    ['retry', '--status', 'failed', '--since', '99999999999999999999'],
    ['cleanup', '--older-than', '99999999999999d'],
    ['archive', '--older-than', '99999999999999999999', '--out', 'events.ndjson.gz'],
  ];
  for (const args of cases) {
    it(`hookbox ${args.join(' ')}: exit 2, one line, no stack`, { timeout: 30_000 }, async () => {
      const result = await runCli(args, { cwd, env });
      expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^hookbox: /);
      expect(result.stderr).not.toMatch(/\n\s+at |PostgreSQL|SQLITE|out of range for type/);
    });
  }
});
