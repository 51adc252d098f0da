/**
 * Issue 11, item 2: identity only from what is signed. GitHub and Shopify sign only the body,
 * Twilio the URL and form fields; their delivery ids, event names and idempotency tokens travel
 * unsigned. A captured delivery replayed with a fresh id, or relabelled with another type, must
 * be a duplicate of the stored event and never run a handler again. Through the real receive
 * route, on both engines, in sync mode so every handler run is visible at once.
 */
import { createHmac } from 'node:crypto';
import twilioSdk from 'twilio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestStore, engines } from '../support/stores.ts';

const githubSecret = 'identity github secret';
const shopifySecret = 'shpss_identity_secret';
const twilioToken = 'i'.repeat(32);
const slackSecret = 'identity0slack0signing0secret00';

describe.each(engines)('identity only from signed data, through the receive route on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  let runs: string[];
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));

  beforeEach(async () => {
    ({ store, cleanup } = await createTestStore(engine));
    runs = [];
    const record = (label: string) => () => void runs.push(label);
    hookbox = createHookbox({
      store,
      clock,
      sources: {
        github: { provider: 'github', secret: githubSecret, mode: 'sync' },
        shopify: { provider: 'shopify', secret: shopifySecret, mode: 'sync' },
        twilio: { provider: 'twilio', authToken: twilioToken, mode: 'sync' },
        slack: { provider: 'slack', signingSecret: slackSecret, mode: 'sync' },
      },
      handlers: {
        github: { 'issues.opened': record('issues.opened'), push: record('push') },
        shopify: { 'orders/create': record('orders/create'), 'orders/paid': record('orders/paid') },
        twilio: { '*': record('twilio') },
        slack: { '*': record('slack') },
      },
      worker: { enabled: false },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  async function post(path: string, body: string, headers: Record<string, string>) {
    const response = await hookbox.fetch(
      new Request(`http://hookbox.test${path}`, { method: 'POST', headers, body }),
    );
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function allEvents() {
    return (await store.listEvents({ limit: 100 })).events;
  }

  describe('GitHub', () => {
    const body = JSON.stringify({ action: 'opened', issue: { number: 7 }, repository: { id: 1 } });
    const signature = `sha256=${createHmac('sha256', githubSecret).update(body).digest('hex')}`;
    const deliver = (delivery: string, event = 'issues') =>
      post('/webhooks/github', body, {
        'content-type': 'application/json',
        'x-hub-signature-256': signature,
        'x-github-event': event,
        'x-github-delivery': delivery,
      });

    it('a replay with a fresh X-GitHub-Delivery is a duplicate and runs no handler', async () => {
      const first = await deliver('11111111-1111-4111-8111-111111111111');
      expect(first).toMatchObject({ status: 200, json: { duplicate: false, processed: true } });
      const replay = await deliver('22222222-2222-4222-8222-222222222222');
      expect(replay).toMatchObject({ status: 200, json: { id: first.json.id, duplicate: true } });
      expect(runs).toEqual(['issues.opened']);
      const [event, ...others] = await allEvents();
      expect(others).toEqual([]);
      expect(event).toMatchObject({ deliveryCount: 2, eventType: 'issues.opened' });
      // The unsigned delivery id stays visible as metadata: the first one, as stored.
      const stored = await store.getEvent(event!.id);
      expect(stored!.headers['x-github-delivery']).toBe('11111111-1111-4111-8111-111111111111');
    });

    it('the same body relabelled as another event is a duplicate: the push handler never runs', async () => {
      await deliver('33333333-3333-4333-8333-333333333333');
      const relabelled = await deliver('44444444-4444-4444-8444-444444444444', 'push');
      expect(relabelled).toMatchObject({ status: 200, json: { duplicate: true } });
      expect(runs).toEqual(['issues.opened']);
      expect((await allEvents()).map((e) => e.eventType)).toEqual(['issues.opened']);
    });
  });

  describe('Shopify', () => {
    // Shopify's ids exceed 2^53: written as raw JSON, exactly as Shopify sends them.
    const body = '{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}';
    const hmac = createHmac('sha256', shopifySecret).update(body).digest('base64');
    const deliver = (id: string, topic = 'orders/create', prefix = 'x-') =>
      post('/webhooks/shopify', body, {
        'content-type': 'application/json',
        [`${prefix}shopify-hmac-sha256`]: hmac,
        [`${prefix}shopify-topic`]: topic,
        [`${prefix}shopify-event-id`]: id,
        [`${prefix}shopify-webhook-id`]: `w-${id}`,
      });

    it('a replay with a fresh event id, or relabelled orders/paid, runs no handler again', async () => {
      const first = await deliver('e-1');
      expect(first).toMatchObject({ status: 200, json: { duplicate: false, processed: true } });
      expect(await deliver('e-2')).toMatchObject({
        status: 200,
        json: { id: first.json.id, duplicate: true },
      });
      expect(await deliver('e-3', 'orders/paid')).toMatchObject({
        json: { id: first.json.id, duplicate: true },
      });
      // The same body under the newer header names is the same event too.
      expect(await deliver('e-4', 'orders/paid', '')).toMatchObject({
        json: { id: first.json.id, duplicate: true },
      });
      expect(runs).toEqual(['orders/create']);
      const [event, ...others] = await allEvents();
      expect(others).toEqual([]);
      expect(event).toMatchObject({ eventType: 'orders/create', deliveryCount: 4 });
    });
  });

  describe('Twilio', () => {
    const url = 'http://hookbox.test/webhooks/twilio';
    const params = {
      MessageSid: 'SM0000000000000000000000000000000a',
      MessageStatus: 'delivered',
      To: '+1555',
    };
    const body = new URLSearchParams(params).toString();
    const signature = twilioSdk.getExpectedTwilioSignature(twilioToken, url, params);
    const deliver = (token: string) =>
      post('/webhooks/twilio', body, {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
        'i-twilio-idempotency-token': token,
      });

    it('a replay with a fresh I-Twilio-Idempotency-Token is a duplicate and runs no handler', async () => {
      const first = await deliver('AC1-token-1');
      expect(first).toMatchObject({ status: 200, json: { duplicate: false, processed: true } });
      expect(await deliver('AC1-token-2')).toMatchObject({
        status: 200,
        json: { id: first.json.id, duplicate: true },
      });
      expect(runs).toEqual(['twilio']);
      expect(await allEvents()).toHaveLength(1);
    });
  });

  describe('Slack ssl_check', () => {
    it('is answered 200 without a signature, and stores and runs nothing', async () => {
      const answer = await post('/webhooks/slack', 'ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(answer).toEqual({ status: 200, json: { ok: true } });
      expect(await allEvents()).toEqual([]);
      expect(runs).toEqual([]);
      // Any other unsigned form is still refused.
      const command = await post('/webhooks/slack', 'command=%2Fpay&text=100', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(command.status).toBe(401);
      expect(await allEvents()).toEqual([]);
    });
  });
});
