/**
 * Acceptance: every published vector in test/fixtures/vectors/ verifies through the real
 * `hookbox verify` command (a child process, the way an operator runs it), a one-byte change of
 * any of them is refused with the reason, and a PayPal signature over the signed-int32 CRC is
 * refused.
 */
import { createHash, sign as rsaSign, verify as rsaVerify, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32Unsigned } from '../../src/providers/paypal.ts';
import { runCli } from '../support/processes.ts';
import { changeOneByte } from './helpers.ts';

/** The published vectors, kept in the repository (test/fixtures/vectors/README.md names their sources). */
const vectorsDir = new URL('../fixtures/vectors/', import.meta.url);
const paypalDir = new URL('paypal/', vectorsDir);
const fixturesDir = new URL('./fixtures/', import.meta.url);

interface VectorFile {
  github_official: { secret: string; payload: string; x_hub_signature_256: string };
  slack_official: { signing_secret: string; timestamp: string; body: string; x_slack_signature: string };
  standard_webhooks_v1: {
    secret: string;
    webhook_id: string;
    webhook_timestamp: string;
    payload: string;
    webhook_signature: string;
  };
  twilio_form: {
    auth_token: string;
    url: string;
    params: Record<string, string>;
    x_twilio_signature: string;
    hmac_sha256_variant_generated: string;
  };
  twilio_json: { auth_token: string; body: string; url: string; x_twilio_signature: string };
  paypal_sdk_real: {
    transmission_id: string;
    transmission_time: string;
    webhook_id: string;
    cert_url: string;
    crc32_unsigned_decimal: string;
    crc32_signed_WRONG: string;
    signed_message: string;
    files: { body: string; headers: string; cert: string };
  };
}

const vectors = JSON.parse(readFileSync(new URL('vectors.json', vectorsDir), 'utf8')) as VectorFile;
const paypalVector = vectors.paypal_sdk_real;
const paypalBody = readFileSync(new URL(paypalVector.files.body, vectorsDir));
const paypalHeaders = JSON.parse(
  readFileSync(new URL(paypalVector.files.headers, vectorsDir), 'utf8'),
) as Record<string, string>;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const twilioFormBody = new URLSearchParams(vectors.twilio_form.params).toString();

interface VectorCase {
  /** The vectors.json key (plus a variant name). */
  name: string;
  provider: string;
  settings: Record<string, unknown>;
  body: Buffer;
  headers: Record<string, string>;
  url?: string;
  /** `--at`, for vectors with a signed timestamp or an expired certificate. */
  at?: string;
  /** The line `hookbox verify` prints. */
  printed: string;
}

const slack = vectors.slack_official;
const standard = vectors.standard_webhooks_v1;
const twilioForm = vectors.twilio_form;
const twilioJson = vectors.twilio_json;
const github = vectors.github_official;

const cases: VectorCase[] = [
  {
    // The docs' vector is the bare signature over "Hello, World!": no event header and no JSON,
    // so the signature verifies and the payload is what a live delivery would be refused for.
    name: 'github_official',
    provider: 'github',
    settings: { secret: github.secret },
    body: Buffer.from(github.payload),
    headers: { 'x-hub-signature-256': github.x_hub_signature_256 },
    printed:
      'signature verified: github delivery; but as a delivery it would be answered 400 payload_invalid: no X-GitHub-Event header',
  },
  {
    name: 'slack_official',
    provider: 'slack',
    settings: { signingSecret: slack.signing_secret },
    body: Buffer.from(slack.body),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': slack.timestamp,
      'x-slack-signature': slack.x_slack_signature,
    },
    at: slack.timestamp,
    printed: `verified: slack delivery, dedupe key ${sha256(slack.body)}, type slash_command`,
  },
  {
    // The vector's payload has no `type`, which Hookbox routes Standard Webhooks on.
    name: 'standard_webhooks_v1',
    provider: 'standard-webhooks',
    settings: { secret: standard.secret },
    body: Buffer.from(standard.payload),
    headers: {
      'content-type': 'application/json',
      'webhook-id': standard.webhook_id,
      'webhook-timestamp': standard.webhook_timestamp,
      'webhook-signature': standard.webhook_signature,
    },
    at: standard.webhook_timestamp,
    printed:
      'signature verified: standard-webhooks delivery; but as a delivery it would be answered 400 payload_invalid: the payload has no string `type`',
  },
  {
    // A <Gather> action (Digits): retries repeat the CallSid, so the body hash is the key.
    name: 'twilio_form',
    provider: 'twilio',
    settings: { authToken: twilioForm.auth_token },
    body: Buffer.from(twilioFormBody),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioForm.x_twilio_signature,
    },
    url: twilioForm.url,
    printed: `verified: twilio delivery, dedupe key ${sha256(twilioFormBody)}, type call`,
  },
  {
    name: 'twilio_form (hmac_sha256_variant_generated, SharedKey)',
    provider: 'twilio',
    settings: { sharedKeySecret: twilioForm.auth_token },
    body: Buffer.from(twilioFormBody),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioForm.hmac_sha256_variant_generated,
      'x-twilio-webhooks-signature-settings': 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256',
    },
    url: twilioForm.url,
    printed: `verified: twilio delivery, dedupe key ${sha256(twilioFormBody)}, type call`,
  },
  {
    name: 'twilio_json',
    provider: 'twilio',
    settings: { authToken: twilioJson.auth_token },
    body: Buffer.from(twilioJson.body),
    headers: { 'content-type': 'application/json', 'x-twilio-signature': twilioJson.x_twilio_signature },
    url: twilioJson.url,
    printed: `verified: twilio delivery, dedupe key ${sha256(twilioJson.body)}, type twilio.webhook`,
  },
  {
    // The certificate expired in 2017: it is checked as of the transmission time.
    name: 'paypal_sdk_real',
    provider: 'paypal',
    settings: { webhookId: paypalVector.webhook_id, certDir: fileURLToPath(paypalDir) },
    body: paypalBody,
    headers: paypalHeaders,
    at: paypalVector.transmission_time,
    printed:
      'verified: paypal delivery, dedupe key WH-0G2756385H040842W-5Y612302CV158622M, type PAYMENT.SALE.COMPLETED',
  },
];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hookbox-vectors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write the body and headers files, then run `hookbox verify` on them. */
function verifyThroughCli(
  label: string,
  item: Pick<VectorCase, 'provider' | 'settings' | 'body' | 'headers' | 'url' | 'at'>,
) {
  const stem = label.replace(/[^A-Za-z0-9_-]+/g, '_');
  const bodyFile = join(dir, `${stem}.body`);
  const headersFile = join(dir, `${stem}.headers.json`);
  writeFileSync(bodyFile, item.body);
  writeFileSync(headersFile, JSON.stringify(item.headers));
  return runCli(
    [
      'verify',
      item.provider,
      '--settings',
      JSON.stringify(item.settings),
      '--body',
      bodyFile,
      '--headers',
      headersFile,
      ...(item.url === undefined ? [] : ['--url', item.url]),
      ...(item.at === undefined ? [] : ['--at', item.at]),
    ],
    { cwd: dir },
  );
}

describe.concurrent('hookbox verify on the published vectors', () => {
  it.each(cases)('$name verifies (exit 0)', async (item) => {
    const result = await verifyThroughCli(item.name, item);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(item.printed);
  });

  it.each(cases)('$name with one body byte changed exits 1 with the reason', async (item) => {
    const result = await verifyThroughCli(`${item.name}-tampered`, {
      ...item,
      body: changeOneByte(item.body),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^hookbox: not verified \(signature_mismatch\): \S.*\n$/);
  });
});

describe('the PayPal signed-int32 CRC', () => {
  // Hookbox computes the CRC itself, so a verifier's CRC form shows in which signatures it
  // accepts: the published signature was made over the unsigned decimal, and a signature made
  // over the signed-int32 message (here with the test key, whose certificate names a PayPal
  // host) is refused.
  const testKeyPem = readFileSync(new URL('paypal-test-key.pem', fixturesDir), 'utf8');
  const certName = 'CERT-hookbox-vectors';
  const certUrl = `https://api-m.sandbox.paypal.com/v1/notifications/certs/${certName}`;
  const webhookId = paypalVector.webhook_id;
  const transmissionId = '6f1c2a40-6e2b-11f1-9c1d-0242ac120002';
  // Inside the test certificate's validity (from 2026-11-30).
  const transmissionTime = '2027-01-04T10:20:30Z';
  let certDir: string;

  beforeAll(() => {
    certDir = join(dir, 'paypal-certs');
    mkdirSync(certDir);
    copyFileSync(new URL('paypal-test-cert.pem', fixturesDir), join(certDir, `${certName}.pem`));
  });

  const signedOver = (crc: string) => {
    const message = `${transmissionId}|${transmissionTime}|${webhookId}|${crc}`;
    return {
      provider: 'paypal',
      settings: { webhookId, certDir },
      body: paypalBody,
      headers: {
        'content-type': 'application/json',
        'paypal-transmission-id': transmissionId,
        'paypal-transmission-time': transmissionTime,
        'paypal-transmission-sig': rsaSign('sha256', Buffer.from(message), testKeyPem).toString('base64'),
        'paypal-cert-url': certUrl,
        'paypal-auth-algo': 'SHA256withRSA',
      },
      at: transmissionTime,
    };
  };

  it('the vector body has a CRC32 above 2^31, so the two forms differ; its real signature covers only the unsigned one', () => {
    const unsigned = crc32Unsigned(paypalBody);
    expect(unsigned).toBe(paypalVector.crc32_unsigned_decimal);
    expect(String(Number(unsigned) | 0)).toBe(paypalVector.crc32_signed_WRONG);
    const key = new X509Certificate(readFileSync(new URL(paypalVector.files.cert, vectorsDir), 'utf8'))
      .publicKey;
    const signature = Buffer.from(paypalHeaders['paypal-transmission-sig']!, 'base64');
    const prefix = `${paypalVector.transmission_id}|${paypalVector.transmission_time}|${webhookId}|`;
    expect(rsaVerify('sha256', Buffer.from(prefix + unsigned), key, signature)).toBe(true);
    expect(rsaVerify('sha256', Buffer.from(prefix + paypalVector.crc32_signed_WRONG), key, signature)).toBe(
      false,
    );
  });

  it('a signature over the unsigned CRC verifies (the control)', async () => {
    const result = await verifyThroughCli(
      'paypal-unsigned-crc',
      signedOver(paypalVector.crc32_unsigned_decimal),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'verified: paypal delivery, dedupe key WH-0G2756385H040842W-5Y612302CV158622M',
    );
  });

  it('a signature over the signed-int32 CRC exits 1', async () => {
    const result = await verifyThroughCli('paypal-signed-crc', signedOver(paypalVector.crc32_signed_WRONG));
    expect(result.stdout).toBe('');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'hookbox: not verified (signature_mismatch): PAYPAL-TRANSMISSION-SIG does not verify',
    );
  });
});
