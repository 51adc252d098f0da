/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. The legacy SHA-1
 * `X-Hub-Signature` is not accepted. Each delivery has a GUID in `X-GitHub-Delivery` and its
 * event name in `X-GitHub-Event`, both unsigned: the dedupe key is the SHA-256 of the signed
 * body (the GUID stays in the stored headers), and the event name, which the body does not
 * carry, is the one thing taken from an unsigned header (docs/security.md).
 */
import type { z } from 'zod';
import { bodySecretSettingsSchema } from './settings.ts';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  checkBodyHmac,
  computeHmac,
  decodeSignature,
  isRecord,
  parseJson,
  readHeader,
  readJsonKey,
  reject,
  sha256Hex,
} from './verify-core.ts';

export const githubSettingsSchema = bodySecretSettingsSchema("the webhook's secret");

export type GithubSettingsInput = z.input<typeof githubSettingsSchema>;
export type GithubSettings = z.output<typeof githubSettingsSchema>;

const SIGNATURE_HEADER = 'x-hub-signature-256';

function verifyGithub(delivery: Delivery, settings: GithubSettings): Verification {
  const header = readHeader(delivery.headers, SIGNATURE_HEADER);
  if (header === undefined) {
    return reject(
      'signature_missing',
      delivery.headers.get('x-hub-signature') !== null
        ? 'only the legacy SHA-1 X-Hub-Signature is present: Hookbox needs X-Hub-Signature-256, which GitHub sends when the webhook has a secret'
        : 'no X-Hub-Signature-256 header: set a secret on the GitHub webhook and the same one in this source',
    );
  }
  const signature = header.startsWith('sha256=')
    ? decodeSignature(header.slice('sha256='.length), 'hex')
    : undefined;
  if (signature === undefined) {
    return reject('signature_malformed', 'X-Hub-Signature-256 is not `sha256=<hex>`');
  }

  const mismatch = checkBodyHmac({
    delivery,
    secrets: settings.secrets,
    signature,
    label: 'sha256 signature',
    mismatchMessage:
      "X-Hub-Signature-256 does not match: was the body re-serialized? is the webhook's secret the one configured?",
  });
  if (mismatch) return mismatch;

  const event = readHeader(delivery.headers, 'x-github-event');
  if (event === undefined) {
    return reject('payload_invalid', 'no X-GitHub-Event header: Hookbox routes GitHub deliveries on it');
  }

  const payload = readGithubPayload(delivery.body, delivery.headers.get('content-type'));
  if (!payload.ok) return reject('payload_invalid', payload.error);
  const action = readJsonKey(payload.value, 'action');
  return accept({
    // Only the body is signed: X-GitHub-Delivery could be replaced on a replay, its hash cannot.
    dedupeKey: sha256Hex(delivery.body),
    eventType: action === undefined ? event : `${event}.${action}`,
    payload: payload.value,
  });
}

/** GitHub sends JSON, or with content type `application/x-www-form-urlencoded`, the JSON in a `payload` field. */
function readGithubPayload(
  body: Buffer,
  contentType: string | null | undefined,
): { ok: true; value: unknown } | { ok: false; error: string } {
  if (/application\/x-www-form-urlencoded/i.test(contentType ?? '')) {
    const field = new URLSearchParams(body.toString('utf8')).get('payload');
    if (field === null) return { ok: false, error: 'the form body has no `payload` field' };
    const parsed = parseJson(field);
    return parsed.ok
      ? parsed
      : { ok: false, error: `the form's payload field is not JSON (${parsed.error})` };
  }
  const parsed = parseJson(body);
  if (!parsed.ok) return { ok: false, error: `the body is not JSON (${parsed.error})` };
  if (!isRecord(parsed.value)) return { ok: false, error: 'the body is not a JSON object' };
  return parsed;
}

function signGithub(body: Buffer, settings: GithubSettings, options: SignOptions): SignedDelivery {
  const secret = settings.secrets[0];
  if (secret === undefined) throw new Error('github: no secret configured to sign with');
  const [event = options.eventType] = options.eventType.split('.');
  return {
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': options.eventId,
      'x-github-hook-id': '1',
      [SIGNATURE_HEADER]: `sha256=${computeHmac('sha256', secret, [body]).toString('hex')}`,
    },
    body,
  };
}

function sampleGithubBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const dot = options.eventType.indexOf('.');
  const action = dot === -1 ? undefined : options.eventType.slice(dot + 1);
  const at = new Date(options.now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const payload = {
    ...(action === undefined ? {} : { action }),
    issue: {
      id: 1,
      number: 42,
      title: 'Sample issue from hookbox send',
      state: 'open',
      user: { login: 'octocat', id: 1, type: 'User' },
      created_at: at,
      updated_at: at,
      body: `A sample delivery (${options.eventId}).`,
    },
    repository: {
      id: 1296269,
      name: 'Hello-World',
      full_name: 'octocat/Hello-World',
      private: false,
      owner: { login: 'octocat', id: 1, type: 'User' },
    },
    sender: { login: 'octocat', id: 1, type: 'User' },
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

export const github: Provider<GithubSettings> = {
  name: 'github',
  secretHeaders: [SIGNATURE_HEADER, 'x-hub-signature'],
  parseSettings: (raw) => githubSettingsSchema.parse(raw),
  verify: verifyGithub,
  sign: signGithub,
  decodePayload: (body, headers) => {
    const payload = readGithubPayload(body, headers['content-type']);
    return payload.ok ? payload.value : body.toString('utf8');
  },
  sampleBody: sampleGithubBody,
};
