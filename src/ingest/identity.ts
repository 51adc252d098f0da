import { createHash } from 'node:crypto';

/** Dedupe keys longer than this (UTF-8 bytes) are stored by their SHA-256: a B-tree key must stay small. */
export const maxDedupeKeyBytes = 512;
/** Event types longer than this (UTF-8 bytes) are refused: no provider has one, and handlers route on it. */
export const maxEventTypeBytes = 256;

const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export type IdentityCheck =
  | { ok: true; dedupeKey: string; eventType: string }
  | { ok: false; field: 'event id' | 'event type'; message: string };

/**
 * What goes into a stored key or type, normalised or refused the same way on both engines
 * before the batch, so neither engine ever sees a value it would store differently or not at
 * all: a NUL or an unpaired surrogate is refused (PostgreSQL cannot store the first in text and
 * silently replaces the second, SQLite would keep both), an empty one is refused, and a key too
 * long for an index is stored by its hash.
 */
export function normalizeIdentity(dedupeKey: string, eventType: string): IdentityCheck {
  const keyProblem = describeUnstorable(dedupeKey);
  if (keyProblem) {
    return {
      ok: false,
      field: 'event id',
      message: `the event id (the dedupe key) ${keyProblem}, which cannot be stored: nothing was stored`,
    };
  }
  const typeProblem = describeUnstorable(eventType);
  if (typeProblem) {
    return {
      ok: false,
      field: 'event type',
      message: `the event type ${typeProblem}, which cannot be stored: nothing was stored`,
    };
  }
  const typeBytes = Buffer.byteLength(eventType, 'utf8');
  if (typeBytes > maxEventTypeBytes) {
    return {
      ok: false,
      field: 'event type',
      message: `the event type is ${typeBytes} bytes long, over the ${maxEventTypeBytes} Hookbox stores: nothing was stored`,
    };
  }
  const key =
    Buffer.byteLength(dedupeKey, 'utf8') > maxDedupeKeyBytes
      ? `sha256:${createHash('sha256').update(dedupeKey, 'utf8').digest('hex')}`
      : dedupeKey;
  return { ok: true, dedupeKey: key, eventType };
}

function describeUnstorable(value: string): string | null {
  if (value.length === 0) return 'is empty';
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (unpairedSurrogate.test(value)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return null;
}
