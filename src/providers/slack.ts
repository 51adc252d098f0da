/**
 * Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">` with the
 * app's signing secret, and `X-Slack-Request-Timestamp`. One scheme covers three body shapes:
 * Events API JSON, slash-command forms, and interactivity forms carrying a `payload` JSON field.
 */
import { z } from 'zod';
import { combineSecrets, generatedSecretString, hasSecret, toleranceSeconds } from './settings.ts';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  checkTimestampTolerance,
  computeHmac,
  decodeSignature,
  findMatchingSecret,
  isRecord,
  looksLikeJson,
  parseJson,
  parseUnixSeconds,
  readHeader,
  readJsonKey,
  reject,
  rejectMismatch,
  sha256Hex,
} from './verify-core.ts';

export const slackSettingsSchema = z
  .strictObject({
    /** The app's signing secrets, newest first while rotating. */
    signingSecrets: z.array(generatedSecretString).optional(),
    signingSecret: generatedSecretString.optional(),
    toleranceSeconds: toleranceSeconds.default(300),
  })
  .refine((value) => hasSecret(value.signingSecrets, value.signingSecret), {
    message: "set `signingSecrets` (a list, newest first) or `signingSecret`: the Slack app's Signing Secret",
    path: ['signingSecrets'],
  })
  .transform(({ signingSecrets, signingSecret, ...rest }) => ({
    ...rest,
    signingSecrets: combineSecrets(signingSecrets, signingSecret),
  }));

export type SlackSettingsInput = z.input<typeof slackSettingsSchema>;
export type SlackSettings = z.output<typeof slackSettingsSchema>;

const SIGNATURE_HEADER = 'x-slack-signature';
const TIMESTAMP_HEADER = 'x-slack-request-timestamp';

function signedContent(timestamp: string, body: Uint8Array): [string, Uint8Array] {
  return [`v0:${timestamp}:`, body];
}

/** Slack's ssl_check is a few dozen bytes; a larger body is not one, so it is never parsed unsigned. */
const SSL_CHECK_MAX_BYTES = 1024;

/**
 * Slack checks a slash command's certificate now and then with an unsigned form
 * `ssl_check=1&token=...`; Bolt answers it 200 before any signature check. Only that exact
 * form (no other fields) is taken as one, and it stores and runs nothing.
 */
function isSslCheck(delivery: Delivery): boolean {
  if (delivery.body.length > SSL_CHECK_MAX_BYTES) return false;
  if (looksLikeJson(delivery.body, delivery.headers.get('content-type'))) return false;
  const form = new URLSearchParams(delivery.body.toString('utf8'));
  return (
    form.get('ssl_check') === '1' && [...form.keys()].every((key) => key === 'ssl_check' || key === 'token')
  );
}

function verifySlack(delivery: Delivery, settings: SlackSettings): Verification {
  if (isSslCheck(delivery)) {
    return accept({
      dedupeKey: sha256Hex(delivery.body),
      eventType: 'ssl_check',
      handshake: { status: 200, body: { ok: true } },
    });
  }
  const header = readHeader(delivery.headers, SIGNATURE_HEADER);
  const timestampText = readHeader(delivery.headers, TIMESTAMP_HEADER);
  if (header === undefined || timestampText === undefined) {
    return reject(
      'signature_missing',
      `no ${header === undefined ? 'X-Slack-Signature' : 'X-Slack-Request-Timestamp'} header: point the Slack app's request URL here, or sign with \`hookbox send\``,
    );
  }
  const timestamp = parseUnixSeconds(timestampText);
  if (timestamp === undefined) {
    return reject('signature_malformed', 'X-Slack-Request-Timestamp is not a whole number of Unix seconds');
  }
  const signature = header.startsWith('v0=') ? decodeSignature(header.slice(3), 'hex') : undefined;
  if (signature === undefined) {
    return reject('signature_malformed', 'X-Slack-Signature is not `v0=<hex>`');
  }

  const matches = (body: Uint8Array) =>
    findMatchingSecret({
      algorithm: 'sha256',
      secrets: settings.signingSecrets,
      content: signedContent(timestampText, body),
      signatures: [signature],
    }) !== -1;
  if (!matches(delivery.body)) {
    return rejectMismatch({
      delivery,
      label: 'v0 signature',
      mismatchMessage:
        "X-Slack-Signature does not match: was the body re-serialized? is the app's Signing Secret the one configured?",
      matchesBody: matches,
    });
  }

  const stale = checkTimestampTolerance(timestamp, delivery.now, settings.toleranceSeconds);
  if (stale !== undefined) return stale;

  return looksLikeJson(delivery.body, delivery.headers.get('content-type'))
    ? readSlackEvent(delivery.body)
    : readSlackForm(delivery.body);
}

/** Events API: `event_callback` with `event_id`, plus the `url_verification` handshake. */
function readSlackEvent(body: Buffer): Verification {
  const parsed = parseJson(body);
  if (!parsed.ok || !isRecord(parsed.value)) {
    return reject('payload_invalid', 'the body is not a JSON object: Slack Events API deliveries are JSON');
  }
  const event = parsed.value;
  const type = readJsonKey(event, 'type');
  if (type === 'url_verification') {
    const challenge = readJsonKey(event, 'challenge');
    if (challenge === undefined) {
      return reject('payload_invalid', 'url_verification has no `challenge` to answer');
    }
    return accept({
      dedupeKey: sha256Hex(body),
      eventType: 'url_verification',
      payload: event,
      handshake: { status: 200, body: { challenge } },
    });
  }
  const eventType = readJsonKey(event, 'event.type') ?? type;
  if (eventType === undefined) {
    return reject('payload_invalid', 'the JSON body has neither `event.type` nor `type`');
  }
  // Slack retries with the same event_id (and an X-Slack-Retry-Num header); other JSON has no id.
  return accept({ dedupeKey: readJsonKey(event, 'event_id') ?? sha256Hex(body), eventType, payload: event });
}

/** Slash commands (`command` field) and interactivity (`payload` field holding JSON). */
function readSlackForm(body: Buffer): Verification {
  const form = new URLSearchParams(body.toString('utf8'));
  const dedupeKey = sha256Hex(body);
  const interactive = form.get('payload');
  if (interactive !== null) {
    const parsed = parseJson(interactive);
    const type = parsed.ok ? readJsonKey(parsed.value, 'type') : undefined;
    if (!parsed.ok || type === undefined) {
      return reject('payload_invalid', 'the interactivity `payload` field is not JSON with a string `type`');
    }
    return accept({ dedupeKey, eventType: type, payload: parsed.value });
  }
  if (form.has('command')) {
    return accept({ dedupeKey, eventType: 'slash_command', payload: Object.fromEntries(form) });
  }
  return reject(
    'payload_invalid',
    'the form body has neither `command` (slash command) nor `payload` (interactivity): not a Slack request Hookbox knows',
  );
}

/** What handlers get for a stored body: the event JSON, the interactivity payload, or the command's fields. */
function decodeSlackPayload(body: Buffer, headers: Record<string, string>): unknown {
  if (looksLikeJson(body, headers['content-type'] ?? null)) {
    const parsed = parseJson(body);
    return parsed.ok ? parsed.value : body.toString('utf8');
  }
  const form = new URLSearchParams(body.toString('utf8'));
  const interactive = form.get('payload');
  if (interactive !== null) {
    const parsed = parseJson(interactive);
    return parsed.ok ? parsed.value : interactive;
  }
  return Object.fromEntries(form);
}

function signSlack(body: Buffer, settings: SlackSettings, options: SignOptions): SignedDelivery {
  const secret = settings.signingSecrets[0];
  if (secret === undefined) throw new Error('slack: no signing secret configured to sign with');
  const timestamp = String(Math.floor(options.now / 1000));
  const signature = computeHmac('sha256', secret, signedContent(timestamp, body)).toString('hex');
  return {
    headers: {
      'content-type': looksLikeJson(body, null) ? 'application/json' : 'application/x-www-form-urlencoded',
      [TIMESTAMP_HEADER]: timestamp,
      [SIGNATURE_HEADER]: `v0=${signature}`,
    },
    body,
  };
}

function sampleSlackBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const eventTime = Math.floor(options.now / 1000);
  const payload = {
    token: 'XXYYZZ',
    team_id: 'T123ABC456',
    api_app_id: 'A123ABC456',
    event: {
      type: options.eventType,
      user: 'U123ABC456',
      text: 'Hello from hookbox send',
      ts: `${eventTime}.000200`,
      channel: 'C123ABC456',
      event_ts: `${eventTime}.000200`,
    },
    type: 'event_callback',
    event_id: options.eventId,
    event_time: eventTime,
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

export const slack: Provider<SlackSettings> = {
  name: 'slack',
  secretHeaders: [SIGNATURE_HEADER],
  parseSettings: (raw) => slackSettingsSchema.parse(raw),
  verify: verifySlack,
  sign: signSlack,
  decodePayload: decodeSlackPayload,
  sampleBody: sampleSlackBody,
};
