import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, withoutEnvSources } from '../support/processes.ts';
import { postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';

// Each bad start-up, through the real CLI: exactly one line on stderr that says what to do,
// the documented exit code (docs/cli.md: 2 configuration, 3 unavailable), and no stack trace.

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'hookbox-startup-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** A folder of its own with these files, so config discovery and ./data are per test. */
function folderWith(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(cwd, 'case-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const noEnvSources = { ...withoutEnvSources, LOG_LEVEL: '', PORT: '' };

/** Run the CLI and check the shape every failure shares; returns the one line. */
async function failOnce(
  args: string[],
  options: { dir?: string; env?: Record<string, string> },
  exitCode: 2 | 3,
): Promise<string> {
  const result = await runCli(args, {
    cwd: options.dir ?? folderWith(),
    env: { DATABASE_URL: '', ...noEnvSources, ...options.env },
  });
  expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: exitCode });
  expect(result.stderr).toMatch(/^hookbox: [^\n]+\n$/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result.stderr.trim();
}

const stripeSecret = 'whsec_startup_failures';

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('configuration mistakes exit 2 with one line', () => {
  it('an unknown key names the nearest known one', async () => {
    const dir = folderWith({
      'hookbox.config.mjs': `export default { sources: { stripe: { provider: 'stripe', secrets: ['${stripeSecret}'] } }, handler: {} };\n`,
    });
    expect(await failOnce(['serve'], { dir }, 2)).toBe(
      'hookbox: invalid configuration: handler: unknown key; did you mean `handlers`?',
    );
  });

  it('a misspelt provider key says provider is missing', async () => {
    const dir = folderWith({
      'hookbox.config.json': JSON.stringify({
        sources: { stripe: { provder: 'stripe', secrets: [stripeSecret] } },
      }),
    });
    const line = await failOnce(['serve'], { dir }, 2);
    expect(line).toMatch(/^hookbox: invalid configuration: sources\.stripe\.provider: missing: /);
    expect(line).toContain('`provder` looks like a typo of it: write provider: "stripe"');
  });

  it('a Stripe API key where the signing secret belongs', async () => {
    const line = await failOnce(['serve'], { env: { STRIPE_WEBHOOK_SECRET: 'sk_live_51Nabcdefghijkl' } }, 2);
    expect(line).toMatch(/^hookbox: invalid configuration: STRIPE_WEBHOOK_SECRET: this is a secret API key/);
    expect(line).toContain('Developers > Webhooks > your endpoint > Signing secret');
    expect(line).not.toContain('sk_live_51Nabcdefghijkl');
  });

  it('LOG_LEVEL and PORT, named by their variable', async () => {
    const env = { STRIPE_WEBHOOK_SECRET: stripeSecret };
    expect(await failOnce(['serve'], { env: { ...env, LOG_LEVEL: 'loud' } }, 2)).toBe(
      'hookbox: invalid configuration: LOG_LEVEL: "loud" is not a level: use fatal, error, warn, info, debug, trace, silent',
    );
    expect(await failOnce(['serve'], { env: { ...env, PORT: 'http' } }, 2)).toBe(
      'hookbox: invalid configuration: PORT: use a whole number from 0 to 65535 (0 picks a free port) (got "http")',
    );
  });

  it('serve with no source says how to configure one, or to pass --demo', async () => {
    const line = await failOnce(['serve'], {}, 2);
    expect(line).toMatch(/^hookbox: invalid configuration: no source is configured/);
    expect(line).toContain('STRIPE_WEBHOOK_SECRET=whsec_...');
    expect(line).toContain('hookbox serve --demo');
  });

  it('--demo beside configured sources, which it would hide', async () => {
    expect(await failOnce(['serve', '--demo'], { env: { STRIPE_WEBHOOK_SECRET: stripeSecret } }, 2)).toBe(
      'hookbox: invalid configuration: --demo runs only a generated Stripe source, but sources are configured (stripe): drop --demo to serve them',
    );
  });

  it('send paypal and send firebase without test keys say which settings sign', async () => {
    const paypal = await failOnce(
      ['send', 'paypal', '--to', 'http://127.0.0.1:9/webhooks/paypal', '--settings', '{"webhookId":"WH-1"}'],
      {},
      2,
    );
    expect(paypal).toContain('for tests set signingKey (a PEM private key)');
    const firebase = await failOnce(
      [
        'send',
        'firebase',
        '--to',
        'http://127.0.0.1:9/webhooks/firebase',
        '--settings',
        '{"audience":"https://hooks.example.com","serviceAccountEmail":"push@example.iam.gserviceaccount.com"}',
      ],
      {},
      2,
    );
    expect(firebase).toContain('for tests set signingKey (a private PEM or JWK)');
  });
});

describe('an unavailable dependency exits 3 with one line', () => {
  const env = { STRIPE_WEBHOOK_SECRET: stripeSecret };

  it('PostgreSQL down', async () => {
    const port = await closedPort();
    const line = await failOnce(
      ['serve', '--port', '0'],
      { env: { ...env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test` } },
      3,
    );
    expect(line).toBe(
      `hookbox: cannot reach PostgreSQL at 127.0.0.1:${port} (connection refused): start it, or point DATABASE_URL at a running server`,
    );
  });

  it('a database that does not exist', async () => {
    const url = new URL(postgresTestUrl());
    url.pathname = '/hookbox_no_such_database';
    const line = await failOnce(
      ['serve', '--port', '0'],
      { env: { ...env, DATABASE_URL: url.toString() } },
      3,
    );
    expect(line).toBe(
      'hookbox: PostgreSQL has no database "hookbox_no_such_database": create it (createdb hookbox_no_such_database), or fix the database name in DATABASE_URL',
    );
  });

  it('a role that does not exist', async () => {
    const url = new URL(postgresTestUrl());
    url.username = 'hookbox_no_such_role';
    url.password = '';
    const line = await failOnce(
      ['serve', '--port', '0'],
      { env: { ...env, DATABASE_URL: url.toString() } },
      3,
    );
    expect(line).toMatch(/^hookbox: PostgreSQL refused the login \(.*hookbox_no_such_role.*\): fix the user/);
  });

  describe('a port in use', () => {
    let taken: Server;
    let port: number;
    beforeAll(async () => {
      taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      port = (taken.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

    it('is refused before anything is opened or migrated', async () => {
      const dir = folderWith();
      const database = join(dir, 'data', 'never.db');
      const schema = uniqueSchemaName();
      const line = await failOnce(
        ['serve', '--port', String(port), '--host', '127.0.0.1'],
        { dir, env: { ...env, DATABASE_URL: `file:${database}` } },
        3,
      );
      expect(line).toBe(
        `hookbox: port ${port} is in use on 127.0.0.1 (another process listens on 127.0.0.1:${port}): stop it, or choose another port with --port or PORT`,
      );
      expect(existsSync(database)).toBe(false);

      const postgres = `${postgresTestUrl()}${postgresTestUrl().includes('?') ? '&' : '?'}schema=${schema}`;
      await failOnce(['serve', '--port', String(port)], { dir, env: { ...env, DATABASE_URL: postgres } }, 3);
      const created = await queryPostgres(
        'SELECT 1 FROM information_schema.schemata WHERE schema_name = $1',
        [schema],
      );
      expect(created).toEqual([]);
    });
  });
});

describe('commands other than serve and migrate never migrate', () => {
  it('a SQLite file that does not exist is not created', async () => {
    const dir = folderWith();
    const database = join(dir, 'elsewhere.db');
    for (const args of [['events', 'list'], ['stats'], ['retry', '--status', 'dead']]) {
      const line = await failOnce(args, { dir, env: { DATABASE_URL: `file:${database}` } }, 3);
      expect(line).toBe(
        `hookbox: the database file:${database} has no Hookbox schema yet: run \`hookbox migrate\` (or start \`hookbox serve\`, which migrates), or point DATABASE_URL at the server's database`,
      );
    }
    expect(existsSync(database)).toBe(false);
    // health keeps its own codes (1 DEGRADED, 2 CRITICAL), so it cannot check: 3.
    const health = await failOnce(['health'], { dir, env: { DATABASE_URL: `file:${database}` } }, 3);
    expect(health).toMatch(
      /^hookbox: could not check: the database .* has no Hookbox schema yet: run `hookbox migrate`/,
    );
  });

  it('an old schema is named with its version, and left as it is', async () => {
    const dir = folderWith();
    const database = join(dir, 'old.db');
    const db = new Database(database);
    db.exec(
      readFileSync(
        new URL('../../src/store/sqlite/sql/create-migrations-table.sql', import.meta.url),
        'utf8',
      ),
    );
    db.exec(readFileSync(new URL('../../src/store/sqlite/migrations/001_init.sql', import.meta.url), 'utf8'));
    db.prepare('INSERT INTO hookbox_migrations (version, name, applied_at) VALUES (1, ?, ?)').run(
      'init',
      Date.now(),
    );
    db.close();
    const line = await failOnce(['events', 'list'], { dir, env: { DATABASE_URL: `file:${database}` } }, 3);
    expect(line).toMatch(
      /^hookbox: the database file:.*old\.db is at schema version 1 and this Hookbox needs \d+: run `hookbox migrate`/,
    );
    const check = new Database(database, { readonly: true });
    expect(check.prepare('SELECT version FROM hookbox_migrations').pluck().all()).toEqual([1]);
    check.close();

    const migrated = await runCli(['migrate'], { cwd: dir, env: { DATABASE_URL: `file:${database}` } });
    expect(migrated.code).toBe(0);
    const listed = await runCli(['events', 'list', '--json'], {
      cwd: dir,
      env: { DATABASE_URL: `file:${database}` },
    });
    expect({ code: listed.code, stdout: listed.stdout }).toEqual({ code: 0, stdout: '[]\n' });
  });

  it('a PostgreSQL schema that is not there is not created', async () => {
    const schema = uniqueSchemaName();
    const url = `${postgresTestUrl()}${postgresTestUrl().includes('?') ? '&' : '?'}schema=${schema}`;
    const line = await failOnce(['events', 'list'], { env: { DATABASE_URL: url } }, 3);
    expect(line).toMatch(/has no Hookbox schema yet: run `hookbox migrate`/);
    expect(
      await queryPostgres('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]),
    ).toEqual([]);
  });
});

describe('hookbox --version', () => {
  it("prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const result = await runCli(['--version'], { cwd });
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
