import { describe, expect, it } from 'vitest';
import { describeDatabaseUrl, openStore, parseDatabaseUrl } from '../../src/store/open-store.ts';

describe('parseDatabaseUrl', () => {
  it('takes PostgreSQL URLs in both spellings', () => {
    expect(parseDatabaseUrl('postgres://u:p@db:5432/hookbox')).toEqual({
      engine: 'postgres',
      connectionString: 'postgres://u:p@db:5432/hookbox',
    });
    expect(parseDatabaseUrl('postgresql://db/hookbox').engine).toBe('postgres');
  });

  it('takes file: paths, file URLs and memory for SQLite, and defaults to ./data/hookbox.db', () => {
    expect(parseDatabaseUrl('file:./var/events.db')).toEqual({ engine: 'sqlite', path: './var/events.db' });
    expect(parseDatabaseUrl('file:/srv/hookbox.db')).toEqual({ engine: 'sqlite', path: '/srv/hookbox.db' });
    expect(parseDatabaseUrl('file:///srv/hookbox.db')).toEqual({ engine: 'sqlite', path: '/srv/hookbox.db' });
    expect(parseDatabaseUrl('file::memory:')).toEqual({ engine: 'sqlite', path: ':memory:' });
    expect(parseDatabaseUrl(undefined)).toEqual({ engine: 'sqlite', path: './data/hookbox.db' });
    expect(parseDatabaseUrl('')).toEqual({ engine: 'sqlite', path: './data/hookbox.db' });
  });

  it('names the accepted forms, without the password, when it cannot use a URL', () => {
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/hookbox')).toThrow(
      /Unsupported database URL "mysql:\/\/root:\*\*\*@db\/hookbox": use postgres:\/\/.*file:PATH.*unset/,
    );
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/hookbox')).not.toThrow(/hunter2/);
    expect(() => parseDatabaseUrl('file:')).toThrow(/file:PATH/);
  });
});

describe('describeDatabaseUrl', () => {
  it('masks passwords in the userinfo and the query string', () => {
    expect(describeDatabaseUrl('postgres://hookbox:s3cr@t@db:5432/app')).toBe(
      'postgres://hookbox:***@db:5432/app',
    );
    expect(describeDatabaseUrl('postgresql://db/app?sslmode=require&password=s3cret')).toBe(
      'postgresql://db/app?sslmode=require&password=***',
    );
    expect(describeDatabaseUrl('postgresql://hookbox@db/app')).toBe('postgresql://hookbox@db/app');
    expect(describeDatabaseUrl('file:./data/x.db')).toBe('file:./data/x.db');
    expect(describeDatabaseUrl(undefined)).toBe('file:./data/hookbox.db (default)');
  });
});

describe('openStore', () => {
  it('opens an in-memory SQLite store', async () => {
    const store = openStore('file::memory:');
    expect(store.engine).toBe('sqlite');
    await store.migrate();
    await expect(store.countEvents({})).resolves.toBe(0);
    await store.close();
  });

  it('opens a PostgreSQL store without connecting yet', async () => {
    const store = openStore('postgresql://postgres@127.0.0.1:1/none', { schema: 'hookbox' });
    expect(store.engine).toBe('postgres');
    await store.close();
  });
});
