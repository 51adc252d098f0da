/**
 * Twilio: `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed with the account's auth token,
 * of the full URL Twilio requested followed by every form parameter as key + value (keys in
 * code-unit order). JSON bodies are not signed directly: Twilio adds `bodySHA256=<hex>` to the
 * URL, signs the URL alone, and the body must hash to that value.
 *
 * Webhooks signed with a SharedKey carry `X-Twilio-Webhooks-Signature-Settings:
 * key=...,algorithm=HMAC_SHA256`; those are checked with `sharedKeySecrets` and the named
 * algorithm, as twilio-node's middleware does.
 *
 * Matching follows twilio-node's validateRequest: the URL as received with and without the
 * default port, then its WHATWG-normalised form, with and without the legacy querystring
 * re-encoding some back ends signed.
 */
import { parse as parseQuerystring, stringify as stringifyQuerystring } from 'node:querystring';
import { z } from 'zod';
import { combineSecrets, generatedSecretString, hasSecret } from './settings.ts';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  computeHmac,
  decodeSignature,
  diagnosableForms,
  equalSignatures,
  findMatchingSecret,
  type HmacAlgorithm,
  looksLikeJson,
  parseJson,
  parseKeyValueList,
  readHeader,
  readJsonKey,
  reject,
  sha256Hex,
} from './verify-core.ts';

export const twilioSettingsSchema = z
  .strictObject({
    /** Auth tokens, newest first while rotating (the secondary token during a change). */
    authTokens: z.array(generatedSecretString).optional(),
    authToken: generatedSecretString.optional(),
    /** SharedKey secrets for webhooks that carry X-Twilio-Webhooks-Signature-Settings. */
    sharedKeySecrets: z.array(generatedSecretString).optional(),
    sharedKeySecret: generatedSecretString.optional(),
  })
  .refine(
    (value) =>
      hasSecret(value.authTokens, value.authToken) ||
      hasSecret(value.sharedKeySecrets, value.sharedKeySecret),
    {
      message: "set `authTokens` (a list, newest first) or `authToken`: the account's auth token",
      path: ['authTokens'],
    },
  )
  .transform((value) => ({
    authTokens: combineSecrets(value.authTokens, value.authToken),
    sharedKeySecrets: combineSecrets(value.sharedKeySecrets, value.sharedKeySecret),
  }));

export type TwilioSettingsInput = z.input<typeof twilioSettingsSchema>;
export type TwilioSettings = z.output<typeof twilioSettingsSchema>;

const SIGNATURE_HEADER = 'x-twilio-signature';
const SIGNATURE_SETTINGS_HEADER = 'x-twilio-webhooks-signature-settings';
const IDEMPOTENCY_HEADER = 'i-twilio-idempotency-token';
const TWILIO_ALGORITHMS: Partial<Record<string, HmacAlgorithm>> = {
  HMAC_SHA1: 'sha1',
  HMAC_SHA256: 'sha256',
};

// ---------------------------------------------------------------------------------------------
// Signed content

/** Form parameters in Twilio's signing order: keys sorted by code unit, a repeated key's distinct values sorted. */
function serializeParams(params: URLSearchParams): string {
  const grouped = new Map<string, string[]>();
  for (const [key, value] of params) {
    const values = grouped.get(key);
    if (values === undefined) grouped.set(key, [value]);
    else values.push(value);
  }
  let serialized = '';
  for (const key of [...grouped.keys()].sort()) {
    const values = grouped.get(key) ?? [];
    // twilio-node collapses repeated values through a Set before sorting them.
    const ordered = values.length === 1 ? values : [...new Set(values)].sort();
    for (const value of ordered) serialized += key + value;
  }
  return serialized;
}

interface UrlParts {
  scheme: string;
  userInfo: string;
  host: string;
  port: string;
  rest: string;
}

/** Split without normalising, so the path and query keep the exact characters Twilio signed. */
function splitUrl(url: string): UrlParts | undefined {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(url);
  if (match === null) return undefined;
  const [prefix, scheme = '', authority = ''] = match;
  const userInfoEnd = authority.lastIndexOf('@');
  const hostAndPort = authority.slice(userInfoEnd + 1);
  // A colon starts the port only after an IPv6 literal's closing bracket.
  const portStart = hostAndPort.indexOf(':', hostAndPort.lastIndexOf(']') + 1);
  return {
    scheme,
    userInfo: authority.slice(0, userInfoEnd + 1),
    host: portStart === -1 ? hostAndPort : hostAndPort.slice(0, portStart),
    port: portStart === -1 ? '' : hostAndPort.slice(portStart),
    rest: url.slice(prefix.length),
  };
}

function withDefaultPort(url: string): string {
  const parts = splitUrl(url);
  if (parts === undefined || parts.port !== '') return url;
  const port = parts.scheme.toLowerCase() === 'https://' ? ':443' : ':80';
  return parts.scheme + parts.userInfo + parts.host + port + parts.rest;
}

function withoutPort(url: string): string {
  const parts = splitUrl(url);
  if (parts === undefined) return url;
  return parts.scheme + parts.userInfo + parts.host + parts.rest;
}

function withLegacyQuerystring(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1 || queryStart === url.length - 1) return url;
  return `${url.slice(0, queryStart)}?${stringifyQuerystring(parseQuerystring(url.slice(queryStart + 1)))}`;
}

/** The URLs Twilio may have signed for this request URL, most likely first, without repeats. */
function candidateUrls(url: string): string[] {
  const candidates = [withoutPort(url), withDefaultPort(url)];
  try {
    const normalized = new URL(url).toString();
    const normalizedWithout = withoutPort(normalized);
    const normalizedWith = withDefaultPort(normalized);
    candidates.push(
      normalizedWithout,
      normalizedWith,
      withLegacyQuerystring(normalizedWithout),
      withLegacyQuerystring(normalizedWith),
    );
  } catch {
    // Not a WHATWG URL: only the forms as received apply.
  }
  return [...new Set(candidates)];
}

function readSigningScheme(
  delivery: Delivery,
  settings: TwilioSettings,
): { algorithm: HmacAlgorithm; secrets: readonly string[]; secretName: string } | { problem: Verification } {
  const signatureSettings = readHeader(delivery.headers, SIGNATURE_SETTINGS_HEADER);
  if (signatureSettings === undefined) {
    if (settings.authTokens.length === 0) {
      return {
        problem: reject(
          'signature_mismatch',
          'this delivery is signed with the auth token, but the source only has sharedKeySecrets: set `authTokens`',
        ),
      };
    }
    return { algorithm: 'sha1', secrets: settings.authTokens, secretName: 'auth token' };
  }
  const named = parseKeyValueList(signatureSettings).find(([key]) => key === 'algorithm')?.[1] ?? '';
  const algorithm = TWILIO_ALGORITHMS[named.toUpperCase() || 'HMAC_SHA1'];
  if (algorithm === undefined) {
    return {
      problem: reject(
        'signature_malformed',
        `X-Twilio-Webhooks-Signature-Settings names algorithm ${JSON.stringify(named.slice(0, 40))}: Hookbox knows HMAC_SHA1 and HMAC_SHA256`,
      ),
    };
  }
  if (settings.sharedKeySecrets.length === 0) {
    return {
      problem: reject(
        'signature_mismatch',
        'this delivery is signed with a Twilio SharedKey (X-Twilio-Webhooks-Signature-Settings): set `sharedKeySecrets` for this source',
      ),
    };
  }
  return { algorithm, secrets: settings.sharedKeySecrets, secretName: 'SharedKey secret' };
}

// ---------------------------------------------------------------------------------------------
// Verify

function verifyTwilio(delivery: Delivery, settings: TwilioSettings): Verification {
  const header = readHeader(delivery.headers, SIGNATURE_HEADER);
  if (header === undefined) {
    return reject(
      'signature_missing',
      'no X-Twilio-Signature header: point the Twilio webhook at this URL, or sign with `hookbox send`',
    );
  }
  const signature = decodeSignature(header, 'base64');
  if (signature === undefined) return reject('signature_malformed', 'X-Twilio-Signature is not base64');
  const scheme = readSigningScheme(delivery, settings);
  if ('problem' in scheme) return scheme.problem;

  let bodyHash: string | null = null;
  try {
    bodyHash = new URL(delivery.url).searchParams.get('bodySHA256');
  } catch {
    return reject(
      'signature_mismatch',
      `the request URL ${JSON.stringify(delivery.url)} is not absolute: set the source's publicUrl to the URL configured in Twilio`,
    );
  }
  const contentType = delivery.headers.get('content-type');
  const isJson = bodyHash !== null;
  if (!isJson && contentType !== null && looksLikeJson(delivery.body, contentType)) {
    return reject(
      'unsupported_media_type',
      'a JSON body without bodySHA256 in the URL: Twilio signs JSON through that URL parameter; check the public URL keeps its query string',
    );
  }
  const form = isJson ? undefined : new URLSearchParams(delivery.body.toString('utf8'));
  const params = form === undefined ? '' : serializeParams(form);

  const signed = candidateUrls(delivery.url).some(
    (url) =>
      findMatchingSecret({
        algorithm: scheme.algorithm,
        secrets: scheme.secrets,
        content: [url, params],
        signatures: [signature],
      }) !== -1,
  );
  if (!signed) {
    return reject(
      'signature_mismatch',
      `X-Twilio-Signature does not match: is the source's publicUrl exactly the URL configured in Twilio (scheme, host, path, query)? is the ${scheme.secretName} the right one?`,
    );
  }

  if (isJson) {
    const expected = decodeSignature(bodyHash ?? '', 'hex');
    const matchesHash = (body: Uint8Array) =>
      expected !== undefined && equalSignatures(Buffer.from(sha256Hex(body), 'hex'), expected);
    if (!matchesHash(delivery.body)) {
      if (diagnosableForms(delivery).some(matchesHash)) {
        return reject(
          'signature_body_reserialized',
          'the raw body does not hash to bodySHA256, but a re-serialized form does: pass the raw request body bytes, not parsed JSON',
        );
      }
      return reject(
        'signature_mismatch',
        'the body does not hash to the bodySHA256 in the signed URL: pass the raw request body bytes',
      );
    }
    return readTwilioJson(delivery);
  }
  return readTwilioForm(delivery, form ?? new URLSearchParams());
}

// ---------------------------------------------------------------------------------------------
// Dedupe key and type

/** Form fields for handlers: a repeated key keeps all its values. */
function formFields(form: URLSearchParams): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const key of new Set(form.keys())) {
    const values = form.getAll(key);
    fields[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return fields;
}

/** What handlers get for a stored body: the form's fields, or the JSON body. */
function decodeTwilioPayload(body: Buffer, headers: Record<string, string>): unknown {
  if (looksLikeJson(body, headers['content-type'] ?? null)) {
    const parsed = parseJson(body);
    return parsed.ok ? parsed.value : body.toString('utf8');
  }
  return formFields(new URLSearchParams(body.toString('utf8')));
}

/**
 * Resource families of Twilio callbacks, most specific first: recording and transcription
 * callbacks also carry the CallSid, conference events carry the participant's CallSid.
 */
const FAMILIES = [
  { type: 'transcription', ids: ['TranscriptionSid'], statuses: ['TranscriptionStatus'], qualifiers: [] },
  { type: 'recording', ids: ['RecordingSid'], statuses: ['RecordingStatus'], qualifiers: [] },
  {
    type: 'conference',
    ids: ['ConferenceSid'],
    statuses: ['StatusCallbackEvent'],
    qualifiers: ['CallSid', 'SequenceNumber'],
  },
  {
    type: 'message',
    ids: ['MessageSid', 'SmsMessageSid', 'SmsSid'],
    statuses: ['MessageStatus', 'SmsStatus'],
    qualifiers: [],
  },
  { type: 'call', ids: ['CallSid'], statuses: ['CallStatus'], qualifiers: ['SequenceNumber'] },
] as const;

/** Fields of a caller's input during a call: several such requests share one CallSid and status. */
const INPUT_FIELDS = ['Digits', 'SpeechResult', 'DialCallStatus'];

function firstValue(form: URLSearchParams, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = form.get(name);
    if (value !== null && value !== '') return value;
  }
  return undefined;
}

/**
 * Dedupe key, from signed fields only (I-Twilio-Idempotency-Token is unsigned, so a replay
 * could carry a fresh one; it stays in the stored headers): `<resource sid>:<status>` (plus
 * the sequence number or participant where Twilio sends several callbacks per status),
 * because each status transition is one event; else, and for
 * requests carrying caller input (a <Gather> or <Dial> action, which may repeat with the same
 * sid and status), the SHA-256 of the body, which is identical on retries.
 *
 * Type: `<family>.<status>` (`message.delivered`, `call.completed`, `recording.completed`,
 * `conference.participant-join`), `<family>` when the status is absent, else `twilio.webhook`.
 */
function readTwilioForm(delivery: Delivery, form: URLSearchParams): Verification {
  const payload = formFields(form);
  const hasInput = INPUT_FIELDS.some((name) => form.has(name));
  for (const family of FAMILIES) {
    const sid = firstValue(form, family.ids);
    if (sid === undefined) continue;
    const status = firstValue(form, family.statuses);
    const eventType = status === undefined ? family.type : `${family.type}.${status.toLowerCase()}`;
    if (hasInput) return accept({ dedupeKey: sha256Hex(delivery.body), eventType, payload });
    const qualifiers = family.qualifiers.flatMap((name) => form.get(name) ?? []);
    const dedupeKey = [sid, status ?? '', ...qualifiers].filter((part) => part !== '').join(':');
    return accept({ dedupeKey, eventType, payload });
  }
  return accept({ dedupeKey: sha256Hex(delivery.body), eventType: 'twilio.webhook', payload });
}

function readTwilioJson(delivery: Delivery): Verification {
  const parsed = parseJson(delivery.body);
  const payload = parsed.ok ? parsed.value : delivery.body.toString('utf8');
  return accept({
    // The body is signed through bodySHA256 in the signed URL; the idempotency token is not.
    dedupeKey: sha256Hex(delivery.body),
    eventType: (parsed.ok ? readJsonKey(parsed.value, 'type') : undefined) ?? 'twilio.webhook',
    payload,
  });
}

// ---------------------------------------------------------------------------------------------
// Sign

function signTwilio(body: Buffer, settings: TwilioSettings, options: SignOptions): SignedDelivery {
  const useAuthToken = settings.authTokens.length > 0;
  const secret = useAuthToken ? settings.authTokens[0] : settings.sharedKeySecrets[0];
  if (secret === undefined) throw new Error('twilio: no auth token configured to sign with');
  const algorithm: HmacAlgorithm = useAuthToken ? 'sha1' : 'sha256';
  const headers: Record<string, string> = { [IDEMPOTENCY_HEADER]: options.eventId };
  if (!useAuthToken) headers[SIGNATURE_SETTINGS_HEADER] = 'key=hookbox,algorithm=HMAC_SHA256';

  if (looksLikeJson(body, null)) {
    const separator = options.url.includes('?') ? '&' : '?';
    const url = `${options.url}${separator}bodySHA256=${sha256Hex(body)}`;
    headers['content-type'] = 'application/json';
    headers[SIGNATURE_HEADER] = computeHmac(algorithm, secret, [url]).toString('base64');
    return { headers, body, url };
  }
  const params = serializeParams(new URLSearchParams(body.toString('utf8')));
  headers['content-type'] = 'application/x-www-form-urlencoded';
  headers[SIGNATURE_HEADER] = computeHmac(algorithm, secret, [options.url, params]).toString('base64');
  return { headers, body, url: options.url };
}

/** An SMS status callback, as Twilio posts it (form-encoded). */
function sampleTwilioBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const status = options.eventType.includes('.')
    ? options.eventType.slice(options.eventType.lastIndexOf('.') + 1)
    : 'delivered';
  const form = new URLSearchParams({
    AccountSid: 'AC00000000000000000000000000000000',
    ApiVersion: '2010-04-01',
    From: '+15017122661',
    MessageSid: options.eventId,
    MessageStatus: status,
    MessagingServiceSid: 'MG00000000000000000000000000000000',
    SmsSid: options.eventId,
    SmsStatus: status,
    To: '+15558675310',
  });
  return Buffer.from(form.toString(), 'utf8');
}

export const twilio: Provider<TwilioSettings> = {
  name: 'twilio',
  secretHeaders: [SIGNATURE_HEADER],
  parseSettings: (raw) => twilioSettingsSchema.parse(raw),
  verify: verifyTwilio,
  sign: signTwilio,
  decodePayload: decodeTwilioPayload,
  sampleBody: sampleTwilioBody,
};
