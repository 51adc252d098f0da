/**
 * One delivery attempt of one event to one destination, and what it means: a POST of the exact
 * bytes received, re-signed with Standard Webhooks, classified as succeeded, retry or disable.
 * What to do next (when, or dead) is decided by next-attempt.ts from this result.
 */
import type { Readable } from 'node:stream';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { DestinationHttpClient } from './http-client.ts';
import type { Destination } from './settings.ts';
import { signDelivery } from './sign.ts';

export interface DeliveryInput {
  /** The Hookbox event id, sent as `webhook-id`: the same on every retry and replay. */
  eventId: string;
  source: string;
  eventType: string;
  /** 1 on the first attempt; sent as `x-hookbox-attempt`. */
  attempt: number;
  /** The raw body exactly as received from the provider. */
  body: Uint8Array;
  /** The provider request's content-type (null: none is sent). */
  contentType: string | null;
  /** The provider request's stored headers (credentials already removed), for `passHeaders`. */
  receivedHeaders?: Readonly<Record<string, string>>;
  /**
   * Shutdown. While the attempt still waits for the destination's limits, aborting rejects
   * with the reason (nothing was sent); once it runs, the request is cut off and the result
   * says `aborted`.
   */
  signal?: AbortSignal;
  /** Told when the attempt leaves the limits' queue and starts (from then on it is being sent). */
  onStart?: () => void;
}

/** `succeeded`: 2xx. `retry`: anything else worth trying again. `disable`: 410 Gone. */
export type DeliveryVerdict = 'succeeded' | 'retry' | 'disable';

export type DeliveryErrorCode =
  | 'status'
  | 'redirect'
  | 'gone'
  | 'timeout'
  | 'address_refused'
  | 'dns_failed'
  | 'connection_failed'
  | 'tls_failed'
  | 'aborted'
  | 'request_failed';

/** What an attempt records. */
export interface DeliveryAttemptResult {
  verdict: DeliveryVerdict;
  /** When the request started (after any wait for the limits), ms since the epoch. */
  startedAt: number;
  durationMs: number;
  /** The response status; null when no response arrived. */
  statusCode: number | null;
  /** From `Retry-After` on a 429 or 503 (seconds or an HTTP date), uncapped; the backoff maximum caps it later. */
  retryAfterMs: number | undefined;
  /** The `Location` of a 3xx (not followed). */
  location: string | undefined;
  /** The first RESPONSE_EXCERPT_BYTES bytes of the response body (possibly cut inside a UTF-8 character). */
  responseExcerpt: Buffer;
  /** Whether the body had more than the excerpt (the rest was discarded unread or drained). */
  responseTruncated: boolean;
  errorCode: DeliveryErrorCode | null;
  /** What happened and what to check; null on success. */
  error: string | null;
}

export const RESPONSE_EXCERPT_BYTES = 1024;
/**
 * After the excerpt, a body up to this size is read and thrown away so the connection can carry
 * the next delivery; a longer one closes the connection instead of being read.
 */
export const RESPONSE_DRAIN_BYTES = 64 * 1024;

/**
 * Attempt one delivery, after waiting for the destination's concurrency and rate limits. It
 * resolves with the attempt's result whatever the destination did; it rejects only when no
 * attempt was made (the client is closed, or `signal` aborted the wait).
 */
export async function deliverOnce(
  client: DestinationHttpClient,
  destination: Destination,
  input: DeliveryInput,
): Promise<DeliveryAttemptResult> {
  return client.limitsFor(destination).run(
    () => {
      input.onStart?.();
      return attempt(client, destination, input);
    },
    { signal: input.signal },
  );
}

// Header values must be visible ASCII; an event type comes from a provider's payload and could
// hold anything, so anything else is percent-encoded rather than letting the request fail.
function headerSafe(value: string): string {
  return /^[\t\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function findHeader(headers: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (Object.hasOwn(headers, name)) return headers[name];
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** The headers of the outgoing request; Hookbox's own go last (config cannot name them). */
export function buildRequestHeaders(
  destination: Destination,
  input: DeliveryInput,
  now: number,
): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'Hookbox' };
  for (const name of destination.passHeaders) {
    const value = findHeader(input.receivedHeaders, name);
    if (value !== undefined) headers[name] = value;
  }
  Object.assign(headers, destination.headers);
  if (input.contentType !== null) headers['content-type'] = input.contentType;
  Object.assign(
    headers,
    signDelivery({ id: input.eventId, now, body: input.body, secret: destination.signingSecret }),
  );
  headers['x-hookbox-source'] = headerSafe(input.source);
  headers['x-hookbox-event-type'] = headerSafe(input.eventType);
  headers['x-hookbox-attempt'] = String(input.attempt);
  return headers;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Milliseconds to wait from a Retry-After value (delay-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  // Only a date names its weekday or month; Date.parse would read "2.5" as a year.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The first `limit` bytes of a body, then stop reading: the caller drains or discards the rest.
 * Never holds more than the excerpt plus one chunk.
 */
function readExcerpt(body: Readable, limit: number): Promise<{ bytes: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (ended: boolean) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      // A reset after the excerpt must not become an unhandled 'error' event.
      body.on('error', ignoreError);
      const all = Buffer.concat(chunks);
      resolve({ bytes: all.subarray(0, limit), ended: ended && all.length <= limit });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        body.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onError = (error: Error) => {
      body.off('data', onData);
      body.off('end', onEnd);
      reject(error);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

function ignoreError(): void {}

interface Failure {
  code: DeliveryErrorCode;
  message: string;
}

const tlsErrorCodes = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH)/;

function describeRequestError(destination: Destination, error: unknown): Failure {
  const { code, message } = error as { code?: string; message?: string };
  const detail = `${code ?? 'error'}: ${message ?? String(error)}`;
  const url = new URL(destination.url);
  if (code === 'HOOKBOX_ADDRESS_REFUSED') return { code: 'address_refused', message: message ?? detail };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NODATA') {
    return {
      code: 'dns_failed',
      message: `could not resolve ${url.hostname} (${code}): check the host name in the destination URL and this server's DNS`,
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      code: 'connection_failed',
      message: `connection refused by ${url.host}: is the app running and listening on that port?`,
    };
  }
  if (code !== undefined && tlsErrorCodes.test(code)) {
    return {
      code: 'tls_failed',
      message: `TLS failed (${detail}): check the endpoint's certificate (issuer, expiry, host name)`,
    };
  }
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'UND_ERR_SOCKET' ||
    code === 'UND_ERR_CLOSED'
  ) {
    return {
      code: 'connection_failed',
      message: `the connection to ${url.host} failed (${detail}): check that the endpoint is reachable and does not close connections mid-request`,
    };
  }
  return { code: 'request_failed', message: `the request failed (${detail})` };
}

function describeStatus(
  statusCode: number,
  retryAfterMs: number | undefined,
  location: string | undefined,
): Failure | undefined {
  if (statusCode >= 200 && statusCode < 300) return undefined;
  if (statusCode >= 300 && statusCode < 400) {
    return {
      code: 'redirect',
      message: `answered ${statusCode} redirecting to ${location ?? '(no Location header)'}: redirects are not followed; set the destination URL to the final address`,
    };
  }
  if (statusCode === 410) {
    return {
      code: 'gone',
      message:
        'answered 410 Gone: the destination is disabled, and its deliveries wait until an operator enables it again',
    };
  }
  if ((statusCode === 429 || statusCode === 503) && retryAfterMs !== undefined) {
    return {
      code: 'status',
      message: `answered ${statusCode} with Retry-After: the next attempt waits ${Math.ceil(retryAfterMs / 1000)} s (at most the backoff maximum)`,
    };
  }
  return {
    code: 'status',
    message: `answered ${statusCode}: only a 2xx counts as delivered; check the endpoint's logs (the response excerpt is recorded)`,
  };
}

/** How far undici's own header and body timers trail the attempt deadline. */
const UNDICI_TIMEOUT_MARGIN_MS = 1_000;

function isUndiciTimeout(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

async function attempt(
  client: DestinationHttpClient,
  destination: Destination,
  input: DeliveryInput,
): Promise<DeliveryAttemptResult> {
  const startedAt = client.clock.now();
  const controller = new AbortController();
  let timedOut = false;
  let stage = 'connect and response headers';
  const deadline = client.timers.setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${destination.timeoutMs} ms`));
  }, destination.timeoutMs);
  const onShutdown = () => controller.abort(input.signal?.reason);
  input.signal?.addEventListener('abort', onShutdown, { once: true });

  const result = (fields: Partial<DeliveryAttemptResult> & Pick<DeliveryAttemptResult, 'verdict'>) => ({
    startedAt,
    durationMs: client.clock.now() - startedAt,
    statusCode: null,
    retryAfterMs: undefined,
    location: undefined,
    responseExcerpt: Buffer.alloc(0),
    responseTruncated: false,
    errorCode: null,
    error: null,
    ...fields,
  });

  let response: Dispatcher.ResponseData | undefined;
  try {
    response = await client.poolFor(destination).request({
      path: destination.path,
      method: 'POST',
      headers: buildRequestHeaders(destination, input, startedAt),
      body: Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength),
      signal: controller.signal,
      // The deadline above bounds the whole attempt; these only keep undici's own longer
      // defaults out of the way. They trail it by a margin: a timer of the same length could
      // win the race when the event loop is busy (and then must still read as a timeout).
      headersTimeout: destination.timeoutMs + UNDICI_TIMEOUT_MARGIN_MS,
      bodyTimeout: destination.timeoutMs + UNDICI_TIMEOUT_MARGIN_MS,
    });
    stage = 'the first 1 KB of the response body';
    const statusCode = response.statusCode;
    const excerpt = await readExcerpt(response.body, RESPONSE_EXCERPT_BYTES);
    const retryAfterMs =
      statusCode === 429 || statusCode === 503
        ? parseRetryAfter(firstHeader(response.headers['retry-after']), client.clock.now())
        : undefined;
    const location =
      statusCode >= 300 && statusCode < 400
        ? firstHeader(response.headers.location)?.slice(0, 2048)
        : undefined;
    const failure = describeStatus(statusCode, retryAfterMs, location);
    // Draining lets the connection carry the next delivery; its failure cannot change the verdict.
    await response.body.dump({ limit: RESPONSE_DRAIN_BYTES, signal: controller.signal }).catch(() => {});
    // undici hands the connection back to the pool a turn after the body ends; a delivery
    // started before that (the next one of a back-to-back run) would open a second connection.
    await yieldTurn();
    return result({
      verdict: failure === undefined ? 'succeeded' : failure.code === 'gone' ? 'disable' : 'retry',
      statusCode,
      retryAfterMs,
      location,
      responseExcerpt: excerpt.bytes,
      responseTruncated: !excerpt.ended,
      errorCode: failure?.code ?? null,
      error: failure?.message ?? null,
    });
  } catch (error) {
    response?.body.destroy();
    const failure: Failure =
      timedOut || isUndiciTimeout(error)
        ? {
            code: 'timeout',
            message: `no answer within the ${destination.timeoutMs} ms timeout (still waiting for ${stage}): make the endpoint answer 2xx before slow work, or raise timeoutMs`,
          }
        : input.signal?.aborted
          ? { code: 'aborted', message: 'cut off by shutdown: the endpoint may or may not have received it' }
          : (error as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT'
            ? {
                code: 'timeout',
                message: `could not connect within the ${destination.timeoutMs} ms timeout: check that the host is reachable from this server`,
              }
            : describeRequestError(destination, error);
    return result({
      verdict: 'retry',
      statusCode: response?.statusCode ?? null,
      errorCode: failure.code,
      error: failure.message,
    });
  } finally {
    client.timers.clearTimeout(deadline);
    input.signal?.removeEventListener('abort', onShutdown);
  }
}
