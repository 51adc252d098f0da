/**
 * Configuration problems: one error listing every problem at once, and the translation of zod
 * issues into lines that say where (`sources.stripe.secrets`) and what to do, including the
 * "did you mean `handlers`?" hint for an unknown key.
 */
import type { z } from 'zod';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    // One problem fits on one line; several are listed one per line below a heading.
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

interface Issue {
  code?: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  expected?: string;
}

export interface DescribeOptions {
  /** The schema that raised the issues: unknown keys are then matched against the keys it knows. */
  schema?: z.ZodType;
  /** More keys that are valid where the issue's path is empty (a source's Hookbox-level keys). */
  siblingKeys?: readonly string[];
}

/** One problem: where (a dotted path, '' for the value itself) and what to do. */
export interface Problem {
  path: string;
  message: string;
}

/** The problems of a zod error (or of any error, at the empty path). */
export function listProblems(error: unknown, options: DescribeOptions = {}): Problem[] {
  const issues = (error as { issues?: Issue[] }).issues;
  if (!Array.isArray(issues)) return [{ path: '', message: (error as Error).message }];
  return issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      const known = [
        ...(options.schema ? (knownKeysAt(options.schema, path) ?? []) : []),
        ...(path.length === 0 ? (options.siblingKeys ?? []) : []),
      ];
      return issue.keys.map((key) => ({
        path: [...path, key].join('.'),
        message: unknownKeyMessage(key, known),
      }));
    }
    return [{ path: path.join('.'), message: plainMessage(issue) }];
  });
}

/** Problem lines (`prefix.path: message`) for a zod error (or any error) found under `prefix`. */
export function describeProblems(prefix: string, error: unknown, options: DescribeOptions = {}): string[] {
  return listProblems(error, options).map(({ path, message }) => `${joinPath(prefix, path)}: ${message}`);
}

export function joinPath(prefix: string, path: string): string {
  if (path === '') return prefix;
  return prefix === '' ? path : `${prefix}.${path}`;
}

/** "unknown key; did you mean `x`?", or the list of keys that are known when none is close. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const nearest = findNearest(key, known);
  if (nearest !== undefined) return `unknown key; did you mean \`${nearest}\`?`;
  if (known.length === 0) return 'unknown key';
  return `unknown key; use one of ${known.map((k) => `\`${k}\``).join(', ')}`;
}

function plainMessage(issue: Issue): string {
  // zod says "expected string, received undefined" for a key that is not there at all.
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
    return `missing: add it${issue.expected ? ` (${issue.expected})` : ''}`;
  }
  return issue.message;
}

/**
 * The known word closest to `word` by edit distance (letter case ignored, a swap of two
 * neighbours counting once), or undefined when none is close enough to be a typo of it.
 */
export function findNearest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the word may be wrong, at least one letter and at most three.
  const allowed = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  if (bestDistance <= allowed) return best;
  // A word cut short or run on (`tolerance` for `toleranceSeconds`): the closest in length.
  if (lower.length < 4) return undefined;
  return candidates
    .filter((c) => c.toLowerCase().startsWith(lower) || (c.length >= 4 && lower.startsWith(c.toLowerCase())))
    .sort((a, b) => Math.abs(a.length - word.length) - Math.abs(b.length - word.length))[0];
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]!.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]!.push(value);
    }
  }
  return rows[a.length]![b.length]!;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The object keys a schema accepts at `path` (through optionals, defaults, transforms, unions...). */
export function knownKeysAt(schema: z.ZodType, path: readonly string[]): string[] | undefined {
  const found = descend(schema, path);
  if (found.length === 0) return undefined;
  const keys = found.flatMap((s) => {
    const def = defOf(s);
    return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
  });
  return keys.length > 0 ? [...new Set(keys)] : undefined;
}

/** Every schema that can stand at `path` below `schema`, unwrapped down to objects and leaves. */
function descend(schema: z.ZodType, path: readonly string[]): z.ZodType[] {
  const here = unwrap(schema);
  if (path.length === 0) return here;
  const [step, ...rest] = path as [string, ...string[]];
  return here.flatMap((s) => {
    const def = defOf(s);
    const next =
      def.type === 'object'
        ? def.shape?.[step]
        : def.type === 'array'
          ? def.element
          : def.type === 'record'
            ? def.valueType
            : undefined;
    return next ? descend(next, rest) : [];
  });
}

function unwrap(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'lazy' && def.getter) return unwrap(def.getter());
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  if (def.type === 'intersection' && def.left && def.right)
    return [...unwrap(def.left), ...unwrap(def.right)];
  return [schema];
}
