/**
 * Cheap checks on a delivery's head, before any rate-limit lookup, body read or signature
 * work: the size of its headers, and whether its content type is one the source's scheme can
 * take. Each refusal names what to change.
 */
import { z } from 'zod';
import type { ErrorCode } from '../errors.ts';
import { sourceRateLimitSchema } from './rate-limit.ts';
import { defaultMaxHeaderBytes, type Source } from './source.ts';

export interface HeadRefusal {
  code: Extract<ErrorCode, 'headers_too_large' | 'unsupported_media_type'>;
  message: string;
}

/** The media types a scheme's body can be; `any` takes everything but multipart. */
type BodyKind = 'json' | 'json-or-form' | 'any';

/**
 * What each scheme's sender posts. JSON schemes also take `text/plain` (fetch and several
 * relays label a string body that way; the body is parsed as JSON after verification anyway).
 * GitHub (form-encoded `payload=`), Slack (slash commands, interactivity) and Twilio (form
 * parameters) also post forms. A scheme missing here (a new one) is only refused multipart.
 */
const bodyKinds: Readonly<Record<string, BodyKind>> = {
  stripe: 'json',
  paypal: 'json',
  firebase: 'json',
  'standard-webhooks': 'json',
  shopify: 'json',
  github: 'json-or-form',
  slack: 'json-or-form',
  twilio: 'json-or-form',
  'generic-hmac': 'any',
};

// RFC 9110 token characters, for type, subtype and parameter names.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
const PARAMETER = new RegExp(`^(${TOKEN})=(?:(${TOKEN})|"((?:[^"\\\\]|\\\\.)*)")$`);

interface MediaType {
  type: string;
  subtype: string;
  charset: string | undefined;
}

/** `type/subtype; charset=x` lower-cased, or undefined when it is not a media type. */
export function parseMediaType(value: string): MediaType | undefined {
  const [essence = '', ...parameters] = value.split(';');
  const match = MEDIA_TYPE.exec(essence.trim());
  if (!match) return undefined;
  let charset: string | undefined;
  for (const parameter of parameters) {
    const trimmed = parameter.trim();
    if (trimmed === '') continue;
    const pair = PARAMETER.exec(trimmed);
    if (!pair) return undefined;
    if (pair[1]!.toLowerCase() === 'charset') charset = (pair[2] ?? pair[3] ?? '').toLowerCase();
  }
  return { type: match[1]!.toLowerCase(), subtype: match[2]!.toLowerCase(), charset };
}

function isJson(media: MediaType): boolean {
  return (
    (media.type === 'application' && (media.subtype === 'json' || media.subtype.endsWith('+json'))) ||
    (media.type === 'text' && media.subtype === 'plain')
  );
}

function isForm(media: MediaType): boolean {
  return media.type === 'application' && media.subtype === 'x-www-form-urlencoded';
}

/** Why `contentType` is not one a source of `providerName` can take, or undefined when it is. */
export function checkContentType(providerName: string, contentType: string | null): string | undefined {
  // No Content-Type: the scheme reads the body as it is (several senders omit it).
  if (contentType === null || contentType.trim() === '') return undefined;
  const media = parseMediaType(contentType);
  if (media === undefined) {
    return `the Content-Type header is not a media type (type/subtype): send the scheme's own, e.g. application/json`;
  }
  const essence = `${media.type}/${media.subtype}`;
  if (media.type === 'multipart') {
    return `${essence} is refused: webhook schemes sign a JSON or form body, never multipart; send application/json`;
  }
  const kind = bodyKinds[providerName] ?? 'any';
  if (kind === 'any') return undefined;
  const accepted = isJson(media) || (kind === 'json-or-form' && isForm(media));
  if (!accepted) {
    const expected =
      kind === 'json' ? 'application/json' : 'application/json or application/x-www-form-urlencoded';
    return `${providerName} deliveries are ${expected}, not ${essence}`;
  }
  if (media.charset !== undefined && media.charset !== 'utf-8' && media.charset !== 'us-ascii') {
    return `charset ${media.charset.slice(0, 32)} is refused: ${providerName} bodies are UTF-8`;
  }
  return undefined;
}

/** The headers' size as counted against `maxHeaderBytes`: every name and value, in bytes. */
export function measureHeaders(headers: Headers): number {
  let size = 0;
  // Header values are byte strings (one byte per character) in web-standard Headers.
  headers.forEach((value, name) => {
    size += name.length + value.length;
  });
  return size;
}

/**
 * The refusal for a delivery's head, or undefined to go on to the rate limit and the body.
 * `headerBytes` is every header name and value in bytes, as the transport counts them.
 */
export function checkRequestHead(
  source: Source,
  headerBytes: number,
  contentType: string | null,
): HeadRefusal | undefined {
  if (headerBytes > source.maxHeaderBytes) {
    return {
      code: 'headers_too_large',
      message: `the request headers take ${headerBytes} bytes, over this source's limit of ${source.maxHeaderBytes}: raise maxHeaderBytes if the sender really needs more`,
    };
  }
  const problem = checkContentType(source.provider.name, contentType);
  if (problem !== undefined) return { code: 'unsupported_media_type', message: problem };
  return undefined;
}

const sourceLimitsSchema = z.object({
  maxHeaderBytes: z
    .number()
    .int('must be a whole number of bytes')
    .min(1024, 'must be at least 1024: every delivery carries some headers')
    .default(defaultMaxHeaderBytes),
  rateLimit: sourceRateLimitSchema.optional(),
});

/** Validate a source's `maxHeaderBytes` and `rateLimit`; throws a ZodError naming each bad key. */
export function parseSourceLimits(raw: {
  maxHeaderBytes?: unknown;
  rateLimit?: unknown;
}): Pick<Source, 'maxHeaderBytes' | 'rateLimit'> {
  const parsed = sourceLimitsSchema.parse(raw);
  return parsed.rateLimit === undefined
    ? { maxHeaderBytes: parsed.maxHeaderBytes }
    : { maxHeaderBytes: parsed.maxHeaderBytes, rateLimit: parsed.rateLimit };
}
