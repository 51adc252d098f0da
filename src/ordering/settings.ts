/**
 * A source's `ordering` key (docs/ordering.md): which events are about one object (the ordering
 * key, read from the signed, parsed body at ingest), how long a new event is held so a late
 * delivery can still take its place, and what a dead head does to its key.
 */
import { z } from 'zod';
import { presetPaths } from './presets.ts';

/** A key function (library only): the payload in, the key out; undefined leaves the event unordered. */
export type OrderingKeyFunction = (payload: unknown) => string | undefined | null;

/** How a source orders its events, as written in config. */
export interface OrderingDefinition {
  /**
   * A dotted JSON path into the payload (`data.object.id`), several paths whose values are joined,
   * `'preset'` for the provider's preset, or (library only) a function of the payload.
   */
  key: string | string[] | OrderingKeyFunction;
  /** Hold a new event this long after receipt before it may run (default 0). */
  reorderWindowMs?: number;
  /** A dead head blocks its key until an operator retries or skips it (`block`, default) or lets the next run (`skip`). */
  onDead?: 'block' | 'skip';
}

/** A source's ordering, resolved: the key reader and the two settings. */
export interface OrderingSettings {
  /** The key's raw value read from a payload; undefined when it has none (the event is unordered). */
  readKey: (payload: unknown) => string | undefined;
  reorderWindowMs: number;
  onDead: 'block' | 'skip';
}

const pathPattern = /^[^.\s]+(\.[^.\s]+)*$/;
const pathSchema = z
  .string()
  .regex(pathPattern, { error: 'use a dotted JSON path such as "data.object.id"' });

export const orderingSchema = z.strictObject({
  key: z.union(
    [
      pathSchema,
      z.array(pathSchema).min(1, { error: 'list at least one JSON path' }),
      z.custom<OrderingKeyFunction>((value) => typeof value === 'function'),
    ],
    {
      error:
        'use a dotted JSON path ("data.object.id"), a list of paths, "preset", or a function of the payload',
    },
  ),
  reorderWindowMs: z
    .number()
    .int({ error: 'use a whole number of milliseconds' })
    .min(0)
    .max(3_600_000, { error: 'at most 3600000 (one hour): a longer hold delays every event of the source' })
    .default(0),
  onDead: z.enum(['block', 'skip'], { error: 'use "block" or "skip"' }).default('block'),
});

/**
 * Resolve a validated definition for one provider; throws (with a message that says what to
 * write) when `key: 'preset'` names a provider without a preset.
 */
export function resolveOrdering(
  definition: z.output<typeof orderingSchema>,
  provider: string,
): OrderingSettings {
  const { key } = definition;
  let readKey: OrderingSettings['readKey'];
  if (typeof key === 'function') {
    readKey = (payload) => {
      const value = key(payload);
      return typeof value === 'string' && value.length > 0 ? value : undefined;
    };
  } else {
    let paths: string[][];
    if (key === 'preset') {
      const preset = presetPaths[provider];
      if (!preset) {
        throw new Error(
          `${provider} has no ordering preset: name the JSON path of the object's id, e.g. key: "data.id" (presets: ${Object.keys(presetPaths).join(', ')})`,
        );
      }
      paths = preset;
    } else paths = (Array.isArray(key) ? key : [key]).map((path) => [path]);
    readKey = (payload) => readKeyPaths(payload, paths);
  }
  return { readKey, reorderWindowMs: definition.reorderWindowMs, onDead: definition.onDead };
}

/**
 * Each entry is one part of the key: the first of its alternative paths that has a value. The
 * key is the parts joined with "|"; a part without a value leaves the event unordered.
 */
export function readKeyPaths(payload: unknown, parts: string[][]): string | undefined {
  const values: string[] = [];
  for (const alternatives of parts) {
    let found: string | undefined;
    for (const path of alternatives) {
      found = scalarAt(payload, path);
      if (found !== undefined) break;
    }
    if (found === undefined) return undefined;
    values.push(found);
  }
  return values.join('|');
}

/** A string, number or boolean at a dotted path, as text; undefined for missing, null, empty, objects. */
function scalarAt(payload: unknown, path: string): string | undefined {
  let value: unknown = payload;
  for (const segment of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}
