/**
 * Redaction of credentials, signatures and card data: one Redaction, built once from the
 * config and the providers' declared headers, is the only place that decides, for
 * - stored headers: credential headers are never stored (invariant 2); signature headers are,
 *   so an event can be re-verified;
 * - every output of a stored event (admin API, dashboard, `hookbox events show`): credential
 *   and signature headers masked (`showableHeaders`);
 * - stored bodies, opt-in per source: JSON paths and card numbers are masked before the body is
 *   stored. This breaks re-verification of those deliveries (the signature covers the original
 *   bytes), so it is off unless a source asks for it (docs/reliability.md);
 * - logs, always: credential and signature headers and fields by name, card numbers by
 *   pattern, anywhere.
 */

import { declaredSecretHeaders } from './providers/registry.ts';

export const redactedValue = '[redacted]';

/** Header names never stored and always masked in logs. */
export const defaultRedactedHeaders: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
]);

/**
 * JSON paths masked in logs and in the stored bodies of sources that opt in. `*` matches one
 * key or array index, `**` any number of them (zero included).
 */
export const defaultRedactedJsonPaths: readonly string[] = Object.freeze([
  '**.card.number',
  '**.card.cvc',
  '**.card_number',
  '**.cardNumber',
  '**.cvc',
  '**.cvc2',
  '**.cvv',
  '**.cvv2',
  '**.pan',
  '**.security_code',
]);

export interface RedactionSettings {
  /** Header names added to the defaults (case-insensitive). */
  headers?: string[];
  /** JSON paths added to the defaults, e.g. `data.object.customer.email` or `*.iban`. */
  jsonPaths?: string[];
  /**
   * Sources whose stored bodies are redacted (`'*'` for all). Off by default: a redacted body
   * cannot be re-verified against the provider's signature.
   */
  storedBodySources?: string[];
}

/** Headers as any layer has them: a web `Headers`, a plain object, or [name, value] pairs. */
export type HeaderEntries = Headers | Readonly<Record<string, string>> | Iterable<readonly [string, string]>;

export interface Redaction {
  /** Credential headers: never stored, masked everywhere (lower case). */
  readonly headers: ReadonlySet<string>;
  /**
   * Every header whose value never leaves through an output or a log: the credential headers,
   * plus the signature and credential headers the providers declare (their fixed names and
   * those configured per source, such as generic-hmac's `header`).
   */
  readonly maskedHeaders: ReadonlySet<string>;
  readonly jsonPaths: readonly string[];
  /** Whether this source's stored bodies are redacted. */
  redactsStoredBody(source: string): boolean;
  /** The headers fit to store, names in lower case: credential headers dropped, signatures kept. */
  storableHeaders(headers: HeaderEntries): Record<string, string>;
  /**
   * Stored headers as every output shows them (admin API, dashboard, CLI): the value of each
   * masked header, and of any header named like a credential a sender added, replaced by
   * `[redacted]`.
   */
  showableHeaders(headers: HeaderEntries): Record<string, string>;
  /**
   * The body with the configured JSON paths and any card number masked, the rest byte for
   * byte as received. In a body that is not JSON, only card numbers are masked.
   */
  redactBody(body: Buffer): Buffer;
  /** A copy of a log object with credential and card fields masked (see redactLogValue). */
  redactLogObject(value: Record<string, unknown>): Record<string, unknown>;
}

/**
 * @param signatureHeaders header names a source configures for its signature (generic HMAC's
 *   `header`), masked on every output but still stored. Every registered scheme's own
 *   signature and credential headers are masked whatever is passed here.
 */
export function createRedaction(
  settings: RedactionSettings = {},
  signatureHeaders: Iterable<string> = [],
): Redaction {
  const headers = new Set(
    [...defaultRedactedHeaders, ...(settings.headers ?? [])].map((h) => h.toLowerCase()),
  );
  const maskedHeaders = new Set(
    [...headers, ...declaredSecretHeaders(), ...signatureHeaders].map((h) => h.toLowerCase()),
  );
  const masks = (name: string) => maskedHeaders.has(name) || credentialLikeHeader.test(name);
  const jsonPaths = [...defaultRedactedJsonPaths, ...(settings.jsonPaths ?? [])];
  const matchers = jsonPaths.map(compilePath);
  const bodySources = new Set(settings.storedBodySources ?? []);
  const matchesPath = (path: readonly string[]) => matchers.some((m) => m(path));

  return {
    headers,
    maskedHeaders,
    jsonPaths,
    redactsStoredBody: (source) => bodySources.has('*') || bodySources.has(source),
    storableHeaders(input) {
      const kept: Record<string, string> = {};
      for (const [name, value] of headerEntries(input)) {
        const lower = name.toLowerCase();
        if (!headers.has(lower)) kept[lower] = value;
      }
      return kept;
    },
    showableHeaders(input) {
      const shown: Record<string, string> = {};
      for (const [name, value] of headerEntries(input)) {
        const lower = name.toLowerCase();
        shown[lower] = masks(lower) ? redactedValue : value;
      }
      return shown;
    },
    redactBody(body) {
      const text = body.toString('utf8');
      const spans = findJsonRedactions(text, matchesPath);
      if (spans === null) {
        // Not JSON (a form, XML, text): card numbers are still masked if the body is UTF-8 text.
        const masked = maskCardNumbers(text);
        return masked !== text && Buffer.from(text, 'utf8').equals(body) ? Buffer.from(masked, 'utf8') : body;
      }
      if (spans.length === 0) return body;
      let out = '';
      let at = 0;
      for (const [start, end, replacement] of spans) {
        out += text.slice(at, start) + replacement;
        at = end;
      }
      return Buffer.from(out + text.slice(at), 'utf8');
    },
    redactLogObject(value) {
      return redactLogValue(value, [], { headers: maskedHeaders, matchesPath }, 0) as Record<string, unknown>;
    },
  };
}

/** The one Redaction of a Hookbox: the configured rules plus every header its sources' schemes declare. */
export function createSourceRedaction(
  settings: RedactionSettings | undefined,
  sources: Parameters<typeof declaredSecretHeaders>[0],
): Redaction {
  return createRedaction(settings, declaredSecretHeaders(sources));
}

function headerEntries(input: HeaderEntries): Iterable<readonly [string, string]> {
  if (input instanceof Headers) return input.entries();
  if (Symbol.iterator in input) return input as Iterable<readonly [string, string]>;
  return Object.entries(input as Readonly<Record<string, string>>);
}

/**
 * A header a sender added whose name says it carries a credential (`x-api-token`,
 * `x-auth-secret`): masked on output too, though no provider declared it. The declared names
 * are the guarantee; this only catches what nobody declared.
 */
const credentialLikeHeader = /signature|(^|-)sig$|secret|token|auth|hmac|api-?key|cookie|password|session/i;

// ---- card numbers ----

// Issuer prefixes of the major networks (Visa, Mastercard, Amex, Discover, JCB, Diners,
// UnionPay), 13-19 digits, spaces or dashes allowed between digits. The prefix and the Luhn
// check keep epoch-millisecond timestamps and random ids from being taken for cards.
const panCandidate = /(?<![\d])(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6[0245])(?:[ -]?\d){11,17}(?![\d])/g;

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Mask every card number in `text` (network prefix, 13-19 digits, valid Luhn check digit). */
export function maskCardNumbers(text: string): string {
  if (text.length < 13) return text;
  return text.replace(panCandidate, (match) => {
    const digits = match.replace(/[ -]/g, '');
    return digits.length >= 13 && digits.length <= 19 && passesLuhn(digits) ? '[card redacted]' : match;
  });
}

export function containsCardNumber(text: string): boolean {
  return maskCardNumbers(text) !== text;
}

// ---- JSON paths ----

/** `a.b.*.c`, `**.cvc`: `*` is one segment, `**` any number of segments. */
export function compilePath(pattern: string): (path: readonly string[]) => boolean {
  const parts = pattern.split('.').filter((p) => p !== '');
  if (parts.length === 0)
    throw new Error(`"${pattern}" is not a JSON path: use dot-separated keys like data.object.card.number`);
  const match = (p: number, path: readonly string[], i: number): boolean => {
    if (p === parts.length) return i === path.length;
    const part = parts[p]!;
    if (part === '**') {
      for (let k = i; k <= path.length; k++) if (match(p + 1, path, k)) return true;
      return false;
    }
    if (i === path.length) return false;
    return (part === '*' || part === path[i]) && match(p + 1, path, i + 1);
  };
  return (path) => match(0, path, 0);
}

/**
 * Scan JSON text and return the [start, end) spans of values to replace: values at a matching
 * path (replaced by "[redacted]"), and card numbers inside strings or numbers (masked in place).
 * Null when the text is not JSON.
 */
function findJsonRedactions(
  text: string,
  matchesPath: (path: readonly string[]) => boolean,
): [number, number, string][] | null {
  const spans: [number, number, string][] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t'))
      i++;
  };
  const fail = (): never => {
    throw new SyntaxError('not JSON');
  };
  const readString = (): string => {
    const start = i;
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string[], depth: number): void => {
    if (depth > 200) fail();
    ws();
    const start = i;
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') i++;
      else {
        for (;;) {
          ws();
          const key = readString();
          ws();
          if (text[i] !== ':') fail();
          i++;
          value([...path, key], depth + 1);
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === '}') {
            i++;
            break;
          } else fail();
        }
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') i++;
      else {
        for (let index = 0; ; index++) {
          value([...path, String(index)], depth + 1);
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            break;
          } else fail();
        }
      }
    } else if (ch === '"') {
      const decoded = readString();
      const masked = matchesPath(path) ? decoded : maskCardNumbers(decoded);
      if (masked !== decoded) spans.push([start, i, JSON.stringify(masked)]);
    } else {
      const literal = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!literal) fail();
      i += literal![0].length;
      if (!matchesPath(path) && /^\d{13,19}$/.test(literal![0]) && containsCardNumber(literal![0]))
        spans.push([start, i, `"${redactedValue}"`]);
    }
    // A match masks the whole value (object, array or scalar); nested spans inside it are dropped.
    if (path.length > 0 && matchesPath(path)) {
      while (spans.length > 0 && spans.at(-1)![0] >= start) spans.pop();
      spans.push([start, i, `"${redactedValue}"`]);
    }
  };
  try {
    value([], 0);
    ws();
    if (i !== text.length) fail();
  } catch {
    return null;
  }
  return spans;
}

// ---- logs ----

const sensitiveKey =
  /secret|password|passwd|signature|hmac|api[-_]?key|authorization|cookie|credential|tokens?$|^token|(^|[-_])sig$/i;

/** Masks credential-named keys, configured headers and JSON paths, and card numbers anywhere in strings. */
function redactLogValue(
  value: unknown,
  path: string[],
  rules: { headers: ReadonlySet<string>; matchesPath: (path: readonly string[]) => boolean },
  depth: number,
): unknown {
  if (typeof value === 'string') return maskCardNumbers(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  // An error is logged as its name and message: no stack trace in a log line.
  if (value instanceof Error) return maskCardNumbers(`${value.name}: ${value.message}`);
  if (Array.isArray(value))
    return value.map((item, index) => redactLogValue(item, [...path, String(index)], rules, depth + 1));
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const childPath = [...path, key];
    if (
      child !== null &&
      child !== undefined &&
      (sensitiveKey.test(key) || rules.headers.has(key.toLowerCase()) || rules.matchesPath(childPath))
    ) {
      out[key] = redactedValue;
    } else {
      out[key] = redactLogValue(child, childPath, rules, depth + 1);
    }
  }
  return out;
}
