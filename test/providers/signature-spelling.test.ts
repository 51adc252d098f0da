/**
 * Issue 11, item 10: other spellings of the same MAC. Each scheme is checked next to its
 * official verifier (stripe, standardwebhooks, twilio, @octokit/webhooks-methods); Shopify and
 * Slack have no installed SDK, so their documented check is written out below as the oracle.
 * Where Hookbox keeps a difference on purpose, docs/providers.md lists it and the test pins it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import twilioSdk from 'twilio';
import { describe, expect, it } from 'vitest';
import { genericHmac } from '../../src/providers/generic-hmac.ts';
import { github } from '../../src/providers/github.ts';
import { shopify } from '../../src/providers/shopify.ts';
import { slack } from '../../src/providers/slack.ts';
import { standardWebhooks } from '../../src/providers/standard-webhooks.ts';
import { stripe } from '../../src/providers/stripe.ts';
import { twilio } from '../../src/providers/twilio.ts';
import type { Provider } from '../../src/providers/types.ts';
import { makeDelivery } from './helpers.ts';

// The official verifiers read the wall clock; so do these cases.
const now = Date.now();
const seconds = Math.floor(now / 1000);

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 whose unused low bits of the last character are set: other text, the same bytes. */
function withTrailingBits(base64: string): string {
  const padding = base64.length - base64.replace(/=+$/, '').length;
  if (padding === 0) throw new Error('no unused bits without padding');
  const index = base64.length - padding - 1;
  const value = ALPHABET.indexOf(base64[index] ?? '');
  const changed = base64.slice(0, index) + ALPHABET[value | 1] + base64.slice(index + 1);
  expect(Buffer.from(changed, 'base64')).toEqual(Buffer.from(base64, 'base64'));
  expect(changed).not.toBe(base64);
  return changed;
}
/** The documented checks compare the expected signature with the header as text, in constant time. */
function equalText(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
const unpadded = (base64: string) => base64.replace(/=+$/, '');
const urlSafe = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_');

/** A body whose base64 MAC has both + or / in it, so the URL-safe spelling differs. */
function bodyWithUrlUnsafeMac(mac: (body: string) => string): string {
  for (let n = 0; n < 1000; n++) {
    const body = JSON.stringify({ id: `evt_${n}`, type: 'thing.happened' });
    if (/[+/]/.test(mac(body))) return body;
  }
  throw new Error('no body found');
}

/** Whether a scheme accepts a delivery of `body` with these headers (at the wall clock). */
async function accepts<C>(
  provider: Provider<C>,
  settings: C,
  body: string,
  headers: Record<string, string>,
  url?: string,
): Promise<boolean> {
  return (await provider.verify(makeDelivery({ body, headers, now, url }), settings)).ok;
}

describe('GitHub, with @octokit/webhooks-methods as the oracle', () => {
  const secret = 'github spelling secret';
  const settings = github.parseSettings({ secret });
  const body = JSON.stringify({ action: 'opened', issue: { number: 1 } });
  const verify = (signature: string) =>
    accepts(github, settings, body, {
      'x-hub-signature-256': signature,
      'x-github-event': 'issues',
      'x-github-delivery': 'd-1',
    });

  it('refuses upper-case hex, as octokit does', async () => {
    const signature = await octokitSign(secret, body);
    const upper = `sha256=${signature.slice('sha256='.length).toUpperCase()}`;
    expect(upper).not.toBe(signature);
    expect([await octokitVerify(secret, body, signature), await verify(signature)]).toEqual([true, true]);
    expect(await octokitVerify(secret, body, upper)).toBe(false);
    expect(await verify(upper)).toBe(false);
  });
});

describe("Slack, with Slack's documented check as the oracle", () => {
  const secret = 'slack0spelling0secret0000000000';
  const settings = slack.parseSettings({ signingSecret: secret });
  const body = JSON.stringify({ type: 'event_callback', event_id: 'Ev1', event: { type: 'app_mention' } });
  const mac = (timestamp: string) =>
    `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  /** api.slack.com/authentication/verifying-requests-from-slack: the header's text, compared as text. */
  const documented = (signature: string, timestamp: string) => {
    return Math.abs(seconds - Number(timestamp)) <= 300 && equalText(mac(timestamp), signature);
  };
  const verify = (signature: string, timestamp: string) =>
    accepts(slack, settings, body, {
      'x-slack-signature': signature,
      'x-slack-request-timestamp': timestamp,
      'content-type': 'application/json',
    });

  it('refuses upper-case hex, as the documented check does', async () => {
    const timestamp = String(seconds);
    const signature = mac(timestamp);
    const upper = `v0=${signature.slice(3).toUpperCase()}`;
    expect([documented(signature, timestamp), await verify(signature, timestamp)]).toEqual([true, true]);
    expect([documented(upper, timestamp), await verify(upper, timestamp)]).toEqual([false, false]);
  });

  it('checks a zero-padded timestamp over the text as sent, as the documented check does', async () => {
    const padded = `0${seconds}`;
    const overText = mac(padded);
    const overNumber = mac(String(seconds));
    expect([documented(overText, padded), await verify(overText, padded)]).toEqual([true, true]);
    expect([documented(overNumber, padded), await verify(overNumber, padded)]).toEqual([false, false]);
  });
});

describe('Stripe, with stripe-node as the oracle', () => {
  const sdk = new Stripe('sk_test_spelling');
  const secret = 'whsec_spelling_secret';
  const settings = stripe.parseSettings({ secret });
  const body = JSON.stringify({ id: 'evt_spelling', object: 'event', type: 'charge.succeeded' });
  const mac = (timestamp: string) =>
    createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  const official = (header: string) => {
    try {
      sdk.webhooks.constructEvent(body, header, secret, 300, undefined, now);
      return true;
    } catch {
      return false;
    }
  };
  const verify = (header: string) => accepts(stripe, settings, body, { 'stripe-signature': header });

  it('refuses upper-case hex, as stripe-node does', async () => {
    const good = `t=${seconds},v1=${mac(String(seconds))}`;
    const upper = `t=${seconds},v1=${mac(String(seconds)).toUpperCase()}`;
    expect([official(good), await verify(good)]).toEqual([true, true]);
    expect([official(upper), await verify(upper)]).toEqual([false, false]);
  });

  it('signs a zero-padded t= as its number, as stripe-node does', async () => {
    const overNumber = `t=0${seconds},v1=${mac(String(seconds))}`;
    const overText = `t=0${seconds},v1=${mac(`0${seconds}`)}`;
    expect([official(overNumber), await verify(overNumber)]).toEqual([true, true]);
    expect([official(overText), await verify(overText)]).toEqual([false, false]);
  });
});

describe('Standard Webhooks, with the standardwebhooks library as the oracle', () => {
  const secret = `whsec_${Buffer.from('spelling test key of 32 bytes!!!').toString('base64')}`;
  const settings = standardWebhooks.parseSettings({ secret });
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = (body: string, timestamp = String(seconds)) =>
    createHmac('sha256', key).update(`msg_1.${timestamp}.${body}`).digest('base64');
  const headers = (signature: string, timestamp = String(seconds)) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${signature}`,
  });
  const official = (body: string, h: Record<string, string>) => {
    try {
      new Webhook(secret).verify(body, h);
      return true;
    } catch {
      return false;
    }
  };
  const verify = (body: string, h: Record<string, string>) => accepts(standardWebhooks, settings, body, h);

  it('refuses unpadded, URL-safe and non-canonical base64, as the library does', async () => {
    const body = bodyWithUrlUnsafeMac((b) => mac(b));
    const signature = mac(body);
    expect([official(body, headers(signature)), await verify(body, headers(signature))]).toEqual([
      true,
      true,
    ]);
    for (const variant of [unpadded(signature), urlSafe(signature), withTrailingBits(signature)]) {
      expect(variant).not.toBe(signature);
      expect([official(body, headers(variant)), await verify(body, headers(variant))], variant).toEqual([
        false,
        false,
      ]);
    }
  });

  it('signs a zero-padded timestamp as its number, as the library does', async () => {
    const body = '{"type":"contact.created"}';
    const padded = headers(mac(body), `0${seconds}`);
    expect([official(body, padded), await verify(body, padded)]).toEqual([true, true]);
  });
});

describe('Twilio, with twilio-node as the oracle', () => {
  const authToken = 't'.repeat(32);
  const settings = twilio.parseSettings({ authToken });
  const url = 'https://hooks.example.com/webhooks/twilio';
  const paramsFor = (n: number) => ({ MessageSid: `SM${n}`, MessageStatus: 'delivered' });
  const verifyForm = (params: Record<string, string>, signature: string) =>
    accepts(
      twilio,
      settings,
      new URLSearchParams(params).toString(),
      { 'x-twilio-signature': signature, 'content-type': 'application/x-www-form-urlencoded' },
      url,
    );

  it('refuses unpadded, URL-safe and non-canonical base64, as validateRequest does', async () => {
    let n = 0;
    while (!/[+/]/.test(twilioSdk.getExpectedTwilioSignature(authToken, url, paramsFor(n)))) n++;
    const params = paramsFor(n);
    const signature = twilioSdk.getExpectedTwilioSignature(authToken, url, params);
    expect([
      twilioSdk.validateRequest(authToken, signature, url, params),
      await verifyForm(params, signature),
    ]).toEqual([true, true]);
    for (const variant of [unpadded(signature), urlSafe(signature), withTrailingBits(signature)]) {
      expect(
        [twilioSdk.validateRequest(authToken, variant, url, params), await verifyForm(params, variant)],
        variant,
      ).toEqual([false, false]);
    }
  });

  it('refuses an upper-case bodySHA256, as validateRequestWithBody does', async () => {
    const body = '{"type":"com.twilio.messaging.message.delivered"}';
    const hash = sha256(body);
    for (const [spelled, expected] of [
      [hash, true],
      [hash.toUpperCase(), false],
    ] as const) {
      const signedUrl = `${url}?bodySHA256=${spelled}`;
      const signature = twilioSdk.getExpectedTwilioSignature(authToken, signedUrl, {});
      const official = twilioSdk.validateRequestWithBody(authToken, signature, signedUrl, body);
      const hookbox = await accepts(
        twilio,
        settings,
        body,
        { 'x-twilio-signature': signature, 'content-type': 'application/json' },
        signedUrl,
      );
      expect([official, hookbox], spelled).toEqual([expected, expected]);
    }
  });
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe("Shopify, with Shopify's documented check as the oracle", () => {
  const secret = 'shpss_spelling_secret';
  const settings = shopify.parseSettings({ secret });
  const mac = (body: string) => createHmac('sha256', secret).update(body).digest('base64');
  /**
   * shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook: the base64
   * HMAC of the raw body compared with the header as text; @shopify/shopify-api also refuses an
   * empty body (missing_body) before computing anything.
   */
  const documented = (body: string, header: string) => body.length > 0 && equalText(mac(body), header);
  const verify = (body: string, header: string) =>
    accepts(shopify, settings, body, {
      'x-shopify-hmac-sha256': header,
      'x-shopify-topic': 'orders/create',
      'x-shopify-event-id': 'e-1',
    });

  it('refuses unpadded, URL-safe and non-canonical base64, as the documented check does', async () => {
    const body = bodyWithUrlUnsafeMac(mac);
    const signature = mac(body);
    expect([documented(body, signature), await verify(body, signature)]).toEqual([true, true]);
    for (const variant of [unpadded(signature), urlSafe(signature), withTrailingBits(signature)]) {
      expect([documented(body, variant), await verify(body, variant)], variant).toEqual([false, false]);
    }
  });

  it('refuses an empty body, as @shopify/shopify-api does', async () => {
    expect([documented('', mac('')), await verify('', mac(''))]).toEqual([false, false]);
  });
});

describe('generic HMAC: no official verifier, so these are decisions (docs/providers.md)', () => {
  const secret = 'generic spelling secret';
  const verify = (settingsInput: Record<string, unknown>, body: string, header: string) =>
    accepts(
      genericHmac,
      genericHmac.parseSettings({ header: 'x-signature', secret, ...settingsInput }),
      body,
      {
        'x-signature': header,
      },
    );
  const macBase64 = (body: string) => createHmac('sha256', secret).update(body).digest('base64');

  it('takes hex in either case: senders differ (.NET prints upper case), and both are the same bytes', async () => {
    const body = '{"id":"1"}';
    const hex = createHmac('sha256', secret).update(body).digest('hex');
    expect(await verify({ encoding: 'hex' }, body, hex)).toBe(true);
    expect(await verify({ encoding: 'hex' }, body, hex.toUpperCase())).toBe(true);
  });

  it('takes base64 with or without padding, but only in the configured alphabet and canonical', async () => {
    const body = bodyWithUrlUnsafeMac(macBase64);
    const signature = macBase64(body);
    expect(await verify({ encoding: 'base64' }, body, signature)).toBe(true);
    expect(await verify({ encoding: 'base64' }, body, unpadded(signature))).toBe(true);
    expect(await verify({ encoding: 'base64' }, body, urlSafe(signature))).toBe(false);
    expect(await verify({ encoding: 'base64' }, body, withTrailingBits(signature))).toBe(false);
    const url = Buffer.from(signature, 'base64').toString('base64url');
    expect(await verify({ encoding: 'base64url' }, body, url)).toBe(true);
    expect(await verify({ encoding: 'base64url' }, body, signature)).toBe(false);
  });
});
