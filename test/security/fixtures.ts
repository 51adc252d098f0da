/**
 * Shared pieces of the security tests: one source per signature scheme with test secrets,
 * keys made at run time (Firebase) or taken from the repository's fixtures (PayPal), and a way
 * to sign a genuine delivery for any of them.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import type { SourceDefinition } from '../../src/hookbox.ts';
import type { Source } from '../../src/ingest/source.ts';

const fixturesDir = new URL('../providers/fixtures/', import.meta.url);

export const secrets = {
  stripe: 'whsec_hostile_stripe_secret_a',
  stripeB: 'whsec_hostile_stripe_secret_b',
  github: 'github hostile secret',
  standard: `whsec_${Buffer.from('standard-webhooks hostile key!').toString('base64')}`,
  slack: 'slack_hostile_signing_secret',
  twilio: 'twilio_hostile_auth_token',
  shopify: 'shopify hostile secret',
  generic: 'generic hostile secret',
} as const;

/** The name PayPal deliveries point their cert URL at; its PEM sits in the temporary certDir. */
export const paypalCertName = 'CERT-hookbox-hostile';
export const paypalCertUrl = `https://api-m.sandbox.paypal.com/v1/notifications/certs/${paypalCertName}`;
export const paypalWebhookId = 'WH-HOOKBOX-HOSTILE';

export interface SchemeKeys {
  /** Every source, as config. */
  sources: Record<string, SourceDefinition>;
  /** A time inside the PayPal fixture certificate's validity: the clock of the tests. */
  now: number;
  /** Every secret configured anywhere: no response may contain one. */
  allSecrets: string[];
  cleanup(): void;
}

/** Sources for every scheme, on keys made for this run. */
export async function createSchemeKeys(): Promise<SchemeKeys> {
  const dir = mkdtempSync(join(tmpdir(), 'hookbox-security-'));
  const certPem = readFileSync(new URL('paypal-test-cert.pem', fixturesDir), 'utf8');
  copyFileSync(new URL('paypal-test-cert.pem', fixturesDir), join(dir, `${paypalCertName}.pem`));
  const paypalKey = readFileSync(new URL('paypal-test-key.pem', fixturesDir), 'utf8');
  // A day into the certificate's validity, whenever the fixture was made.
  const now = Date.parse(new X509Certificate(certPem).validFrom) + 86_400_000;

  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'hostile-1', alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: 'hostile-1', alg: 'RS256' };
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [publicJwk] }));

  const sources: Record<string, SourceDefinition> = {
    stripe: { provider: 'stripe', secrets: [secrets.stripe] },
    'stripe-b': { provider: 'stripe', secrets: [secrets.stripeB] },
    tight: { provider: 'stripe', secrets: [secrets.stripe], maxBodyBytes: 4096, maxHeaderBytes: 2048 },
    wide: { provider: 'stripe', secrets: [secrets.stripe], maxHeaderBytes: 1024 * 1024 },
    github: { provider: 'github', secrets: [secrets.github] },
    standard: { provider: 'standard-webhooks', secrets: [secrets.standard] },
    slack: { provider: 'slack', signingSecrets: [secrets.slack] },
    twilio: { provider: 'twilio', authTokens: [secrets.twilio] },
    shopify: { provider: 'shopify', secrets: [secrets.shopify] },
    generic: {
      provider: 'generic-hmac',
      header: 'x-signature',
      prefix: 'sha256=',
      secrets: [secrets.generic],
    },
    paypal: {
      provider: 'paypal',
      webhookId: paypalWebhookId,
      certDir: dir,
      signingKey: paypalKey,
      signingCertUrl: paypalCertUrl,
    },
    firebase: {
      provider: 'firebase',
      audience: 'https://hookbox.test/webhooks/firebase',
      serviceAccountEmail: 'push@hookbox-test.iam.gserviceaccount.com',
      jwksFile,
      signingKey: privateJwk,
    },
  };
  return {
    sources,
    now,
    allSecrets: [...Object.values(secrets), paypalKey, privateJwk.d ?? 'no-d'],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const baseUrl = 'http://hookbox.test';

/** A genuine delivery to `source` as its provider would send it. */
export async function signFor(
  source: Source,
  options: { eventId: string; now: number; eventType?: string; body?: Buffer },
): Promise<{ url: string; headers: Record<string, string>; body: Buffer }> {
  const provider = source.provider;
  if (!provider.sign || !provider.sampleBody) throw new Error(`${provider.name} cannot sign test deliveries`);
  const eventType = options.eventType ?? 'sample.event';
  const url = `${baseUrl}/webhooks/${source.name}`;
  const body = options.body ?? provider.sampleBody({ eventType, eventId: options.eventId, now: options.now });
  const signed = await provider.sign(body, source.settings, {
    now: options.now,
    url,
    eventType,
    eventId: options.eventId,
  });
  return { url: signed.url ?? url, headers: signed.headers, body: signed.body };
}

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(name, fixturesDir));
}
