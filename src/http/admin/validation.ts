import type { z } from 'zod';
import { HookboxError } from '../../errors.ts';

/**
 * The times Hookbox takes as input, in epoch milliseconds: from the Unix epoch to the end of
 * the year 9999 (the last a four-digit ISO 8601 year writes). JavaScript dates reach much
 * further (year -271821 to 275760), PostgreSQL's timestamps do not, so anything outside is
 * refused at the edge instead of reaching the database.
 */
export const earliestTimeMs = 0;
export const latestTimeMs = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const timeRangeMessage = 'a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z';

export function isTimeInRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= earliestTimeMs && ms <= latestTimeMs;
}

export interface FieldError {
  in: 'query' | 'body' | 'path';
  /** Dotted path of the field, e.g. `params.olderThanDays`; empty for the whole body. */
  path: string;
  message: string;
}

/** Parse input with a schema, or throw invalid_input (400) listing every invalid field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: FieldError['in'],
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields: FieldError[] = result.error.issues.flatMap((issue) => {
    // An unknown key is reported on the parent: name each key instead.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [null];
    return keys.map((key) => ({
      in: where,
      path: [...issue.path, ...(key === null ? [] : [key])].map(String).join('.'),
      message: issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message,
    }));
  });
  const summary = fields.map((f) => `${f.path || where}: ${f.message}`).join('; ');
  throw new HookboxError('invalid_input', `invalid ${where}: ${summary}`, fields);
}

/** The JSON body, or invalid_input when it is not JSON; an empty body is `undefined`. */
export async function readJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HookboxError('invalid_input', 'invalid body: send JSON (Content-Type: application/json)', [
      { in: 'body', path: '', message: 'the body is not valid JSON' },
    ] satisfies FieldError[]);
  }
}
