import { createHash } from 'node:crypto';
import type { HeaderReader } from '../providers/types.ts';
import type { OrderingSettings } from './settings.ts';

/** Ordering keys longer than this (UTF-8 bytes) are stored by their SHA-256, like dedupe keys. */
export const maxOrderingKeyBytes = 512;

const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What ingest stores about an event's place in its key; null for an unordered event. */
export interface EventOrdering {
  key: string;
  /** The provider's event time where its scheme has one, else the receipt time (epoch ms). */
  orderedAt: number;
  /** How long from the store's now the event is held before it may run. */
  holdMs: number;
  onDead: 'block' | 'skip';
}

/**
 * The key as stored: a value that neither engine stores faithfully (a NUL, an unpaired
 * surrogate) leaves the event unordered rather than refusing the delivery (the event is kept;
 * only its ordering is lost, and the caller logs it); a long one is stored by its hash.
 */
export function normalizeOrderingKey(raw: string): { ok: true; key: string } | { ok: false; reason: string } {
  if (raw.includes('\u0000')) return { ok: false, reason: 'contains a NUL character' };
  if (unpairedSurrogate.test(raw)) return { ok: false, reason: 'contains an unpaired UTF-16 surrogate' };
  const key =
    Buffer.byteLength(raw, 'utf8') > maxOrderingKeyBytes
      ? `sha256:${createHash('sha256').update(raw, 'utf8').digest('hex')}`
      : raw;
  return { ok: true, key };
}

/**
 * The provider's own event time, from signed data only: Stripe's `created` (seconds, in the
 * signed body), Standard Webhooks' `webhook-timestamp` (seconds, a signed header), PayPal's
 * `create_time` (ISO 8601, in the body, which PayPal's signature covers through its CRC).
 */
export function readProviderEventTime(
  provider: string,
  payload: unknown,
  headers: HeaderReader,
): number | undefined {
  const body = payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
  if (provider === 'stripe') return secondsToMs(body.created);
  if (provider === 'standard-webhooks')
    return secondsToMs(Number(headers.get('webhook-timestamp') ?? Number.NaN));
  if (provider === 'paypal' && typeof body.create_time === 'string') {
    const ms = Date.parse(body.create_time);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

function secondsToMs(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.round(value * 1000)
    : undefined;
}

export interface OrderingDecision {
  ordering: EventOrdering | null;
  /** Set when the payload had a key that could not be used (the event is then unordered). */
  unorderedBecause?: string;
}

/** Where an event goes in its key, from the verified payload; null ordering = unordered. */
export function decideOrdering(
  settings: OrderingSettings,
  provider: string,
  payload: unknown,
  headers: HeaderReader,
  receivedAt: number,
): OrderingDecision {
  let raw: string | undefined;
  try {
    raw = settings.readKey(payload);
  } catch (error) {
    return {
      ordering: null,
      unorderedBecause: `the ordering key function threw: ${(error as Error).message}`,
    };
  }
  if (raw === undefined) return { ordering: null };
  const normalized = normalizeOrderingKey(raw);
  if (!normalized.ok) return { ordering: null, unorderedBecause: `its ordering key ${normalized.reason}` };
  return {
    ordering: {
      key: normalized.key,
      orderedAt: readProviderEventTime(provider, payload, headers) ?? receivedAt,
      holdMs: settings.reorderWindowMs,
      onDead: settings.onDead,
    },
  };
}
