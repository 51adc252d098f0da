import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type DeliveryInput, deliverOnce, RESPONSE_EXCERPT_BYTES } from '../../src/destinations/deliver.ts';
import {
  createDestinationHttpClient,
  createGuardedLookup,
  type DestinationHttpClient,
  type HostLookup,
} from '../../src/destinations/http-client.ts';
import { decideNextStep } from '../../src/destinations/next-attempt.ts';
import { makeDestination, type RecordingServer, type Responder, startRecordingServer } from './helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(respond?: Responder): Promise<RecordingServer> {
  const server = await startRecordingServer(respond);
  cleanups.push(() => server.close());
  return server;
}

function client(options?: Parameters<typeof createDestinationHttpClient>[0]): DestinationHttpClient {
  const created = createDestinationHttpClient(options);
  cleanups.push(() => created.close());
  return created;
}

const body = Buffer.from('{"id":"evt_1","type":"invoice.paid","data":{"object":{"amount":100}}}\n', 'utf8');

function input(fields: Partial<DeliveryInput> = {}): DeliveryInput {
  return {
    eventId: '01JEVENT0000000000000000AB',
    source: 'stripe',
    eventType: 'invoice.paid',
    attempt: 1,
    body,
    contentType: 'application/json; charset=utf-8',
    ...fields,
  };
}

function answer(status: number, headers: Record<string, string> = {}, text = ''): Responder {
  return (_request, response) => {
    response.writeHead(status, headers);
    response.end(text);
  };
}

describe('deliverOnce against real HTTP servers on loopback', () => {
  it('POSTs the exact bytes and content-type, signed so standardwebhooks verifies it', async () => {
    const server = await serve();
    const destination = makeDestination({
      url: `${server.url}/hooks/billing?from=hookbox`,
      allowPrivateNetwork: true,
      headers: { Authorization: 'Bearer app-token' },
      passHeaders: ['stripe-account', 'X-Absent'],
    });
    const result = await deliverOnce(
      client(),
      destination,
      input({ receivedHeaders: { 'Stripe-Account': 'acct_123', 'stripe-signature': 'never stored' } }),
    );

    expect(result).toMatchObject({ verdict: 'succeeded', statusCode: 200, errorCode: null, error: null });
    expect(result.responseExcerpt.toString()).toBe('ok');
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hooks/billing?from=hookbox');
    expect(request?.body.equals(body)).toBe(true);
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(body.length),
      'webhook-id': '01JEVENT0000000000000000AB',
      'x-hookbox-source': 'stripe',
      'x-hookbox-event-type': 'invoice.paid',
      'x-hookbox-attempt': '1',
      authorization: 'Bearer app-token',
      'stripe-account': 'acct_123',
    });
    expect(request?.headers['x-absent']).toBeUndefined();
    expect(request?.headers['stripe-signature']).toBeUndefined();
    const headers = request?.headers as Record<string, string>;
    expect(() =>
      new Webhook(destination.signingSecret).verify(request?.body as Buffer, headers),
    ).not.toThrow();
    expect(() =>
      new Webhook(makeDestination({ url: server.url, allowPrivateNetwork: true }).signingSecret).verify(
        request?.body as Buffer,
        headers,
      ),
    ).toThrow();
  });

  it('sends a body that is not UTF-8 byte for byte, and no content-type when there was none', async () => {
    const server = await serve();
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const binary = Buffer.from([0xff, 0x00, 0xfe, 0x0d, 0x0a, 0x80]);
    await deliverOnce(client(), destination, input({ body: binary, contentType: null }));
    expect(server.requests[0]?.body.equals(binary)).toBe(true);
    expect(server.requests[0]?.headers['content-type']).toBeUndefined();
  });

  it('503 twice then 200: three identical signed requests with the same webhook-id', async () => {
    const server = await serve((_request, response, index) => {
      response.writeHead(index < 2 ? 503 : 200);
      response.end(index < 2 ? 'busy' : 'done');
    });
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const http = client();
    const results = [];
    for (const attempt of [1, 2, 3]) results.push(await deliverOnce(http, destination, input({ attempt })));

    expect(results.map((r) => [r.verdict, r.statusCode, r.retryAfterMs])).toEqual([
      ['retry', 503, undefined],
      ['retry', 503, undefined],
      ['succeeded', 200, undefined],
    ]);
    expect(results[0]?.error).toContain('answered 503');
    expect(results[0]?.responseExcerpt.toString()).toBe('busy');
    expect(server.requests).toHaveLength(3);
    for (const [index, request] of server.requests.entries()) {
      expect(request.body.equals(body)).toBe(true);
      expect(request.headers['webhook-id']).toBe('01JEVENT0000000000000000AB');
      expect(request.headers['x-hookbox-attempt']).toBe(String(index + 1));
      expect(() =>
        new Webhook(destination.signingSecret).verify(
          request.body,
          request.headers as Record<string, string>,
        ),
      ).not.toThrow();
    }
    // Without Retry-After, a 503 takes the normal backoff.
    const now = Date.now();
    expect(decideNextStep(destination, 1, results[0]!, now, () => 0.5)).toEqual({
      outcome: 'retry',
      nextAttemptAt: now + 5000,
      delayMs: 5000,
    });
  });

  it('429 with Retry-After: 2 asks to wait at least 2000 ms', async () => {
    const server = await serve(answer(429, { 'retry-after': '2' }, 'slow down'));
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const result = await deliverOnce(client(), destination, input());
    expect(result).toMatchObject({
      verdict: 'retry',
      statusCode: 429,
      retryAfterMs: 2000,
      errorCode: 'status',
    });
    expect(result.error).toContain('Retry-After');
    const now = Date.now();
    const next = decideNextStep(destination, 1, result, now, () => 0);
    expect(next).toEqual({ outcome: 'retry', nextAttemptAt: now + 2000, delayMs: 2000 });
  });

  it('503 with Retry-After as an HTTP date waits until that date', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(503, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() });
      response.end();
    });
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const result = await deliverOnce(client(), destination, input());
    expect(result.verdict).toBe('retry');
    // toUTCString drops the milliseconds, so up to a second less.
    expect(result.retryAfterMs).toBeGreaterThan(28_000);
    expect(result.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('410 Gone disables the destination', async () => {
    const server = await serve(answer(410, {}, 'endpoint removed'));
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const result = await deliverOnce(client(), destination, input());
    expect(result).toMatchObject({ verdict: 'disable', statusCode: 410, errorCode: 'gone' });
    expect(result.responseExcerpt.toString()).toBe('endpoint removed');
    expect(decideNextStep(destination, 1, result, Date.now(), Math.random)).toEqual({ outcome: 'disable' });
  });

  it('a server that never answers times out, and does not hold up another destination', async () => {
    const silent = await serve(() => {});
    const quick = await serve();
    const stuck = makeDestination({
      name: 'stuck',
      url: silent.url,
      allowPrivateNetwork: true,
      timeoutMs: 2000,
    });
    const healthy = makeDestination({ name: 'healthy', url: quick.url, allowPrivateNetwork: true });
    const http = client();

    const started = Date.now();
    const stuckResult = deliverOnce(http, stuck, input());
    const healthyResult = await deliverOnce(http, healthy, input());
    const healthyDoneAfter = Date.now() - started;
    expect(healthyResult.verdict).toBe('succeeded');
    // Half the stuck one's timeout: room for a slow machine, none for waiting behind it.
    expect(healthyDoneAfter).toBeLessThan(1000);

    const timedOut = await stuckResult;
    expect(timedOut).toMatchObject({ verdict: 'retry', statusCode: null, errorCode: 'timeout' });
    expect(timedOut.error).toContain('2000 ms timeout');
    expect(timedOut.error).toContain('response headers');
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(990);
    expect(silent.requests).toHaveLength(1);
  });

  it('times out a body that stops after the headers', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('partial');
    });
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true, timeoutMs: 300 });
    const result = await deliverOnce(client(), destination, input());
    expect(result).toMatchObject({ verdict: 'retry', statusCode: 200, errorCode: 'timeout' });
    expect(result.error).toContain('the first 1 KB of the response body');
  });

  it("still reads as a timeout when undici's own timer fires before the deadline", async () => {
    // A busy event loop can run undici's header timer ahead of ours; timers that never fire
    // stand in for that, so only undici's (1 s behind the deadline) can end the attempt.
    const neverFires = { setTimeout: () => 0, clearTimeout: () => {} };
    const silent = await serve(() => {});
    const destination = makeDestination({ url: silent.url, allowPrivateNetwork: true, timeoutMs: 200 });
    const result = await deliverOnce(client({ timers: neverFires }), destination, input());
    expect(result).toMatchObject({ verdict: 'retry', statusCode: null, errorCode: 'timeout' });
    expect(result.error).toContain('200 ms timeout');
    expect(result.durationMs).toBeGreaterThanOrEqual(1_000);
  });

  it('does not follow a redirect: a 3xx is a failed attempt with its Location', async () => {
    const target = await serve();
    const redirecting = await serve(answer(302, { location: `${target.url}/moved` }));
    const destination = makeDestination({ url: redirecting.url, allowPrivateNetwork: true });
    const result = await deliverOnce(client(), destination, input());
    expect(result).toMatchObject({
      verdict: 'retry',
      statusCode: 302,
      location: `${target.url}/moved`,
      errorCode: 'redirect',
    });
    expect(result.error).toContain('redirects are not followed');
    expect(target.requests).toHaveLength(0);
  });

  describe('a 10 MB response', () => {
    const tenMegabytes = 10 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    chunk.write('first-bytes:', 0);

    /** Writes up to 10 MB with back-pressure and reports how far it got before the client hung up. */
    function streamHuge(withLength: boolean, report: { written: number; finished: boolean }): Responder {
      return (_request, response: ServerResponse) => {
        response.writeHead(500, withLength ? { 'content-length': String(tenMegabytes) } : {});
        const writeMore = () => {
          while (report.written < tenMegabytes) {
            report.written += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', writeMore);
          }
          response.end(() => {
            report.finished = true;
          });
        };
        response.on('close', () => response.removeAllListeners('drain'));
        writeMore();
      };
    }

    it.each([
      ['with a content-length', true],
      ['chunked', false],
    ])('%s: keeps the first 1 KB and stops reading', async (_label, withLength) => {
      const report = { written: 0, finished: false };
      const server = await serve(streamHuge(withLength, report));
      const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
      const http = client();
      const result = await deliverOnce(http, destination, input());

      expect(result).toMatchObject({ verdict: 'retry', statusCode: 500, responseTruncated: true });
      expect(result.responseExcerpt).toHaveLength(RESPONSE_EXCERPT_BYTES);
      expect(result.responseExcerpt.equals(chunk.subarray(0, RESPONSE_EXCERPT_BYTES))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(report.finished).toBe(false);
      expect(report.written).toBeLessThan(tenMegabytes);

      // The connection that carried the rest unread was closed; the next delivery opens another.
      const next = await deliverOnce(http, destination, input({ attempt: 2 }));
      expect(next.statusCode).toBe(500);
      expect(server.connections).toBe(2);
    });
  });

  it('keeps the connection alive: sequential deliveries share one connection', async () => {
    // A body beyond the excerpt but within the drain limit is read and discarded, not a reason to reconnect.
    const server = await serve(answer(200, {}, 'y'.repeat(10_000)));
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const http = client();
    for (const attempt of [1, 2, 3]) {
      const result = await deliverOnce(http, destination, input({ attempt }));
      expect(result).toMatchObject({ verdict: 'succeeded', responseTruncated: true });
    }
    expect(server.requests).toHaveLength(3);
    expect(server.requests.map((r) => r.connection)).toEqual([1, 1, 1]);
    expect(server.connections).toBe(1);
  });

  it('never has more than `concurrency` requests in flight at the destination', async () => {
    let inFlight = 0;
    let peak = 0;
    const server = await serve((_request, response) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        response.end('ok');
      }, 50);
    });
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true, concurrency: 2 });
    const http = client();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        deliverOnce(http, destination, input({ eventId: `evt_${index}` })),
      ),
    );
    expect(results.every((r) => r.verdict === 'succeeded')).toBe(true);
    expect(peak).toBe(2);
  });

  it('a rate limit makes excess deliveries wait, and every one succeeds', async () => {
    const server = await serve();
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true, ratePerSecond: 20 });
    const http = client();
    // One delivery first, so the five below find the connection open: the first request's
    // connection setup would otherwise delay its arrival alone and shorten the span measured.
    expect((await deliverOnce(http, destination, input({ eventId: 'evt_warm' }))).verdict).toBe('succeeded');
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        deliverOnce(http, destination, input({ eventId: `evt_${index}` })),
      ),
    );
    expect(results.map((r) => r.verdict)).toEqual(Array(5).fill('succeeded'));
    expect(server.requests).toHaveLength(6);
    const times = server.requests.slice(1).map((r) => r.receivedAt);
    // 20 per second: starts 50 ms apart, so five span at least 200 ms (timer slack allowed).
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(180);
  });

  it('reports a refused connection with what to check', async () => {
    const server = await serve();
    const url = server.url;
    await server.close();
    const destination = makeDestination({ url, allowPrivateNetwork: true });
    const result = await deliverOnce(client(), destination, input());
    expect(result).toMatchObject({ verdict: 'retry', statusCode: null, errorCode: 'connection_failed' });
    expect(result.error).toContain('connection refused');
  });

  it('reports a name that does not resolve', async () => {
    const lookup: HostLookup = (hostname, _options, callback) => {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = 'ENOTFOUND';
      callback(error, []);
    };
    const destination = makeDestination({ url: 'http://billing.invalid/hooks' });
    const result = await deliverOnce(client({ lookup }), destination, input());
    expect(result).toMatchObject({ verdict: 'retry', errorCode: 'dns_failed' });
    expect(result.error).toContain('could not resolve billing.invalid');
  });

  it('cuts off a running attempt on shutdown and says so', async () => {
    const server = await serve(() => {});
    const destination = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopping')), 100);
    const result = await deliverOnce(client(), destination, input({ signal: controller.signal }));
    expect(result).toMatchObject({ verdict: 'retry', errorCode: 'aborted' });
  });
});

describe('the request-forgery guard at delivery time', () => {
  it('refuses a host name that resolves to 169.254.169.254, and sends nothing', async () => {
    const looked: string[] = [];
    const lookup: HostLookup = (hostname, _options, callback) => {
      looked.push(hostname);
      callback(null, [{ address: '169.254.169.254', family: 4 }]);
    };
    // The name passes config validation: only its DNS answer is wrong.
    const destination = makeDestination({ url: 'http://billing.example.com/hooks' });
    const result = await deliverOnce(client({ lookup }), destination, input());

    expect(looked).toEqual(['billing.example.com']);
    expect(result).toMatchObject({ verdict: 'retry', statusCode: null, errorCode: 'address_refused' });
    expect(result.error).toContain('billing.example.com resolved to 169.254.169.254');
    expect(result.error).toContain('cloud metadata');
    expect(result.error).toContain('"allowPrivateNetwork": true on destination stripe/app');
  });

  it('judges the address actually connected to: a name whose answer changes to loopback is refused', async () => {
    const server = await serve();
    const answers = ['127.0.0.1'];
    const lookup: HostLookup = (_hostname, _options, callback) =>
      callback(null, [{ address: answers.shift() ?? '127.0.0.1', family: 4 }]);
    const destination = makeDestination({ url: `http://app.example.com:${server.port}/` });
    const result = await deliverOnce(client({ lookup }), destination, input());
    expect(result.errorCode).toBe('address_refused');
    expect(result.error).toContain('app.example.com resolved to 127.0.0.1 is a loopback address');
    expect(server.requests).toHaveLength(0);
  });

  it('connects through the injected lookup when allowPrivateNetwork is set', async () => {
    const server = await serve();
    const lookup: HostLookup = (_hostname, _options, callback) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const destination = makeDestination({
      url: `http://app.example.com:${server.port}/`,
      allowPrivateNetwork: true,
    });
    const result = await deliverOnce(client({ lookup }), destination, input());
    expect(result.verdict).toBe('succeeded');
    expect(server.requests[0]?.headers.host).toBe(`app.example.com:${server.port}`);
  });

  it('refuses a literal private address at connect time too', async () => {
    const server = await serve();
    // A destination that skipped validation (built by hand): the connect step still refuses it.
    const allowed = makeDestination({ url: server.url, allowPrivateNetwork: true });
    const unchecked = Object.freeze({ ...allowed, allowPrivateNetwork: false });
    const result = await deliverOnce(client(), unchecked, input());
    expect(result.errorCode).toBe('address_refused');
    expect(result.error).toContain('127.0.0.1 is a loopback address');
    expect(server.requests).toHaveLength(0);
  });

  it('keeps only the allowed addresses of a mixed DNS answer', async () => {
    const destination = makeDestination({ url: 'https://billing.example.com/' });
    const guarded = createGuardedLookup(destination, (_hostname, _options, callback) =>
      callback(null, [
        { address: '10.0.0.5', family: 4 },
        { address: '93.184.216.34', family: 4 },
        { address: 'fd00::5', family: 6 },
        { address: '2606:2800:220:1::1', family: 6 },
      ]),
    );
    const all = await new Promise((resolve, reject) =>
      guarded('billing.example.com', { all: true }, (error, addresses) =>
        error ? reject(error) : resolve(addresses),
      ),
    );
    expect(all).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    const one = await new Promise((resolve, reject) =>
      guarded('billing.example.com', {}, (error, address, family) =>
        error ? reject(error) : resolve([address, family]),
      ),
    );
    expect(one).toEqual(['93.184.216.34', 4]);
  });
});

describe('the client after shutdown', () => {
  it('refuses to start a delivery once closed, as a rejected promise', async () => {
    const http = createDestinationHttpClient();
    await http.close();
    const destination = makeDestination({ url: 'https://billing.example.com/' });
    await expect(deliverOnce(http, destination, input())).rejects.toThrow(/closed/);
  });
});
