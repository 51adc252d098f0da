import type { Command } from 'commander';
import { loadConfig, type ResolvedConfig } from '../config/load.ts';
import { ConfigError } from '../hookbox.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';

/** Load the config named by the global --config option (plus flag overrides), or exit 2 listing every problem. */
export async function loadCliConfig(
  command: Command,
  overrides: Record<string, string | undefined> = {},
): Promise<ResolvedConfig> {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  try {
    // Flags win over the environment; loadConfig stays the one reader of it.
    return await loadConfig({ configFile: config, env: { ...process.env, ...defined } });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2);
    throw error;
  }
}

/** The store the server uses, migrated, for commands that read or act on events. */
export async function openCliStore(command: Command): Promise<Store> {
  const config = await loadCliConfig(command);
  const store = openStore(config.databaseUrl);
  await store.migrate();
  return store;
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`hookbox: ${message}\n`);
  process.exit(code);
}

/** Parse a time given as ISO 8601, unix seconds, or a relative age like 90d / 12h / 30m. */
export function parseTime(value: string, now = Date.now()): number {
  const relative = /^(\d+)(s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(relative[1]) * unit;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new Error(`"${value}" is not a time: use ISO 8601, unix seconds, or an age like 90d`);
  return ms;
}

/** Print rows as an aligned text table. */
export function printTable(rows: Record<string, string | number | null>[], columns: string[]): void {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => String(row[c] ?? '')))}\n`);
}
