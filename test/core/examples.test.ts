import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/node-server.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

// The library example in docs/library.md, run as written.
describe('examples/node-server.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hookbox-example-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('receives a signed Stripe event and runs the app handler to processed', async () => {
    const secret = 'whsec_example_secret';
    const hookbox = createApp({ databaseUrl: `file:${join(dir, 'example.db')}`, stripeSecret: secret });
    await hookbox.start();
    try {
      const body = stripeEventBody('evt_example');
      const response = await hookbox.fetch(
        new Request('http://localhost/api/webhooks/stripe', {
          method: 'POST',
          headers: { 'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)) },
          body,
        }),
      );
      expect(response.status).toBe(200);
      const { id } = await response.json();
      for (let i = 0; i < 100 && (await hookbox.events.getEvent(id))?.event.status !== 'processed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await hookbox.events.getEvent(id))?.event.status).toBe('processed');
    } finally {
      await hookbox.stop();
    }
  });
});
