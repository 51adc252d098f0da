/**
 * Commands other than `serve` and `migrate` never change the schema: they check that the store
 * is migrated to what this Hookbox knows, and otherwise say to run `hookbox migrate`. A CLI run
 * against the wrong DATABASE_URL then creates nothing there.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { readMigrations, selectPendingMigrations } from '../store/migrate.ts';
import { describeDatabaseUrl, openStore, parseDatabaseUrl, type StoreLocation } from '../store/open-store.ts';
import { readSqlFiles } from '../store/sql-files.ts';
import type { Store } from '../store/types.ts';
import { CliFailure, exitCodes } from './failures.ts';

/** Open the store, after checking that its schema is there and current (a CliFailure, exit 3, if not). */
export async function openMigratedStore(databaseUrl: string | undefined): Promise<Store> {
  await checkSchema(databaseUrl);
  return openStore(databaseUrl);
}

const runMigrate =
  "run `hookbox migrate` (or start `hookbox serve`, which migrates), or point DATABASE_URL at the server's database";

export async function checkSchema(databaseUrl: string | undefined): Promise<void> {
  const location = parseDatabaseUrl(databaseUrl);
  const where = describeDatabaseUrl(databaseUrl);
  const folder = new URL(`../store/${location.engine}/`, import.meta.url);
  const known = readMigrations(new URL('migrations/', folder));
  const { 'list-applied-migrations': listApplied } = readSqlFiles(new URL('sql/', folder), [
    'list-applied-migrations',
  ]);
  const applied =
    location.engine === 'sqlite'
      ? readSqliteVersions(location, listApplied, where)
      : await readPostgresVersions(location, listApplied);
  if (applied === null) {
    throw new CliFailure(
      `the database ${where} has no Hookbox schema yet: ${runMigrate}`,
      exitCodes.unavailable,
    );
  }
  let pending: ReturnType<typeof selectPendingMigrations>;
  try {
    pending = selectPendingMigrations(known, applied);
  } catch (error) {
    throw new CliFailure((error as Error).message, exitCodes.unavailable);
  }
  if (pending.length > 0) {
    const newest = known.at(-1)!.version;
    throw new CliFailure(
      `the database ${where} is at schema version ${Math.max(0, ...applied)} and this Hookbox needs ${newest}: ${runMigrate}`,
      exitCodes.unavailable,
    );
  }
}

/** Applied versions, or null when there is no migrations table (or no file) at all. */
function readSqliteVersions(
  location: Extract<StoreLocation, { engine: 'sqlite' }>,
  listApplied: string,
  where: string,
): number[] | null {
  const { path } = location;
  if (path === ':memory:' || path === '' || !existsSync(path)) return null;
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CliFailure(`cannot open ${where} (${(error as Error).message})`, exitCodes.unavailable);
  }
  try {
    return db.prepare(listApplied).pluck().all() as number[];
  } catch (error) {
    if (/no such table/i.test((error as Error).message)) return null;
    throw error;
  } finally {
    db.close();
  }
}

async function readPostgresVersions(
  location: Extract<StoreLocation, { engine: 'postgres' }>,
  listApplied: string,
): Promise<number[] | null> {
  const client = new pg.Client({
    connectionString: location.connectionString,
    connectionTimeoutMillis: 5000,
    ...(location.schema ? { options: `-c search_path=${location.schema}` } : {}),
  });
  // Connection errors go up as they are: the CLI explains them (PostgreSQL down, no database...).
  await client.connect();
  try {
    const result = await client.query<{ version: number }>(listApplied);
    return result.rows.map((row) => Number(row.version));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return null;
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}
