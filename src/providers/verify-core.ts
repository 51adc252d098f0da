/**
 * The one verification core every signature scheme goes through: HMAC with cached keys,
 * constant-time comparison, secret rotation, timestamp tolerance, header-list parsing, and
 * the diagnosis of a body that was re-serialized before it reached us.
 *
 * Schemes stay thin: they parse their headers, say which bytes are signed, and call here.
 */
import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { Accepted, Delivery, HeaderReader, Rejection } from './types.ts';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';
/** How a configured secret string turns into key bytes: as UTF-8 text, or base64 (Standard Webhooks' `whsec_`). */
export type SecretEncoding = 'utf8' | 'base64';
/** Signed content given as parts, so a large body is hashed in place instead of copied into one buffer. */
export type SignedContent = readonly (string | Uint8Array)[];

/** A small LRU: a Map keeps insertion order, so re-inserting on a hit moves the entry to the young end. */
export class LruCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** The entry without refreshing its age. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

// Building a KeyObject per delivery costs more than the HMAC of a small body; secrets are few
// and long-lived, so keep their KeyObjects. Bounded so a config reload loop cannot grow it forever.
const secretKeys = new LruCache<string, KeyObject>(512);

/** The cached KeyObject for a configured secret. */
export function getSecretKey(secret: string, encoding: SecretEncoding = 'utf8'): KeyObject {
  const cacheKey = `${encoding}:${secret}`;
  let key = secretKeys.get(cacheKey);
  if (key === undefined) {
    key = createSecretKey(decodeSecret(secret, encoding));
    secretKeys.set(cacheKey, key);
  }
  return key;
}

function decodeSecret(secret: string, encoding: SecretEncoding): Buffer {
  if (encoding === 'utf8') return Buffer.from(secret, 'utf8');
  // Standard Webhooks secrets carry a `whsec_` prefix before the base64 key bytes.
  const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  return Buffer.from(base64, 'base64');
}

/** HMAC of the concatenated parts (strings as UTF-8) with one secret. */
export function computeHmac(
  algorithm: HmacAlgorithm,
  secret: string,
  content: SignedContent,
  secretEncoding: SecretEncoding = 'utf8',
): Buffer {
  const hmac = createHmac(algorithm, getSecretKey(secret, secretEncoding));
  for (const part of content) hmac.update(part);
  return hmac.digest();
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export type SignatureEncoding = 'hex' | 'base64' | 'base64url';

/**
 * Spellings of the same bytes a scheme takes besides the canonical one. The official verifiers
 * compare the signature as text, so by default only the one spelling they produce is accepted:
 * lower-case hex, or base64 in its alphabet with its padding and the unused low bits of the
 * last character zero. Any other spelling would be a difference from the provider nobody wrote
 * down (docs/providers.md lists the ones a scheme keeps, and why).
 */
export interface SpellingTolerance {
  /** Hex digits A-F as well as a-f. */
  anyCaseHex?: boolean;
  /** Base64 without its `=` padding. */
  unpadded?: boolean;
  /** Whatever Node's base64 decoder takes: either alphabet, any padding, non-zero unused bits. */
  anyBase64?: boolean;
}

const LOWER_HEX = /^(?:[0-9a-f]{2})+$/;
const ANY_CASE_HEX = /^(?:[0-9a-fA-F]{2})+$/;
const ANY_BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * The bytes of a signature as sent, or undefined when it is not the spelling the scheme takes.
 * Buffer.from() silently drops bad characters and ignores unused bits, which would let many
 * strings decode to the same bytes, so the text is checked first: re-encoding the bytes must
 * give the text back.
 */
export function decodeSignature(
  text: string,
  encoding: SignatureEncoding,
  tolerance: SpellingTolerance = {},
): Buffer | undefined {
  if (text.length === 0) return undefined;
  if (encoding === 'hex') {
    const pattern = tolerance.anyCaseHex ? ANY_CASE_HEX : LOWER_HEX;
    return pattern.test(text) ? Buffer.from(text, 'hex') : undefined;
  }
  if (tolerance.anyBase64) return ANY_BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
  const bytes = Buffer.from(text, encoding);
  // Node writes base64 padded and base64url unpadded; the canonical forms are those, with and without padding.
  const written = bytes.toString(encoding);
  const bare = written.replace(/=+$/, '');
  const padded = bare.padEnd(Math.ceil(bare.length / 4) * 4, '=');
  const canonical = encoding === 'base64' ? padded : bare;
  if (text === canonical) return bytes;
  if (tolerance.unpadded && (text === bare || text === padded)) return bytes;
  return undefined;
}

/**
 * Constant-time equality of two byte strings. A length difference returns false at once: the
 * expected length is fixed by the algorithm and public, so it leaks nothing; the content is
 * always compared in full by timingSafeEqual.
 */
export function equalSignatures(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

export interface HmacCheck {
  algorithm: HmacAlgorithm;
  /** Every secret configured for the source (rotation: new and old side by side). */
  secrets: readonly string[];
  secretEncoding?: SecretEncoding;
  content: SignedContent;
  /** Every signature the request carries (already decoded to bytes). */
  signatures: readonly Uint8Array[];
}

/**
 * The index of the first secret whose HMAC equals one of the candidate signatures, or -1.
 * Each comparison is constant-time; returning on the first match only tells a caller who
 * already holds a valid signature that it is valid.
 */
export function findMatchingSecret(check: HmacCheck): number {
  if (check.signatures.length === 0) return -1;
  for (const [index, secret] of check.secrets.entries()) {
    const expected = computeHmac(check.algorithm, secret, check.content, check.secretEncoding);
    let matched = false;
    // No early exit among the candidates: each one is compared whatever the others gave.
    for (const signature of check.signatures) {
      if (equalSignatures(expected, signature)) matched = true;
    }
    if (matched) return index;
  }
  return -1;
}

export function matchesAnySecret(check: HmacCheck): boolean {
  return findMatchingSecret(check) !== -1;
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/** Unix seconds from a header, or undefined when it is not a plain non-negative integer. */
export function parseUnixSeconds(text: string | undefined | null): number | undefined {
  if (text === undefined || text === null) return undefined;
  const trimmed = text.trim();
  if (!/^\d{1,12}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/**
 * Why a signed timestamp is outside the tolerance, or undefined when it is within it.
 * Whole seconds, as the senders count them (age = floor(now / 1000) - timestamp).
 */
export function describeTimestampSkew(
  timestampSeconds: number,
  nowMs: number,
  toleranceSeconds: number,
): string | undefined {
  const age = Math.floor(nowMs / 1000) - timestampSeconds;
  if (age > toleranceSeconds) {
    return `timestamp ${age} s older than the ${toleranceSeconds} s tolerance: a replayed or long-delayed delivery; if every delivery fails this way, check this server's clock`;
  }
  if (-age > toleranceSeconds) {
    return `timestamp ${-age} s in the future, beyond the ${toleranceSeconds} s tolerance: check the clocks of the sender and of this server`;
  }
  return undefined;
}

export function checkTimestampTolerance(
  timestampSeconds: number,
  nowMs: number,
  toleranceSeconds: number,
): Rejection | undefined {
  const problem = describeTimestampSkew(timestampSeconds, nowMs, toleranceSeconds);
  return problem === undefined ? undefined : reject('timestamp_outside_tolerance', problem);
}

// ---------------------------------------------------------------------------------------------
// Header lists

/** Split a header list on a separator, trimming entries and dropping empty ones. */
export function splitHeaderList(value: string, separator: string | RegExp = ','): string[] {
  const entries: string[] = [];
  for (const entry of value.split(separator)) {
    const trimmed = entry.trim();
    if (trimmed !== '') entries.push(trimmed);
  }
  return entries;
}

/** `a=1, b=2,b=3` as ordered [key, value] pairs, split at the first `=`; spaces around entries tolerated. */
export function parseKeyValueList(value: string, separator: string | RegExp = ','): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const entry of splitHeaderList(value, separator)) {
    const equals = entry.indexOf('=');
    if (equals === -1) pairs.push([entry, '']);
    else pairs.push([entry.slice(0, equals).trim(), entry.slice(equals + 1).trim()]);
  }
  return pairs;
}

/** A header's value, or undefined when absent or blank. */
export function readHeader(headers: HeaderReader, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null && value.trim() !== '') return value.trim();
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// JSON

export type JsonParse = { ok: true; value: unknown } | { ok: false; error: string };

export function parseJson(body: Uint8Array | string): JsonParse {
  try {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a dotted path (`data.id`, `items.0.id`), or undefined. */
export function readJsonPath(value: unknown, path: string): unknown {
  let current = value;
  for (const segment of path.split('.')) {
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isRecord(current)) current = Object.hasOwn(current, segment) ? current[segment] : undefined;
    else return undefined;
  }
  return current;
}

/** A string or number at a path, as a non-empty string (ids are sometimes numeric). */
export function readJsonKey(value: unknown, path: string): string | undefined {
  const found = readJsonPath(value, path);
  if (typeof found === 'string' && found !== '') return found;
  if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  return undefined;
}

export function looksLikeJson(body: Uint8Array, contentType: string | null): boolean {
  if (contentType !== null && /\bjson\b/i.test(contentType)) return true;
  for (const byte of body) {
    // Skip leading whitespace; a JSON document here starts with an object or array.
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x7b || byte === 0x5b;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Results

export function reject(code: Rejection['code'], message: string): Rejection {
  return { ok: false, code, message };
}

export function accept(fields: Omit<Accepted, 'ok'>): Accepted {
  return { ok: true, ...fields };
}

/**
 * Forms of a JSON body that frameworks commonly produce after parsing it: compact
 * `JSON.stringify` and 2-space pretty printing. Empty when the body is not JSON; forms equal
 * to the raw body are left out (they were already tried).
 */
export function reserializedForms(body: Uint8Array): Buffer[] {
  const parsed = parseJson(body);
  if (!parsed.ok) return [];
  const raw = Buffer.from(body);
  const forms: Buffer[] = [];
  for (const text of [JSON.stringify(parsed.value), JSON.stringify(parsed.value, null, 2)]) {
    if (text === undefined) continue;
    const form = Buffer.from(text, 'utf8');
    if (!form.equals(raw) && !forms.some((seen) => seen.equals(form))) forms.push(form);
  }
  return forms;
}

/**
 * Above this size the live receive route skips the re-serialization diagnosis: parsing and
 * re-serializing a large forged body twice would cost an unauthenticated sender's target more
 * CPU than a genuine delivery of that size (bench/scenarios/forgery-cost.ts). Provider bodies
 * are mostly a few KiB, so the diagnosis still covers the usual case; `hookbox verify` asks for
 * it whatever the size (`Delivery.diagnose`).
 */
export const RESERIALIZATION_CHECK_MAX_BYTES = 16 * 1024;

/** The re-serialized forms worth trying for this delivery: none when it is too large to diagnose. */
export function diagnosableForms(delivery: Pick<Delivery, 'body' | 'diagnose'>): Buffer[] {
  if (!delivery.diagnose && delivery.body.length > RESERIALIZATION_CHECK_MAX_BYTES) return [];
  return reserializedForms(delivery.body);
}

const reserializedMessage = (label: string) =>
  `no ${label} matches the raw body, but one matches a re-serialized form: pass the raw request body bytes, not parsed JSON`;

/**
 * The rejection for a body no signature matches. Only on this failure path, and only for a
 * body small enough (diagnosableForms), the body is re-serialized the ways frameworks do it and
 * checked again: a match means the signature is genuine but the application handed over
 * parsed-then-stringified JSON instead of the raw bytes, which is the most common integration
 * mistake and worth naming precisely.
 */
export function rejectMismatch(options: {
  delivery: Pick<Delivery, 'body' | 'diagnose'>;
  /** What is being matched, e.g. `v1 signature`. */
  label: string;
  /** The message when no re-serialized form matches either. */
  mismatchMessage: string;
  /** Whether the signature matches when `candidate` is taken as the body. */
  matchesBody: (candidate: Buffer) => boolean;
}): Rejection {
  if (diagnosableForms(options.delivery).some(options.matchesBody)) {
    return reject('signature_body_reserialized', reserializedMessage(options.label));
  }
  return reject('signature_mismatch', options.mismatchMessage);
}

/**
 * For schemes that sign the raw body alone with HMAC-SHA256 (GitHub, Shopify): undefined when
 * one of `secrets` produced `signature` over the delivery's body, else the rejection
 * rejectMismatch gives.
 */
export function checkBodyHmac(options: {
  delivery: Pick<Delivery, 'body' | 'diagnose'>;
  secrets: readonly string[];
  signature: Buffer;
  label: string;
  mismatchMessage: string;
}): Rejection | undefined {
  const { delivery, secrets, signature, label, mismatchMessage } = options;
  const matchesBody = (body: Uint8Array) =>
    matchesAnySecret({ algorithm: 'sha256', secrets, content: [body], signatures: [signature] });
  return matchesBody(delivery.body)
    ? undefined
    : rejectMismatch({ delivery, label, mismatchMessage, matchesBody });
}

/** The same diagnosis for async checks (RSA signatures over a CRC of the body). */
export async function rejectMismatchAsync(options: {
  delivery: Pick<Delivery, 'body' | 'diagnose'>;
  label: string;
  mismatchMessage: string;
  matchesBody: (candidate: Buffer) => Promise<boolean> | boolean;
}): Promise<Rejection> {
  for (const form of diagnosableForms(options.delivery)) {
    if (await options.matchesBody(form)) {
      return reject('signature_body_reserialized', reserializedMessage(options.label));
    }
  }
  return reject('signature_mismatch', options.mismatchMessage);
}

/** The error text of anything thrown, for messages. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
