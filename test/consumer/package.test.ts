import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';
import { appsDir, createApp, expectStoredOnceHandledOnce, startApp } from './support/apps.ts';
import { repoRoot } from './support/install.ts';

/** What `npm pack` ships, and the installed command running from it without TypeScript tooling. */
const created: string[] = [];
afterAll(() => {
  for (const dir of created) rmSync(dirname(dir), { recursive: true, force: true });
});

function listTarball(): string[] {
  return execFileSync('tar', ['-tzf', inject('tarball')], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

describe('the tarball', () => {
  it('ships dist/ (JavaScript, declarations, source maps), the bin, README and LICENSE, and nothing else', () => {
    const files = listTarball();
    for (const expected of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/cli/main.js']) {
      expect(files).toContain(expected);
    }
    for (const expected of ['bin/hookbox.js', 'README.md', 'LICENSE', 'package.json'])
      expect(files).toContain(expected);
    const outside = files.filter((file) => !file.startsWith('dist/') && !file.startsWith('bin/'));
    expect(outside.sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
  });

  it('has every SQL file, migration and dashboard asset beside the module that reads it', () => {
    const shipped = new Set(listTarball());
    const assets = filesUnder(join(repoRoot, 'src')).filter((file) => extname(file) !== '.ts');
    expect(assets.length).toBeGreaterThan(70);
    expect(assets.filter((file) => !shipped.has(`dist/${file}`))).toEqual([]);
  });

  it('points every export and the bin at files it ships', () => {
    const shipped = new Set(listTarball());
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
      bin: Record<string, string>;
      types: string;
      main: string;
    };
    const targets = Object.values(manifest.exports).flatMap((target) =>
      typeof target === 'string' ? [target] : Object.values(target),
    );
    for (const target of [...targets, ...Object.values(manifest.bin), manifest.types, manifest.main]) {
      expect(shipped.has(target.replace(/^\.\//, '')), target).toBe(true);
    }
  });
});

describe('the installed package without tsx', () => {
  it('imports tsx nowhere but the loader for a hookbox.config.ts, and only when one is loaded', () => {
    const dir = createApp(join(appsDir, 'cli'), { tarball: inject('tarball'), without: ['tsx'] });
    created.push(dir);
    const dist = join(dir, 'node_modules', 'hookbox', 'dist');
    const mentions = filesUnder(dist)
      .filter((file) => file.endsWith('.js'))
      .filter((file) => /['"]tsx(\/[^'"]*)?['"]/.test(readFileSync(join(dist, file), 'utf8')));
    expect(mentions).toEqual(['config/file-formats.js']);
    const loader = readFileSync(join(dist, 'config', 'file-formats.js'), 'utf8');
    expect(loader).not.toMatch(/^import[^(]*['"]tsx/m);
    expect(loader).toMatch(/await import\(['"]tsx\/esm\/api['"]\)/);
    // And it is really absent from this install.
    expect(existsSync(join(dir, 'node_modules', 'tsx'))).toBe(false);
    expect(() =>
      createRequire(join(dir, 'node_modules', 'hookbox', 'package.json')).resolve('tsx'),
    ).toThrow();
  });

  it.each(['sqlite', 'postgres'] as const)(
    '`hookbox serve` (the bin) stores, handles once and deduplicates on %s',
    async (engine) => {
      const dir = createApp(join(appsDir, 'cli'), {
        tarball: inject('tarball'),
        packages: [],
        without: ['tsx'],
      });
      created.push(dir);
      let databaseUrl = `file:${join(dir, 'data', 'hookbox.db')}`;
      const schema = uniqueSchemaName();
      if (engine === 'postgres') {
        await queryPostgres(`CREATE SCHEMA ${schema}`);
        const url = new URL(postgresTestUrl());
        url.searchParams.set('schema', schema);
        databaseUrl = url.toString();
      }
      const secret = 'whsec_consumer_cli';
      const server = await startApp(
        [process.execPath, join(dir, 'node_modules', 'hookbox', 'bin', 'hookbox.js'), 'serve', '--port', '0'],
        {
          cwd: dir,
          env: { STRIPE_WEBHOOK_SECRET: secret, DATABASE_URL: databaseUrl, LOG_FORMAT: 'json' },
          listeningUrl: (line) =>
            line.includes('hookbox listening') ? (JSON.parse(line) as { url: string }).url : null,
        },
      );
      try {
        const { first, repeat, handled } = await expectStoredOnceHandledOnce(
          server,
          `${server.url}/webhooks/stripe`,
          secret,
        );
        expect(first.body.duplicate).toBe(false);
        expect(repeat.body).toEqual({ received: true, id: first.body.id, duplicate: true });
        expect(handled).toHaveLength(1);
      } finally {
        expect(await server.stop()).toBe(0);
        if (engine === 'postgres') await queryPostgres(`DROP SCHEMA ${schema} CASCADE`);
      }
    },
  );
});
