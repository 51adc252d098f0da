/**
 * The hostile input corpus: deliveries an attacker, a broken proxy or a confused integration
 * sends, each with the status Hookbox must answer. The in-process part runs the real receive
 * route through `hookbox.fetch` on both stores; the socket part runs `hookbox serve` and talks
 * raw HTTP to it (slowloris, oversized headers, malformed framing, header injection). After
 * each corpus the store holds exactly the genuine events and the server still answers.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { type ErrorCode, errorCatalogue } from '../../src/errors.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { type ServerProcess, startServerProcess } from '../support/processes.ts';
import {
  createTestStore,
  type Engine,
  engines,
  postgresProcessUrl,
  queryPostgres,
  uniqueSchemaName,
} from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';
import { baseUrl, createSchemeKeys, paypalCertName, type SchemeKeys, secrets, signFor } from './fixtures.ts';

/** What a case sends. `headers` may repeat a name (a Headers object keeps both lines). */
interface Sent {
  path: string;
  method?: string;
  headers?: Headers | Record<string, string>;
  body?: BodyInit | Buffer | string;
}

interface HostileCase {
  name: string;
  send: (ctx: CorpusContext) => Sent | Promise<Sent>;
  status: number;
  /** The error code for a 4xx (one of, when the exact refusal may vary). */
  code?: ErrorCode | ErrorCode[];
  /** For a 200: whether the delivery repeats one already stored. */
  duplicate?: boolean;
  /** More checks on the response. */
  check?: (response: Response, text: string) => void;
}

interface CorpusContext {
  hookbox: Hookbox;
  now: number;
  nowSeconds: number;
}

const MiB = 1024 * 1024;

function stripeDelivery(
  ctx: CorpusContext,
  body: string | Buffer,
  options: { secret?: string; at?: number; source?: string; contentType?: string } = {},
): Sent {
  return {
    path: `/webhooks/${options.source ?? 'stripe'}`,
    headers: {
      'content-type': options.contentType ?? 'application/json',
      'stripe-signature': signStripe(body, options.secret ?? secrets.stripe, options.at ?? ctx.nowSeconds),
    },
    body,
  };
}

function hex64(seed: number): string {
  return createHmac('sha256', 'filler').update(String(seed)).digest('hex');
}

async function genuine(
  ctx: CorpusContext,
  source: string,
  eventId: string,
  eventType?: string,
): Promise<Sent> {
  const signed = await signFor(ctx.hookbox.sources.get(source)!, {
    eventId,
    now: ctx.now,
    ...(eventType ? { eventType } : {}),
  });
  return {
    path: new URL(signed.url).pathname + new URL(signed.url).search,
    headers: signed.headers,
    body: signed.body,
  };
}

/** A body stream that sends `size` bytes in 64 KiB chunks (no Content-Length). */
function streamOf(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const chunk = new Uint8Array(Math.min(65_536, size - sent)).fill(0x61);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

/** A body that sends a few bytes and then fails, as a connection cut mid-body does. */
function truncatedStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"id":"evt_cut","ty'));
      controller.error(new Error('connection reset'));
    },
  });
}

const corpus: HostileCase[] = [
  // ---- malformed, truncated and odd JSON, correctly signed: the signature is fine, the body is not
  {
    name: 'truncated JSON',
    send: (ctx) => stripeDelivery(ctx, stripeEventBody('evt_trunc').slice(0, 40)),
    status: 400,
    code: 'payload_invalid',
  },
  { name: 'a lone {', send: (ctx) => stripeDelivery(ctx, '{'), status: 400, code: 'payload_invalid' },
  { name: 'an empty body', send: (ctx) => stripeDelivery(ctx, ''), status: 400, code: 'payload_invalid' },
  {
    name: 'a JSON array',
    send: (ctx) => stripeDelivery(ctx, '[{"id":"evt_arr","type":"x"}]'),
    status: 400,
    code: 'payload_invalid',
  },
  { name: 'JSON null', send: (ctx) => stripeDelivery(ctx, 'null'), status: 400, code: 'payload_invalid' },
  {
    name: 'a JSON string',
    send: (ctx) => stripeDelivery(ctx, '"evt"'),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'an id that is an object (operator injection)',
    send: (ctx) => stripeDelivery(ctx, '{"id":{"$gt":""},"type":"x"}'),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'an id under __proto__ only',
    send: (ctx) => stripeDelivery(ctx, '{"__proto__":{"id":"evt_proto"},"type":"x"}'),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'a numeric id that overflows to Infinity',
    send: (ctx) => stripeDelivery(ctx, '{"id":1e400,"type":"x"}'),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: '100 000 levels of nested arrays',
    send: (ctx) => stripeDelivery(ctx, `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'a UTF-8 byte order mark before the JSON',
    send: (ctx) =>
      stripeDelivery(
        ctx,
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":"evt_bom","type":"x"}')]),
      ),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'a raw NUL byte inside a JSON string',
    send: (ctx) => stripeDelivery(ctx, Buffer.from('{"id":"evt_\u0000nul","type":"x"}', 'utf8')),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'invalid UTF-8 bytes before the JSON',
    send: (ctx) =>
      stripeDelivery(
        ctx,
        Buffer.concat([Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('{"id":"e","type":"x"}')]),
      ),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'an encoded UTF-16 surrogate (CESU-8) outside any string',
    send: (ctx) =>
      stripeDelivery(
        ctx,
        Buffer.concat([Buffer.from('{"id":"e","type":"x"}'), Buffer.from([0xed, 0xa0, 0x80])]),
      ),
    status: 400,
    code: 'payload_invalid',
  },
  {
    name: 'trailing garbage after the JSON object',
    send: (ctx) => stripeDelivery(ctx, '{"id":"evt_tail","type":"x"}xyz'),
    status: 400,
    code: 'payload_invalid',
  },

  // ---- signature headers: missing, malformed, duplicated, oversized, for another source, replayed
  {
    name: 'no signature header',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'content-type': 'application/json' },
      body: stripeEventBody('evt_nosig'),
    }),
    status: 401,
    code: 'signature_missing',
  },
  {
    name: 'an empty signature header',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': '' },
      body: stripeEventBody('evt_empty'),
    }),
    status: 401,
    code: 'signature_missing',
  },
  {
    name: 'a whitespace-only signature header',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': ' \t ' },
      body: stripeEventBody('evt_ws'),
    }),
    status: 401,
    code: 'signature_missing',
  },
  {
    name: 'a signature header of garbage',
    send: () => ({ path: '/webhooks/stripe', headers: { 'stripe-signature': 'garbage' }, body: '{}' }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'a timestamp and no v1',
    send: (ctx) => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': `t=${ctx.nowSeconds}` },
      body: '{}',
    }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'a v1 and no timestamp',
    send: () => ({ path: '/webhooks/stripe', headers: { 'stripe-signature': `v1=${hex64(1)}` }, body: '{}' }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'a timestamp that is not a number',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': `t=now,v1=${hex64(1)}` },
      body: '{}',
    }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'a 13-digit timestamp',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': `t=9999999999999,v1=${hex64(1)}` },
      body: '{}',
    }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'a v1 that is not hexadecimal',
    send: (ctx) => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': `t=${ctx.nowSeconds},v1=zz` },
      body: '{}',
    }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'only a legacy v0 signature',
    send: (ctx) => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': `t=${ctx.nowSeconds},v0=${hex64(2)}` },
      body: '{}',
    }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: '5000 signature entries, over the default header limit',
    send: (ctx) => ({
      path: '/webhooks/stripe',
      headers: {
        'stripe-signature': `t=${ctx.nowSeconds},${Array.from({ length: 5000 }, (_, i) => `v1=${hex64(i)}`).join(',')}`,
      },
      body: stripeEventBody('evt_many'),
    }),
    status: 431,
    code: 'headers_too_large',
  },
  {
    name: '5000 wrong signature entries under a 1 MiB header limit',
    send: (ctx) => ({
      path: '/webhooks/wide',
      headers: {
        'stripe-signature': `t=${ctx.nowSeconds},${Array.from({ length: 5000 }, (_, i) => `v1=${hex64(i)}`).join(',')}`,
      },
      body: stripeEventBody('evt_many_wide'),
    }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: '100 000 empty signature entries',
    send: () => ({
      path: '/webhooks/wide',
      headers: { 'stripe-signature': ','.repeat(100_000) },
      body: '{}',
    }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'a signature made with the wrong secret',
    send: (ctx) => stripeDelivery(ctx, stripeEventBody('evt_wrong'), { secret: 'whsec_guessed' }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: "a valid signature for another source (stripe-b's secret, posted to stripe)",
    send: (ctx) => stripeDelivery(ctx, stripeEventBody('evt_other'), { secret: secrets.stripeB }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: "a valid signature for another source (stripe's secret, posted to stripe-b)",
    send: (ctx) => stripeDelivery(ctx, stripeEventBody('evt_other_b'), { source: 'stripe-b' }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'a genuine delivery replayed after the 300 s tolerance',
    send: (ctx) => stripeDelivery(ctx, stripeEventBody('evt_replayed'), { at: ctx.nowSeconds - 301 }),
    status: 401,
    code: 'timestamp_outside_tolerance',
  },
  {
    name: 'a genuine delivery stamped beyond the tolerance in the future',
    send: (ctx) => stripeDelivery(ctx, stripeEventBody('evt_future'), { at: ctx.nowSeconds + 301 }),
    status: 401,
    code: 'timestamp_outside_tolerance',
  },
  {
    name: 'an old genuine signature header plus a second header with a fresh timestamp',
    send: (ctx) => {
      const body = stripeEventBody('evt_dup_fresh_last');
      const headers = new Headers({ 'content-type': 'application/json' });
      headers.append('stripe-signature', signStripe(body, secrets.stripe, ctx.nowSeconds - 3600));
      headers.append('stripe-signature', `t=${ctx.nowSeconds},v1=${hex64(3)}`);
      return { path: '/webhooks/stripe', headers, body };
    },
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'a fresh forged header plus an old genuine one after it',
    send: (ctx) => {
      const body = stripeEventBody('evt_dup_old_last');
      const headers = new Headers({ 'content-type': 'application/json' });
      headers.append('stripe-signature', `t=${ctx.nowSeconds},v1=${hex64(4)}`);
      headers.append('stripe-signature', signStripe(body, secrets.stripe, ctx.nowSeconds - 3600));
      return { path: '/webhooks/stripe', headers, body };
    },
    status: 401,
    code: 'timestamp_outside_tolerance',
  },
  {
    name: 'a body changed by one byte after signing',
    send: (ctx) => {
      const sent = stripeDelivery(ctx, stripeEventBody('evt_tampered'));
      return { ...sent, body: stripeEventBody('evt_tampereD') };
    },
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'a body re-serialized after signing',
    send: (ctx) => {
      const body = stripeEventBody('evt_reserialized');
      return { ...stripeDelivery(ctx, body), body: JSON.stringify(JSON.parse(body)) };
    },
    status: 401,
    code: 'signature_body_reserialized',
  },
  {
    name: 'a forged signature over 100 000 levels of nesting (re-serialization diagnosis)',
    send: (ctx) =>
      stripeDelivery(ctx, `${'['.repeat(100_000)}${']'.repeat(100_000)}`, { secret: 'whsec_guessed' }),
    status: 401,
    code: ['signature_mismatch', 'signature_malformed'],
  },
  {
    name: 'a forged signature over a 1 MiB body, exactly at the limit',
    send: (ctx) => stripeDelivery(ctx, Buffer.alloc(MiB, 0x61), { secret: 'whsec_guessed' }),
    status: 401,
    code: 'signature_mismatch',
  },

  // ---- genuine deliveries among the hostile ones: stored once each
  {
    name: 'a genuine Stripe delivery',
    send: (ctx) => genuine(ctx, 'stripe', 'evt_genuine_1'),
    status: 200,
    duplicate: false,
  },
  {
    name: 'the same genuine Stripe delivery again (a replay inside the tolerance is a duplicate)',
    send: (ctx) => genuine(ctx, 'stripe', 'evt_genuine_1'),
    status: 200,
    duplicate: true,
  },
  {
    name: 'a genuine delivery whose signature header is sent twice',
    send: (ctx) => {
      const body = stripeEventBody('evt_genuine_twice');
      const header = signStripe(body, secrets.stripe, ctx.nowSeconds);
      const headers = new Headers({ 'content-type': 'application/json' });
      headers.append('stripe-signature', header);
      headers.append('stripe-signature', header);
      return { path: '/webhooks/stripe', headers, body };
    },
    status: 200,
    duplicate: false,
  },
  {
    name: 'a genuine delivery labelled text/plain (what fetch sends for a string)',
    send: (ctx) =>
      stripeDelivery(ctx, stripeEventBody('evt_genuine_text'), { contentType: 'text/plain;charset=UTF-8' }),
    status: 200,
    duplicate: false,
  },
  {
    name: 'a genuine GitHub delivery',
    send: (ctx) => genuine(ctx, 'github', 'gh-genuine-1', 'issues.opened'),
    status: 200,
    duplicate: false,
  },
  {
    name: 'a genuine Standard Webhooks delivery',
    send: (ctx) => genuine(ctx, 'standard', 'msg_genuine_1'),
    status: 200,
    duplicate: false,
  },
  {
    name: 'a genuine PayPal delivery (certificate from certDir)',
    send: (ctx) => genuine(ctx, 'paypal', 'WH-genuine-1'),
    status: 200,
    duplicate: false,
  },
  {
    name: 'a genuine Firebase push',
    send: (ctx) => genuine(ctx, 'firebase', 'push-genuine-1'),
    status: 200,
    duplicate: false,
  },

  // ---- content types the scheme cannot take
  {
    name: 'multipart/form-data to a JSON scheme',
    send: (ctx) =>
      stripeDelivery(ctx, stripeEventBody('evt_mp'), { contentType: 'multipart/form-data; boundary=x' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a form body to a JSON scheme',
    send: (ctx) =>
      stripeDelivery(ctx, 'id=evt_form&type=x', { contentType: 'application/x-www-form-urlencoded' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'application/xml to a JSON scheme',
    send: (ctx) => stripeDelivery(ctx, '<event/>', { contentType: 'application/xml' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'JSON declared as UTF-16',
    send: (ctx) =>
      stripeDelivery(ctx, stripeEventBody('evt_utf16'), { contentType: 'application/json; charset=utf-16' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a Content-Type that is not a media type',
    send: (ctx) => stripeDelivery(ctx, '{}', { contentType: ';;;' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a list of content types',
    send: (ctx) => stripeDelivery(ctx, '{}', { contentType: 'application/json, text/html' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'multipart to a scheme that also takes forms (GitHub)',
    send: () => ({
      path: '/webhooks/github',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      body: '--b--',
    }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'multipart to the generic HMAC scheme',
    send: () => ({
      path: '/webhooks/generic',
      headers: { 'content-type': 'multipart/mixed; boundary=b' },
      body: '--b--',
    }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a JSON body to Twilio without bodySHA256 in the URL',
    send: () => ({
      path: '/webhooks/twilio',
      headers: { 'content-type': 'application/json', 'x-twilio-signature': 'AAAA' },
      body: '{"a":1}',
    }),
    status: 415,
    code: 'unsupported_media_type',
  },

  // ---- sizes
  {
    name: 'a body of 1 MiB + 1 byte with its Content-Length',
    send: (ctx) => stripeDelivery(ctx, Buffer.alloc(MiB + 1, 0x61)),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'a 3 MiB body streamed without a Content-Length',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': 't=1,v1=00' },
      body: streamOf(3 * MiB),
    }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'a 2 MiB body behind a Content-Length that claims 10 bytes',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': 't=1,v1=00', 'content-length': '10' },
      body: streamOf(2 * MiB),
    }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: "a body one byte over a source's own 4096-byte limit",
    send: (ctx) => stripeDelivery(ctx, Buffer.alloc(4097, 0x61), { source: 'tight' }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: "one 3 KB header over a source's 2 KiB header limit",
    send: (ctx) => ({
      ...stripeDelivery(ctx, '{}', { source: 'tight' }),
      headers: { 'x-padding': 'p'.repeat(3000) },
    }),
    status: 431,
    code: 'headers_too_large',
  },
  {
    name: "500 small headers over a source's 2 KiB header limit",
    send: () => ({
      path: '/webhooks/tight',
      headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v'])),
      body: '{}',
    }),
    status: 431,
    code: 'headers_too_large',
  },
  {
    name: 'a body cut off mid-stream',
    send: () => ({
      path: '/webhooks/stripe',
      headers: { 'stripe-signature': 't=1,v1=00' },
      body: truncatedStream(),
    }),
    status: 400,
    code: 'body_incomplete',
  },

  // ---- path tricks in :source
  {
    name: 'an encoded ../ path in the source',
    send: () => ({ path: '/webhooks/..%2f..%2fetc%2fpasswd', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'encoded dot segments that climb out of /webhooks',
    send: () => ({ path: '/webhooks/%2e%2e/%2e%2e/healthz', body: '{}' }),
    status: 404,
    code: 'route_not_found',
  },
  {
    name: 'a NUL after the source name',
    send: () => ({ path: '/webhooks/stripe%00', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'the source name in upper case',
    send: () => ({ path: '/webhooks/STRIPE', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: '__proto__ as the source',
    send: () => ({ path: '/webhooks/__proto__', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'constructor as the source',
    send: () => ({ path: '/webhooks/constructor', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'invalid UTF-8 percent escapes',
    send: () => ({ path: '/webhooks/%ff%fe', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'a look-alike source name (dotless i)',
    send: () => ({ path: '/webhooks/str%C4%B1pe', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'a matrix parameter on the source',
    send: () => ({ path: '/webhooks/stripe;v=1', body: '{}' }),
    status: 404,
    code: 'source_not_found',
  },
  {
    name: 'a 10 000-character source name (the message stays short)',
    send: () => ({ path: `/webhooks/${'s'.repeat(10_000)}`, body: '{}' }),
    status: 404,
    code: 'source_not_found',
    check: (_response, text) => expect(text.length).toBeLessThan(400),
  },
  {
    name: 'CR LF and a Set-Cookie in the source (response header injection)',
    send: () => ({ path: '/webhooks/stripe%0d%0aSet-Cookie:%20owned=1', body: '{}' }),
    status: 404,
    code: 'source_not_found',
    check: (response) => expect(response.headers.get('set-cookie')).toBeNull(),
  },
  {
    name: 'a path below the source',
    send: () => ({ path: '/webhooks/stripe/extra', body: '{}' }),
    status: 404,
    code: 'route_not_found',
  },
  {
    name: 'no source at all',
    send: () => ({ path: '/webhooks/', body: '{}' }),
    status: 404,
    code: 'route_not_found',
  },
  {
    name: 'GET on the receive route',
    send: () => ({ path: '/webhooks/stripe', method: 'GET' }),
    status: 404,
    code: 'route_not_found',
  },
  {
    name: 'PUT on the receive route',
    send: () => ({ path: '/webhooks/stripe', method: 'PUT', body: '{}' }),
    status: 404,
    code: 'route_not_found',
  },

  // ---- the other schemes' own traps
  {
    name: 'GitHub without a signature, only the legacy SHA-1 header',
    send: () => ({
      path: '/webhooks/github',
      headers: { 'x-hub-signature': `sha1=${'0'.repeat(40)}` },
      body: '{}',
    }),
    status: 401,
    code: 'signature_missing',
  },
  {
    name: 'GitHub with a signature missing its sha256= prefix',
    send: () => ({ path: '/webhooks/github', headers: { 'x-hub-signature-256': hex64(5) }, body: '{}' }),
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'GitHub form-encoded with a forged signature',
    send: () => ({
      path: '/webhooks/github',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-hub-signature-256': `sha256=${hex64(6)}`,
      },
      body: 'payload=%7B%7D',
    }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'Standard Webhooks with 200 forged v1 signatures',
    send: (ctx) => ({
      path: '/webhooks/standard',
      headers: {
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(ctx.nowSeconds),
        'webhook-signature': Array.from(
          { length: 200 },
          (_, i) => `v1,${Buffer.from(hex64(i), 'hex').toString('base64')}`,
        ).join(' '),
      },
      body: '{"type":"x"}',
    }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'Standard Webhooks replayed after the tolerance',
    send: async (ctx) => {
      const source = ctx.hookbox.sources.get('standard')!;
      const signed = await signFor(source, { eventId: 'msg_old', now: ctx.now - 600_000 });
      return { path: '/webhooks/standard', headers: signed.headers, body: signed.body };
    },
    status: 401,
    code: 'timestamp_outside_tolerance',
  },
  {
    name: 'Slack url_verification without a signature (no unsigned challenge echo)',
    send: () => ({
      path: '/webhooks/slack',
      headers: { 'content-type': 'application/json' },
      body: '{"type":"url_verification","challenge":"attacker-chosen"}',
    }),
    status: 401,
    code: 'signature_missing',
    check: (_response, text) => expect(text).not.toContain('attacker-chosen'),
  },
  {
    name: 'Slack with a genuine signature replayed after the tolerance',
    send: async (ctx) => {
      const signed = await signFor(ctx.hookbox.sources.get('slack')!, {
        eventId: 'Ev_old',
        now: ctx.now - 600_000,
      });
      return { path: '/webhooks/slack', headers: signed.headers, body: signed.body };
    },
    status: 401,
    code: 'timestamp_outside_tolerance',
  },
  {
    name: 'Twilio form parameters with a forged signature',
    send: () => ({
      path: '/webhooks/twilio',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': 'bm90IGEgc2lnbmF0dXJl',
      },
      body: 'MessageSid=SM1&Body=hi',
    }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'Shopify with a forged signature',
    send: () => ({
      path: '/webhooks/shopify',
      headers: {
        'x-shopify-hmac-sha256': Buffer.from(hex64(7), 'hex').toString('base64'),
        'x-shopify-topic': 'orders/create',
      },
      body: '{"id":1}',
    }),
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'generic HMAC without its signature header',
    send: () => ({ path: '/webhooks/generic', headers: { 'content-type': 'application/json' }, body: '{}' }),
    status: 401,
    code: 'signature_missing',
  },
  {
    name: 'PayPal certificate URL pointing at cloud metadata (SSRF)',
    send: async (ctx) => paypalWithCertUrl(ctx, 'http://169.254.169.254/latest/meta-data/'),
    status: 401,
    code: 'certificate_refused',
  },
  {
    name: 'PayPal certificate URL on a look-alike host',
    send: async (ctx) =>
      paypalWithCertUrl(ctx, `https://api.paypal.com.evil.example/v1/notifications/certs/${paypalCertName}`),
    status: 401,
    code: 'certificate_refused',
  },
  {
    name: 'PayPal certificate URL with user info before an attacker host',
    send: async (ctx) =>
      paypalWithCertUrl(ctx, `https://api.paypal.com@evil.example/v1/notifications/certs/${paypalCertName}`),
    status: 401,
    code: 'certificate_refused',
  },
  {
    name: 'PayPal without its transmission headers',
    send: () => ({ path: '/webhooks/paypal', headers: { 'content-type': 'application/json' }, body: '{}' }),
    status: 401,
    code: 'signature_missing',
  },
  {
    name: 'PayPal with an algorithm other than SHA256withRSA',
    send: async (ctx) => {
      const sent = await genuine(ctx, 'paypal', 'WH-algo');
      return {
        ...sent,
        headers: { ...(sent.headers as Record<string, string>), 'paypal-auth-algo': 'HS256' },
      };
    },
    status: 401,
    code: 'signature_malformed',
  },
  {
    name: 'PayPal signed for another webhook id',
    send: async (ctx) => {
      // A genuine PayPal signature, but over another webhook's id: it must not verify here.
      const source = ctx.hookbox.sources.get('paypal')!;
      const settings = { ...(source.settings as object), webhookId: 'WH-ANOTHER-APP' };
      const signed = await signFor({ ...source, settings }, { eventId: 'WH-other', now: ctx.now });
      return { path: '/webhooks/paypal', headers: signed.headers, body: signed.body };
    },
    status: 401,
    code: 'signature_mismatch',
  },
  {
    name: 'Firebase without an Authorization header',
    send: () => ({ path: '/webhooks/firebase', headers: { 'content-type': 'application/json' }, body: '{}' }),
    status: 401,
    code: 'token_invalid',
  },
  {
    name: 'Firebase with a bearer token of garbage',
    send: () => ({ path: '/webhooks/firebase', headers: { authorization: 'Bearer not.a.jwt' }, body: '{}' }),
    status: 401,
    code: 'token_invalid',
  },
  {
    name: 'Firebase with an unsigned (alg none) token',
    send: () => {
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const claims = {
        iss: 'https://accounts.google.com',
        aud: 'https://hookbox.test/webhooks/firebase',
        email: 'push@hookbox-test.iam.gserviceaccount.com',
        email_verified: true,
        iat: 1,
        exp: 9_999_999_999,
      };
      return {
        path: '/webhooks/firebase',
        headers: { authorization: `Bearer ${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.` },
        body: '{"message":{"messageId":"m1","data":""}}',
      };
    },
    status: 401,
    code: 'token_invalid',
  },
];

async function paypalWithCertUrl(ctx: CorpusContext, certUrl: string): Promise<Sent> {
  const sent = await genuine(ctx, 'paypal', `WH-cert-${randomBytes(3).toString('hex')}`);
  return { ...sent, headers: { ...(sent.headers as Record<string, string>), 'paypal-cert-url': certUrl } };
}

function toRequest(sent: Sent): Request {
  const body = sent.body;
  const init: RequestInit & { duplex?: 'half' } = {
    method: sent.method ?? 'POST',
    headers: sent.headers ?? {},
  };
  if (body !== undefined) {
    init.body = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
    if (body instanceof ReadableStream) init.duplex = 'half';
  }
  return new Request(`${baseUrl}${sent.path}`, init);
}

describe('the corpus is large and names a status for every case', () => {
  it('holds at least 60 cases with unique names, every 4xx with a catalogue code', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
    for (const c of corpus) {
      if (c.status >= 400) {
        const codes = Array.isArray(c.code) ? c.code : [c.code];
        for (const code of codes) expect(errorCatalogue[code!].status, c.name).toBe(c.status);
      } else expect(c.duplicate, c.name).toBeDefined();
    }
  });
});

describe.each(engines)('hostile input through the receive route on %s', (engine) => {
  let keys: SchemeKeys;
  let hookbox: Hookbox;
  let store: Store;
  let cleanup: () => Promise<void>;
  let ctx: CorpusContext;
  /** Ids of the events genuine deliveries were stored as. */
  const storedIds = new Set<string>();

  beforeAll(async () => {
    keys = await createSchemeKeys();
    const testStore = await createTestStore(engine);
    store = testStore.store;
    cleanup = testStore.cleanup;
    const clock = createManualClock(keys.now);
    hookbox = createHookbox({ store, clock, sources: keys.sources, worker: { enabled: false } });
    await hookbox.start();
    ctx = { hookbox, now: keys.now, nowSeconds: Math.floor(keys.now / 1000) };
  });
  afterAll(async () => {
    await hookbox?.worker.stop();
    await cleanup?.();
    keys?.cleanup();
  });

  it.each(corpus.map((c) => [c.name, c] as const))('%s', async (_name, hostile) => {
    const sent = await hostile.send(ctx);
    const started = performance.now();
    const response = await hookbox.fetch(toRequest(sent));
    const text = await response.text();
    // Every refusal is quick: nothing here may make the route work for long.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(response.status, text).toBe(hostile.status);
    for (const secret of keys.allSecrets) expect(text).not.toContain(secret);
    // Never echo a signature back.
    const headers = new Headers(sent.headers ?? {});
    for (const name of [
      'stripe-signature',
      'x-hub-signature-256',
      'webhook-signature',
      'paypal-transmission-sig',
      'authorization',
    ]) {
      const value = headers.get(name);
      if (value && value.length >= 16) expect(text).not.toContain(value.slice(-16));
    }
    const json = JSON.parse(text);
    if (hostile.status === 200) {
      expect(json).toMatchObject({ received: true, duplicate: hostile.duplicate });
      storedIds.add(json.id);
    } else {
      const codes = Array.isArray(hostile.code) ? hostile.code : [hostile.code];
      expect(codes).toContain(json.error.code);
      expect(typeof json.error.message).toBe('string');
      expect(text).not.toMatch(/\bat .+\.ts:\d+/); // no stack trace
    }
    hostile.check?.(response, text);
  });

  it('stored exactly the genuine events, and still answers', async () => {
    const genuineCases = corpus.filter((c) => c.status === 200 && c.duplicate === false).length;
    expect(storedIds.size).toBe(genuineCases);
    expect(await store.countEvents({})).toBe(genuineCases);
    for (const id of storedIds) expect(await store.getEvent(id)).not.toBeNull();
    const health = await hookbox.fetch(new Request(`${baseUrl}/healthz`));
    expect(health.status).toBe(200);
    const after = await hookbox.fetch(toRequest(await genuine(ctx, 'stripe', 'evt_after_corpus')));
    expect(after.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Socket level: a real `hookbox serve` process

const serverTimeouts = { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 500 };

interface RawExchange {
  /** The status line's code, or 0 when the server closed without answering. */
  status: number;
  response: string;
  /** Milliseconds until the server closed the connection. */
  closedAfterMs: number;
}

/** Send `chunks` over a raw TCP connection (each after `gapMs`), read until the server closes. */
function exchange(
  url: string,
  chunks: (string | Buffer)[],
  options: { gapMs?: number; keepSending?: boolean; giveUpMs?: number } = {},
): Promise<RawExchange> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      const response = received.toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
      resolve({ status, response, closedAfterMs: Date.now() - started });
    });
    const giveUp = setTimeout(() => socket.destroy(), options.giveUpMs ?? 15_000);
    let index = 0;
    const sendNext = () => {
      if (socket.destroyed) return;
      if (index < chunks.length) {
        const chunk = chunks[index++]!;
        socket.write(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
        timer = setTimeout(sendNext, options.gapMs ?? 0);
      }
    };
    socket.on('connect', sendNext);
  });
}

const rawHead = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

describe.each(engines)('hostile input over raw sockets to hookbox serve on %s', (engine: Engine) => {
  let server: ServerProcess;
  let dir: string;
  let databaseUrl: string;
  let schema: string | undefined;
  const secret = 'whsec_socket_level_secret';
  const storedIds = new Set<string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `hookbox-hostile-${engine}-`));
    if (engine === 'postgres') {
      schema = uniqueSchemaName();
      databaseUrl = postgresProcessUrl(schema);
    } else databaseUrl = `file:${join(dir, 'hookbox.db')}`;
    writeFileSync(
      join(dir, 'hookbox.config.mjs'),
      `export default {
  sources: { stripe: { provider: 'stripe', secrets: [${JSON.stringify(secret)}] } },
  server: ${JSON.stringify(serverTimeouts)},
  worker: { enabled: false },
};
`,
    );
    server = await startServerProcess({ cwd: dir, env: { DATABASE_URL: databaseUrl } });
  });
  afterAll(async () => {
    await server?.stop();
    if (schema) await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    rmSync(dir, { recursive: true, force: true });
  });

  async function deliverGenuine(eventId: string): Promise<number> {
    const body = stripeEventBody(eventId);
    const response = await fetch(`${server.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await response.json()) as { id?: string };
    if (response.status === 200 && json.id) storedIds.add(json.id);
    return response.status;
  }

  const host = () => `Host: ${new URL(server.url).host}`;
  const post = (extra: string[]) => ['POST /webhooks/stripe HTTP/1.1', host(), 'Connection: close', ...extra];

  it('cuts off a client that sends its headers slowly (slowloris), while a normal delivery succeeds', async () => {
    const dribble = Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: ${i}\r\n`);
    const slow = exchange(server.url, [`POST /webhooks/stripe HTTP/1.1\r\n${host()}\r\n`, ...dribble], {
      gapMs: 200,
    });
    const idle = exchange(server.url, [], { giveUpMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await deliverGenuine('evt_during_slowloris')).toBe(200);
    const [slowResult, idleResult] = await Promise.all([slow, idle]);
    // headersTimeout is 1 s; the server sweeps at a quarter of it.
    expect(slowResult.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(slowResult.closedAfterMs).toBeLessThan(3000);
    expect(slowResult.status).toBe(408);
    // A connection that never sends a byte is cut off on the same clock.
    expect(idleResult.closedAfterMs).toBeLessThan(3000);
  });

  it('cuts off a client that sends its body slowly, while a normal delivery succeeds', async () => {
    const head = rawHead(
      post(['Content-Type: application/json', 'Stripe-Signature: t=1,v1=00', 'Content-Length: 1000']),
    );
    const slow = exchange(server.url, [head, ...Array<string>(60).fill('a')], { gapMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await deliverGenuine('evt_during_slow_body')).toBe(200);
    const result = await slow;
    // requestTimeout is 2 s for the whole request, body included.
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(1800);
    expect(result.closedAfterMs).toBeLessThan(4000);
    expect(result.status).toBe(408);
  });

  it('closes an idle keep-alive connection after keepAliveTimeout', async () => {
    const request = rawHead(['GET /healthz HTTP/1.1', host()]);
    const result = await exchange(server.url, [request]);
    expect(result.status).toBe(200);
    expect(result.response).toContain('"status":"ok"');
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(400);
    // Node 20 adds a 1 s grace to keepAliveTimeout before it closes the socket.
    expect(result.closedAfterMs).toBeLessThan(3000);
  });

  const rawCases: { name: string; bytes: () => string; status: number }[] = [
    {
      name: 'headers over Node’s 16 KiB limit',
      bytes: () => rawHead(post([`X-Pad: ${'a'.repeat(20_000)}`, 'Content-Length: 0'])),
      status: 431,
    },
    {
      name: '3000 small headers',
      bytes: () =>
        rawHead(post([...Array.from({ length: 3000 }, (_, i) => `X-${i}: 1`), 'Content-Length: 0'])),
      status: 431,
    },
    { name: 'a request line of garbage', bytes: () => 'GARBAGE\r\n\r\n', status: 400 },
    // Node's parser reads it as a bodiless GET; no route matches.
    { name: 'an HTTP/0.9 request', bytes: () => 'GET /\r\n\r\n', status: 404 },
    {
      name: 'an HTTP/2 preface on the HTTP/1 port',
      bytes: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      status: 400,
    },
    {
      name: 'Content-Length and Transfer-Encoding together (request smuggling)',
      bytes: () => `${rawHead(post(['Content-Length: 4', 'Transfer-Encoding: chunked']))}0\r\n\r\n`,
      status: 400,
    },
    {
      name: 'two different Content-Lengths',
      bytes: () => `${rawHead(post(['Content-Length: 2', 'Content-Length: 3']))}abc`,
      status: 400,
    },
    { name: 'a negative Content-Length', bytes: () => rawHead(post(['Content-Length: -1'])), status: 400 },
    {
      name: 'an invalid chunk size',
      bytes: () => `${rawHead(post(['Transfer-Encoding: chunked']))}zz\r\nabc\r\n0\r\n\r\n`,
      status: 400,
    },
    {
      name: 'a folded header line continuing the signature (obs-fold injection)',
      bytes: () => rawHead(post(['Stripe-Signature: t=1,', ' v1=00', 'Content-Length: 0'])),
      status: 400,
    },
    {
      name: 'bare LF line ends smuggling a second header',
      bytes: () =>
        `POST /webhooks/stripe HTTP/1.1\n${host()}\nConnection: close\nStripe-Signature: t=1\nX-Injected: 1\nContent-Length: 0\n\n`,
      status: 400,
    },
    {
      name: 'a bare CR inside a header value',
      bytes: () => rawHead(post(['Stripe-Signature: t=1\rX-Injected: 1', 'Content-Length: 0'])),
      status: 400,
    },
    {
      name: 'a NUL inside a header value',
      bytes: () => rawHead(post(['Stripe-Signature: t=1\0v1=00', 'Content-Length: 0'])),
      status: 400,
    },
    {
      name: 'a space before the header colon',
      bytes: () => rawHead(post(['Stripe-Signature : t=1', 'Content-Length: 0'])),
      status: 400,
    },
    {
      name: 'raw non-ASCII bytes in the path',
      bytes: () =>
        rawHead(['POST /webhooks/str\xffipe HTTP/1.1', host(), 'Connection: close', 'Content-Length: 0']),
      status: 400,
    },
    {
      name: 'Latin-1 bytes in the signature header',
      bytes: () =>
        `${rawHead(post(['Content-Type: application/json', 'Stripe-Signature: t=1,v1=\xff\xfe', 'Content-Length: 2']))}{}`,
      status: 401,
    },
    {
      name: 'a body shorter than its Content-Length, then the client closes',
      bytes: () =>
        `${rawHead(post(['Content-Type: application/json', 'Stripe-Signature: t=1,v1=00', 'Content-Length: 100']))}{"id"`,
      status: 400,
    },
  ];

  it.each(rawCases.map((c) => [c.name, c] as const))(
    'answers %s with a 4xx and stays up',
    async (_name, raw) => {
      const { port, hostname } = new URL(server.url);
      const result = await new Promise<RawExchange>((resolve) => {
        const started = Date.now();
        const socket = connect(Number(port), hostname, () => socket.end(Buffer.from(raw.bytes(), 'latin1')));
        let received = '';
        socket.on('data', (data) => {
          received += data.toString('latin1');
        });
        socket.on('error', () => {});
        socket.on('close', () =>
          resolve({
            status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0),
            response: received,
            closedAfterMs: Date.now() - started,
          }),
        );
      });
      expect(result.status, result.response.slice(0, 200)).toBe(raw.status);
      expect(result.response).not.toContain(secret);
      expect(result.response.toLowerCase()).not.toContain('x-injected');
    },
  );

  it('stored exactly the genuine deliveries and still answers /healthz and a delivery', async () => {
    expect(await deliverGenuine('evt_after_raw_corpus')).toBe(200);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(server.process.exitCode).toBeNull();
    const store = openStore(databaseUrl);
    try {
      expect(await store.countEvents({})).toBe(storedIds.size);
      expect(storedIds.size).toBe(3);
      for (const id of storedIds) expect(await store.getEvent(id)).not.toBeNull();
    } finally {
      await store.close();
    }
  });
});
