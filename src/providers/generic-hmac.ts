/**
 * Generic HMAC, for senders with their own variant of "an HMAC of the body in a header":
 * the header, algorithm, encoding, optional prefix (`sha256=`), and whether a timestamp header
 * is signed in front of the body are all configured per source.
 */
import { z } from 'zod';
import { combineSecrets, hasSecret, secretString, toleranceSeconds } from './settings.ts';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  checkTimestampTolerance,
  computeHmac,
  decodeSignature,
  findMatchingSecret,
  parseJson,
  parseUnixSeconds,
  readHeader,
  readJsonKey,
  reject,
  rejectMismatch,
  type SignedContent,
  sha256Hex,
} from './verify-core.ts';

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
  .transform((name) => name.toLowerCase());

/** Where a value comes from: a request header, or a dotted path into the JSON body (`data.id`). */
const fieldSource = z.union([
  z.strictObject({ header: headerName }),
  z.strictObject({ jsonPath: z.string().min(1, 'must not be empty') }),
]);

export const genericHmacSettingsSchema = z
  .strictObject({
    /** The header carrying the signature. */
    header: headerName,
    algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha256'),
    /** `hex` (either case), `base64` or `base64url` (padding optional, canonical bits only). */
    encoding: z.enum(['hex', 'base64', 'base64url']).default('hex'),
    /** Text before the encoded signature in the header, e.g. `sha256=`. */
    prefix: z.string().optional(),
    /** `body`, or `timestamp.body`: the timestamp header's value, the separator, then the body. */
    signedContent: z.enum(['body', 'timestamp.body']).default('body'),
    /** The header with the signed Unix-seconds timestamp (required for `timestamp.body`). */
    timestampHeader: headerName.optional(),
    separator: z.string().default('.'),
    toleranceSeconds: toleranceSeconds.default(300),
    /**
     * Where the event id comes from; without it, the SHA-256 of the body. Only a JSON path:
     * no header is signed, so an id from a header would let a replay with a fresh id in it
     * count as a new event.
     */
    dedupeKey: fieldSource
      .refine((source) => !('header' in source), {
        message:
          'the signature covers the body, not headers: take the event id from the body ({ jsonPath }), or leave dedupeKey out to dedupe on the SHA-256 of the body',
      })
      .optional(),
    /**
     * Where the event type comes from; without it, the literal `webhook`. A header is allowed
     * (the dedupe key still comes from signed data, so a stored body cannot run again under
     * another type), but prefer a JSON path: only the body is signed.
     */
    eventType: fieldSource.optional(),
    secrets: z.array(secretString).optional(),
    secret: secretString.optional(),
  })
  .refine((value) => hasSecret(value.secrets, value.secret), {
    message: 'set `secrets` (a list, newest first) or `secret`',
    path: ['secrets'],
  })
  .refine((value) => value.signedContent === 'body' || value.timestampHeader !== undefined, {
    message:
      "`signedContent: 'timestamp.body'` needs `timestampHeader`: the header carrying the signed timestamp",
    path: ['timestampHeader'],
  })
  .transform(({ secrets, secret, ...rest }) => ({ ...rest, secrets: combineSecrets(secrets, secret) }));

export type GenericHmacSettingsInput = z.input<typeof genericHmacSettingsSchema>;
export type GenericHmacSettings = z.output<typeof genericHmacSettingsSchema>;

type FieldSource = NonNullable<GenericHmacSettings['dedupeKey']>;

/**
 * No official verifier to match, and senders differ: .NET prints hex in upper case, many
 * base64 encoders drop the padding. Both are the same bytes; the alphabet and the unused bits
 * must still be canonical (docs/providers.md, deviations).
 */
const GENERIC_SPELLINGS = { anyCaseHex: true, unpadded: true } as const;

function signedContent(
  settings: GenericHmacSettings,
  timestamp: string | undefined,
  body: Uint8Array,
): SignedContent {
  return timestamp === undefined ? [body] : [`${timestamp}${settings.separator}`, body];
}

function describeSource(source: FieldSource): string {
  return 'header' in source ? `header ${source.header}` : `JSON path ${source.jsonPath}`;
}

function verifyGenericHmac(delivery: Delivery, settings: GenericHmacSettings): Verification {
  const header = readHeader(delivery.headers, settings.header);
  if (header === undefined) {
    return reject(
      'signature_missing',
      `no ${settings.header} header: the sender must sign this source's deliveries`,
    );
  }
  const prefix = settings.prefix ?? '';
  const signature = header.startsWith(prefix)
    ? decodeSignature(header.slice(prefix.length), settings.encoding, GENERIC_SPELLINGS)
    : undefined;
  if (signature === undefined) {
    return reject('signature_malformed', `${settings.header} is not \`${prefix}<${settings.encoding}>\``);
  }

  let timestampText: string | undefined;
  let timestamp: number | undefined;
  if (settings.signedContent === 'timestamp.body' && settings.timestampHeader !== undefined) {
    timestampText = readHeader(delivery.headers, settings.timestampHeader);
    if (timestampText === undefined) {
      return reject(
        'signature_missing',
        `no ${settings.timestampHeader} header: the signed timestamp is required`,
      );
    }
    timestamp = parseUnixSeconds(timestampText);
    if (timestamp === undefined) {
      return reject(
        'signature_malformed',
        `${settings.timestampHeader} is not a whole number of Unix seconds`,
      );
    }
  }

  const matches = (body: Uint8Array) =>
    findMatchingSecret({
      algorithm: settings.algorithm,
      secrets: settings.secrets,
      content: signedContent(settings, timestampText, body),
      signatures: [signature],
    }) !== -1;
  if (!matches(delivery.body)) {
    return rejectMismatch({
      delivery,
      label: 'signature',
      mismatchMessage: `${settings.header} does not match: was the body re-serialized? are the secret, algorithm (${settings.algorithm}) and encoding (${settings.encoding}) the sender's?`,
      matchesBody: matches,
    });
  }

  if (timestamp !== undefined) {
    const stale = checkTimestampTolerance(timestamp, delivery.now, settings.toleranceSeconds);
    if (stale !== undefined) return stale;
  }

  // Parsed once, and only when a JSON path needs it or for the handlers' payload.
  const parsed = parseJson(delivery.body);
  const read = (source: FieldSource): string | undefined =>
    'header' in source
      ? readHeader(delivery.headers, source.header)
      : parsed.ok
        ? readJsonKey(parsed.value, source.jsonPath)
        : undefined;

  let dedupeKey = sha256Hex(delivery.body);
  if (settings.dedupeKey !== undefined) {
    const value = read(settings.dedupeKey);
    if (value === undefined) {
      return reject(
        'payload_invalid',
        `no event id at ${describeSource(settings.dedupeKey)}${parsed.ok || 'header' in settings.dedupeKey ? '' : ' (the body is not JSON)'}: fix the source's dedupeKey or the sender`,
      );
    }
    dedupeKey = value;
  }
  let eventType = 'webhook';
  if (settings.eventType !== undefined) {
    const value = read(settings.eventType);
    if (value === undefined) {
      return reject(
        'payload_invalid',
        `no event type at ${describeSource(settings.eventType)}${parsed.ok || 'header' in settings.eventType ? '' : ' (the body is not JSON)'}: fix the source's eventType or the sender`,
      );
    }
    eventType = value;
  }
  return accept({ dedupeKey, eventType, payload: parsed.ok ? parsed.value : delivery.body.toString('utf8') });
}

function signGenericHmac(body: Buffer, settings: GenericHmacSettings, options: SignOptions): SignedDelivery {
  const secret = settings.secrets[0];
  if (secret === undefined) throw new Error('generic-hmac: no secret configured to sign with');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let timestamp: string | undefined;
  if (settings.signedContent === 'timestamp.body' && settings.timestampHeader !== undefined) {
    timestamp = String(Math.floor(options.now / 1000));
    headers[settings.timestampHeader] = timestamp;
  }
  const signature = computeHmac(settings.algorithm, secret, signedContent(settings, timestamp, body));
  headers[settings.header] = `${settings.prefix ?? ''}${signature.toString(settings.encoding)}`;
  if (settings.eventType !== undefined && 'header' in settings.eventType) {
    headers[settings.eventType.header] = options.eventType;
  }
  return { headers, body };
}

function sampleGenericBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const payload = {
    id: options.eventId,
    type: options.eventType,
    created_at: new Date(options.now).toISOString(),
    data: { id: options.eventId, object: 'sample', status: 'ok' },
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

export const genericHmac: Provider<GenericHmacSettings> = {
  name: 'generic-hmac',
  // The signature header is configured per source; ingest also drops the one in the settings.
  secretHeaders: [],
  secretHeadersFor: (settings) => [settings.header],
  parseSettings: (raw) => genericHmacSettingsSchema.parse(raw),
  verify: verifyGenericHmac,
  sign: signGenericHmac,
  sampleBody: sampleGenericBody,
};
