/**
 * The forwarding bench's baseline: a bare undici loop posting the same bodies with the same
 * headers (content-type, the Standard Webhooks trio, x-hookbox-*) to the same destination at
 * the same concurrency, over one keep-alive pool of that many connections, as Hookbox's client
 * does. Nothing is read from or written to a store; the signatures are computed before the clock
 * starts, so this is the pure HTTP cost of the deliveries, the fastest a forwarder could go.
 */
import { Pool } from 'undici';
import { signDelivery } from '../../src/destinations/sign.ts';
import { benchEventId, benchEventType, benchSource, createBodyFactory } from '../lib/deliveries.ts';
import { announceReady, readConfig, serveParent } from './child.ts';

export interface UndiciForwardConfig {
  url: string;
  events: number;
  concurrency: number;
  signingSecret: string;
  /** The `now` the seeded bodies were made with, so the bytes are the same. */
  bodyTime: number;
}

export interface ForwardReport {
  delivered: number;
  failed: number;
  elapsedMs: number;
  eventsPerSec: number;
}

const config = readConfig<UndiciForwardConfig>();
const url = new URL(config.url);
const pool = new Pool(url.origin, {
  connections: config.concurrency,
  pipelining: 1,
  keepAliveTimeout: 4_000,
});

announceReady();
serveParent({
  report: async (): Promise<ForwardReport> => {
    const bodyOf = createBodyFactory(config.bodyTime);
    const now = Date.now();
    const requests = Array.from({ length: config.events }, (_, n) => {
      const body = Buffer.from(bodyOf(benchEventId('forward', n)));
      // A Hookbox event id has 26 characters (a ULID): the same header size.
      const id = `01BENCH${String(n).padStart(19, '0')}`;
      return {
        body,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          ...signDelivery({ id, now, body, secret: config.signingSecret }),
          'x-hookbox-source': benchSource,
          'x-hookbox-event-type': benchEventType,
          'x-hookbox-attempt': '1',
        },
      };
    });
    let next = 0;
    let delivered = 0;
    let failed = 0;
    const started = performance.now();
    const loop = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const response = await pool.request({
          origin: url.origin,
          path: url.pathname,
          method: 'POST',
          headers: request.headers,
          body: request.body,
        });
        await response.body.dump();
        if (response.statusCode >= 200 && response.statusCode < 300) delivered++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, loop));
    const elapsedMs = performance.now() - started;
    return { delivered, failed, elapsedMs, eventsPerSec: (delivered / elapsedMs) * 1000 };
  },
  close: () => pool.close(),
});
