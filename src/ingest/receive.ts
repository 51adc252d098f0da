import type { Clock } from '../clock.ts';
import { routeEvent } from '../destinations/route.ts';
import {
  type ErrorCode,
  errorBody,
  HookboxError,
  StoreRowRefusedError,
  StoreUnavailableError,
} from '../errors.ts';
import { createEventId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import { decideOrdering } from '../ordering/key.ts';
import type { HeaderReader, Verification } from '../providers/types.ts';
import { sha256Hex } from '../providers/verify-core.ts';
import type { Redaction } from '../redaction.ts';
import type { RecordResult } from '../store/types.ts';
import { noopTelemetry, type Telemetry, withSpan } from '../telemetry.ts';
import { type GroupCommitter, IngestOverloadedError } from './group-commit.ts';
import { normalizeIdentity } from './identity.ts';
import { readBodyWithin } from './read-body.ts';
import { checkRequestHead, measureHeaders } from './request-checks.ts';
import { isClientAllowed, type Source } from './source.ts';

export interface InlineOutcome {
  outcome: 'processed' | 'failed' | 'dead' | 'ignored' | 'busy' | 'deferred';
  error?: string;
  /** For `failed`: when the event is due again (it keeps its backoff). */
  nextAttemptAt?: number;
}

export interface ReceiverOptions {
  sources: ReadonlyMap<string, Source>;
  committer: GroupCommitter;
  clock: Clock;
  logger: Logger;
  telemetry?: Telemetry;
  /** Sync mode: run the handlers of a just-recorded event now and say how it went. */
  processInline: (eventId: string, payload: unknown) => Promise<InlineOutcome>;
  /** Admission control (rate limits) before any work; returns seconds to wait when refused. */
  admit?: (source: Source, clientIp: string | undefined) => Promise<number | null>;
  /** Which headers are stored (credentials never are), and which sources' stored bodies are redacted. */
  redaction: Redaction;
  /**
   * Whether a handler would run for this source and event type. An async event that no handler
   * takes and some destination does is recorded `delivering`: its deliveries are all there is
   * to do, so the event worker never claims it. Absent: assume handlers run.
   */
  runsHandlersFor?: (source: string, eventType: string) => boolean;
}

export interface ReceiveContext {
  /** The socket's peer address. */
  remoteAddress?: string;
}

/**
 * One delivery as a transport hands it over: a web Request (library mode, `hookbox.fetch`) or
 * Node's own request on the standalone server, which skips building a Request at all.
 */
export interface IncomingDelivery {
  headers: HeaderReader;
  /** Every header name and value, in bytes (for maxHeaderBytes). */
  headerBytes(): number;
  /** The headers as name (lower case) -> value, for storing. */
  headerRecord(): Record<string, string> | Headers;
  /** The absolute URL the request was made to. */
  url(): string;
  /** The body up to `limit` bytes; null when larger (the rest is not read); throws when it ends early. */
  readBody(limit: number): Promise<Buffer | null>;
  remoteAddress?: string;
}

/** The answer to one delivery, for the transport to write. */
export interface ReceiveAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * The receive pipeline (DESIGN, Data flow): source lookup, limits, verify, dedupe key, group
 * commit, respond. A 2xx leaves only after the event's row is committed (invariant 1); a
 * rejected delivery stores nothing.
 */
export function createReceiver(options: ReceiverOptions) {
  const telemetry = options.telemetry ?? noopTelemetry;
  const { logger } = options;

  function reject(
    source: string,
    code: ErrorCode,
    message: string,
    extraHeaders?: Record<string, string>,
  ): ReceiveAnswer {
    telemetry.deliveryRejected(source, code);
    logger.info({ source, code }, 'delivery rejected');
    const status = new HookboxError(code, message).status;
    return { status, body: errorBody(code, message), ...(extraHeaders ? { headers: extraHeaders } : {}) };
  }

  async function handle(delivery: IncomingDelivery, sourceName: string): Promise<ReceiveAnswer> {
    const started = performance.now();
    const source = options.sources.get(sourceName);
    if (!source) {
      return reject(
        '(unknown)',
        'source_not_found',
        `no source named "${truncate(sourceName, 64)}" is configured`,
      );
    }
    return withSpan('hookbox.receive', { 'hookbox.source': source.name }, async (span) => {
      const clientIp = resolveClientIp(delivery, source);
      if (!isClientAllowed(source, clientIp)) {
        return reject(
          source.name,
          'ip_not_allowed',
          `client ${clientIp ?? '(unknown)'} is not on this source's allowlist`,
        );
      }
      const refused = checkRequestHead(source, delivery.headerBytes(), delivery.headers.get('content-type'));
      if (refused) return reject(source.name, refused.code, refused.message);
      if (options.admit) {
        const retryAfter = await options.admit(source, clientIp);
        if (retryAfter !== null) {
          return reject(source.name, 'rate_limited', `too many deliveries; retry in ${retryAfter} s`, {
            'retry-after': String(retryAfter),
          });
        }
      }
      const body = await delivery.readBody(source.maxBodyBytes).catch(() => undefined);
      if (body === undefined) {
        return reject(source.name, 'body_incomplete', 'the body ended before it was complete; send it again');
      }
      if (body === null) {
        return reject(
          source.name,
          'payload_too_large',
          `the body exceeds this source's limit of ${source.maxBodyBytes} bytes`,
        );
      }

      const now = options.clock.now();
      const verification = await withSpan(
        'hookbox.verify',
        { 'hookbox.source': source.name, 'hookbox.provider': source.provider.name },
        async () =>
          safeVerify(source, {
            body,
            headers: delivery.headers,
            // Only schemes that sign the URL (Twilio) read it: built on demand.
            get url() {
              return publicUrlOf(delivery, source);
            },
            now,
          }),
      );
      if (!verification.ok) return reject(source.name, verification.code, verification.message);
      if (verification.handshake) {
        return { status: verification.handshake.status, body: verification.handshake.body };
      }
      const identity = normalizeIdentity(verification.dedupeKey, verification.eventType);
      if (!identity.ok) return reject(source.name, 'payload_invalid', identity.message);
      span.setAttribute('hookbox.event_type', identity.eventType);

      const ordering = source.ordering
        ? decideOrdering(source.ordering, source.provider.name, verification.payload, delivery.headers, now)
        : null;
      if (ordering?.unorderedBecause) {
        logger.warn({ source: source.name, reason: ordering.unorderedBecause }, 'event recorded unordered');
      }
      const redactsBody = options.redaction.redactsStoredBody(source.name);
      // With a redacted body, handlers decode the stored body, as every later attempt does.
      const payload = redactsBody ? undefined : verification.payload;
      const destinations = routeEvent(source.destinations, identity.eventType);
      const forwardOnly =
        source.mode === 'async' &&
        !ordering?.ordering &&
        destinations !== undefined &&
        options.runsHandlersFor?.(source.name, identity.eventType) === false;
      let recorded: RecordResult;
      try {
        recorded = await withSpan('hookbox.store.record', { 'hookbox.source': source.name }, () =>
          options.committer.record(
            {
              id: createEventId(now),
              source: source.name,
              provider: source.provider.name,
              dedupeKey: identity.dedupeKey,
              eventType: identity.eventType,
              headers: options.redaction.storableHeaders(delivery.headerRecord()),
              // Opt-in per source: the stored body loses what it masks, and with it re-verification.
              body: redactsBody ? options.redaction.redactBody(body) : body,
              bodySha256: sha256Hex(body),
              receivedAt: now,
              ...(ordering?.ordering ? { ordering: ordering.ordering } : {}),
              destinations,
              ...(forwardOnly ? { forwardOnly } : {}),
            },
            // An ordered event is never claimed at ingest: its key's head decides (docs/ordering.md).
            // Nor is one with nothing but deliveries to do.
            { claimable: source.mode === 'async' && !ordering?.ordering && !forwardOnly, payload },
          ),
        );
      } catch (error) {
        return answerStoreFailure(source.name, error);
      }
      span.setAttribute('hookbox.event_id', recorded.id);
      telemetry.deliveryReceived(source.name, recorded.duplicate, performance.now() - started);

      if (source.mode === 'async') {
        return { status: 200, body: { received: true, id: recorded.id, duplicate: recorded.duplicate } };
      }
      return respondSync(recorded, payload);
    });
  }

  function answerStoreFailure(source: string, error: unknown): ReceiveAnswer {
    if (error instanceof StoreRowRefusedError) {
      // The database refused this delivery's data: retrying it cannot help, and its neighbours
      // in the batch were recorded without it.
      logger.warn({ source, err: error.message }, 'delivery refused by the store');
      return reject(
        source,
        'payload_invalid',
        'the database refused to store this delivery (its event id, type or headers hold a value it cannot store); nothing was stored',
      );
    }
    logger.error({ source, err: (error as Error).message }, 'store unavailable: delivery not acknowledged');
    const retryAfter = error instanceof IngestOverloadedError ? error.retryAfterSeconds : 5;
    // Whatever failed, nothing was acknowledged: 503 tells the provider to retry. The store's own
    // message stays in the log; the sender learns only that it must retry.
    const reason =
      error instanceof IngestOverloadedError
        ? 'too many deliveries are waiting for the store'
        : error instanceof StoreUnavailableError
          ? 'the store cannot commit right now'
          : 'recording failed';
    return {
      status: 503,
      body: errorBody('store_unavailable', `${reason}; nothing was stored, retry later`),
      headers: { 'retry-after': String(retryAfter) },
    };
  }

  async function respondSync(recorded: RecordResult, payload: unknown): Promise<ReceiveAnswer> {
    const base = { received: true, id: recorded.id, duplicate: recorded.duplicate };
    if (recorded.status === 'processed') return { status: 200, body: { ...base, alreadyProcessed: true } };
    if (recorded.status === 'ignored') return { status: 200, body: { ...base, ignored: true } };
    // Nothing will retry a dead event: the provider must stop too, so it gets a 2xx that says so.
    if (recorded.status === 'dead') return { status: 200, body: { ...base, dead: true } };
    const inline = await options.processInline(recorded.id, payload);
    if (inline.outcome === 'processed') return { status: 200, body: { ...base, processed: true } };
    if (inline.outcome === 'ignored') return { status: 200, body: { ...base, ignored: true } };
    if (inline.outcome === 'dead') {
      return {
        status: 200,
        body: {
          ...base,
          dead: true,
          error: `the handler failed for the last time (${truncate(inline.error ?? 'unknown error', 200)}); the event is dead and will not be retried`,
        },
      };
    }
    const message =
      inline.outcome === 'busy'
        ? 'the event is being processed by another worker; retry later'
        : inline.outcome === 'deferred'
          ? `the handler did not run (${truncate(inline.error ?? 'deferred', 200)}); the event is kept and will run later`
          : `the handler failed (${truncate(inline.error ?? 'unknown error', 200)}); the event is kept and will be retried${
              inline.nextAttemptAt === undefined
                ? ''
                : ` from ${new Date(inline.nextAttemptAt).toISOString()}`
            }`;
    return { status: 500, body: { ...errorBody('handler_failed', message), id: recorded.id } };
  }

  return {
    handle,
    /** The same pipeline over a web-standard Request (library mode). */
    async receive(request: Request, source: string, context: ReceiveContext = {}): Promise<Response> {
      const answer = await handle(deliveryFromRequest(request, context), source);
      return Response.json(answer.body, { status: answer.status, headers: answer.headers });
    },
  };
}

export type Receiver = ReturnType<typeof createReceiver>;

/** A web Request as an IncomingDelivery. */
export function deliveryFromRequest(request: Request, context: ReceiveContext = {}): IncomingDelivery {
  return {
    headers: request.headers,
    headerBytes: () => measureHeaders(request.headers),
    headerRecord: () => request.headers,
    url: () => request.url,
    readBody: (limit) => readBodyWithin(request, limit),
    ...(context.remoteAddress === undefined ? {} : { remoteAddress: context.remoteAddress }),
  };
}

async function safeVerify(
  source: Source,
  delivery: Parameters<Source['provider']['verify']>[0],
): Promise<Verification> {
  try {
    return await source.provider.verify(delivery, source.settings);
  } catch {
    // A verifier bug must never turn into an acceptance or leak a stack trace.
    return { ok: false, code: 'signature_malformed', message: 'the signature could not be checked' };
  }
}

function publicUrlOf(delivery: IncomingDelivery, source: Source): string {
  if (!source.publicUrl) return delivery.url();
  const url = new URL(delivery.url());
  return source.publicUrl.replace(/\/+$/, '') + url.pathname + url.search;
}

function resolveClientIp(delivery: IncomingDelivery, source: Source): string | undefined {
  if (source.trustProxy) {
    // The last entry is the one the trusted proxy appended; earlier ones are whatever the client sent.
    const forwarded = delivery.headers.get('x-forwarded-for');
    const last = forwarded?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return delivery.remoteAddress;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
