/**
 * One source per signature scheme, each able to `sign` as well as verify (PayPal and Firebase
 * get test keys), for tests that send a delivery of every kind: the e2e `hookbox send` run and
 * the redaction scan.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import type { SourceDefinition } from '../../src/hookbox.ts';
import { withoutEnvSources } from './processes.ts';

const fixturesDir = new URL('../providers/fixtures/', import.meta.url);

/** The env names that define sources without a config file, emptied: only the config's sources exist. */
export const noSourcesFromEnv = { DATABASE_URL: '', ...withoutEnvSources };

/**
 * Sources named after their schemes, with key files written into `dir`; `overrides` replaces
 * keys of single sources (a source's own secret, generic HMAC's header...).
 */
export async function everySchemeSources(
  dir: string,
  overrides: Record<string, Partial<SourceDefinition>> = {},
): Promise<Record<string, SourceDefinition>> {
  // PayPal: `sign` puts its default cert URL (.../certs/CERT-hookbox-test) in PAYPAL-CERT-URL;
  // certDir serves the test certificate under that name, so nothing is fetched.
  const certDir = join(dir, 'paypal-certs');
  mkdirSync(certDir, { recursive: true });
  copyFileSync(new URL('paypal-test-cert.pem', fixturesDir), join(certDir, 'CERT-hookbox-test.pem'));
  const paypalKey = readFileSync(new URL('paypal-test-key.pem', fixturesDir), 'utf8');

  // Firebase: a local RS256 key stands in for Google's; its public half is the JWKS file.
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'hookbox-test-key';
  const jwksFile = join(dir, 'google-jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] }),
  );

  const sources: Record<string, SourceDefinition> = {
    stripe: { provider: 'stripe', secrets: ['whsec_e2e_stripe_secret'] },
    paypal: { provider: 'paypal', webhookId: '8PT597110X687430LKGECATA', certDir, signingKey: paypalKey },
    // Twilio signs the URL it posts to: the receiver must see the URL the delivery was signed for.
    twilio: { provider: 'twilio', authTokens: ['e2e_twilio_auth_token'] },
    firebase: {
      provider: 'firebase',
      audience: 'https://hookbox.test/webhooks/firebase',
      serviceAccountEmail: 'push@hookbox-e2e.iam.gserviceaccount.com',
      jwksFile,
      signingKey: await exportPKCS8(privateKey),
      signingKid: kid,
    },
    'standard-webhooks': {
      provider: 'standard-webhooks',
      secrets: [`whsec_${Buffer.from('e2e standard webhooks key 32 by').toString('base64')}`],
    },
    github: { provider: 'github', secrets: ['e2e github secret'] },
    shopify: { provider: 'shopify', secrets: ['e2e_shopify_client_secret'] },
    slack: { provider: 'slack', signingSecrets: ['e2e0slack0signing0secret'] },
    'generic-hmac': {
      provider: 'generic-hmac',
      header: 'x-signature',
      dedupeKey: { jsonPath: 'id' },
      eventType: { jsonPath: 'type' },
      secrets: ['e2e generic secret'],
    },
  };
  for (const [name, override] of Object.entries(overrides)) {
    const base = sources[name];
    if (!base) throw new Error(`no source ${name} to override`);
    sources[name] = { ...base, ...override } as SourceDefinition;
  }
  return sources;
}
