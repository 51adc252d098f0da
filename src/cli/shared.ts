import type { Command } from 'commander';
import { type LoadConfigOptions, loadConfig, type ResolvedConfig } from '../config/load.ts';
import { isTimeInRange, timeRangeMessage } from '../http/admin/validation.ts';
import type { Store } from '../store/types.ts';
import { openMigratedStore } from './check-schema.ts';

/**
 * Load the config named by the global --config option. A ConfigError goes up to main, which
 * prints every problem and exits 2.
 */
export async function loadCliConfig(
  command: Command,
  options: Pick<LoadConfigOptions, 'flags' | 'demo' | 'requireSource'> = {},
): Promise<ResolvedConfig> {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  return loadConfig({ ...options, configFile: config });
}

/** The store the server uses, for commands that read or act on events: never migrated here. */
export async function openCliStore(command: Command): Promise<Store> {
  const config = await loadCliConfig(command);
  return openMigratedStore(config.databaseUrl);
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`hookbox: ${message}\n`);
  process.exit(code);
}

/**
 * Parse a time given as ISO 8601, unix seconds, or a relative age like 90d / 12h / 30m. Throws
 * a one-line message for anything else, and for times outside the years 1970 to 9999, which
 * JavaScript can hold but the stores cannot.
 */
export function parseTime(value: string, now = Date.now()): number {
  const relative = /^(\d+)(s|m|h|d)$/.exec(value);
  let ms: number;
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    ms = now - Number(relative[1]) * unit;
  } else if (/^\d+(\.\d+)?$/.test(value)) {
    ms = Math.round(Number(value) * 1000);
  } else {
    ms = Date.parse(value);
  }
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Number.isNaN(ms))
    throw new Error(`${shown} is not a time: use ISO 8601, unix seconds, or an age like 90d`);
  if (!isTimeInRange(ms))
    throw new Error(`${shown} is outside the years 1970 to 9999: use ${timeRangeMessage}`);
  return ms;
}

/** A time option's value (parseTime), or exit 2 with one line naming the option; undefined when not given. */
export function parseTimeOption(flag: string, value: string, now?: number): number;
export function parseTimeOption(flag: string, value: string | undefined, now?: number): number | undefined;
export function parseTimeOption(flag: string, value: string | undefined, now?: number): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseTime(value, now);
  } catch (error) {
    fail(`${flag}: ${(error as Error).message}`, 2);
  }
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
