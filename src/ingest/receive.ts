import type { Clock } from '../clock.ts';
import { type ErrorCode, errorBody, HookboxError, StoreUnavailableError } from '../errors.ts';
import { createEventId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import { noopTelemetry, type Telemetry, withSpan } from '../monitor/telemetry.ts';
import type { Verification } from '../providers/types.ts';
import { sha256Hex } from '../providers/verify-core.ts';
import type { Redaction } from '../redaction.ts';
import type { RecordResult } from '../store/types.ts';
import type { GroupCommitter } from './group-commit.ts';
import { readBodyWithin } from './read-body.ts';
import { checkRequestHead } from './request-checks.ts';
import { isClientAllowed, type Source } from './source.ts';

export interface InlineOutcome {
  outcome: 'processed' | 'failed' | 'dead' | 'ignored' | 'busy' | 'deferred';
  error?: string;
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
}

export interface ReceiveContext {
  /** The socket's peer address. */
  remoteAddress?: string;
}

/**
 * The receive pipeline (DESIGN, Data flow): source lookup, limits, verify, dedupe key, group
 * commit, respond. A 2xx leaves only after the event's row is committed (invariant 1); a
 * rejected delivery stores nothing.
 */
export function createReceiver(options: ReceiverOptions) {
  const telemetry = options.telemetry ?? noopTelemetry;
  const { logger } = options;

  function reject(source: string, code: ErrorCode, message: string, extraHeaders?: Record<string, string>) {
    telemetry.deliveryRejected(source, code);
    logger.info({ source, code }, 'delivery rejected');
    const status = new HookboxError(code, message).status;
    return Response.json(errorBody(code, message), { status, headers: extraHeaders });
  }

  async function receive(
    request: Request,
    sourceName: string,
    context: ReceiveContext = {},
  ): Promise<Response> {
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
      const clientIp = resolveClientIp(request, source, context);
      if (!isClientAllowed(source, clientIp)) {
        return reject(
          source.name,
          'ip_not_allowed',
          `client ${clientIp ?? '(unknown)'} is not on this source's allowlist`,
        );
      }
      const refused = checkRequestHead(source, request.headers);
      if (refused) return reject(source.name, refused.code, refused.message);
      if (options.admit) {
        const retryAfter = await options.admit(source, clientIp);
        if (retryAfter !== null) {
          return reject(source.name, 'rate_limited', `too many deliveries; retry in ${retryAfter} s`, {
            'retry-after': String(retryAfter),
          });
        }
      }
      const body = await readBodyWithin(request, source.maxBodyBytes).catch(() => undefined);
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
      const url = publicUrlOf(request, source);
      const verification = await withSpan(
        'hookbox.verify',
        { 'hookbox.source': source.name, 'hookbox.provider': source.provider.name },
        async () => safeVerify(source, { body, headers: request.headers, url, now }),
      );
      if (!verification.ok) return reject(source.name, verification.code, verification.message);
      if (verification.handshake) {
        return Response.json(verification.handshake.body, { status: verification.handshake.status });
      }
      span.setAttribute('hookbox.event_type', verification.eventType);

      const redactsBody = options.redaction.redactsStoredBody(source.name);
      let recorded: RecordResult;
      try {
        recorded = await withSpan('hookbox.store.record', { 'hookbox.source': source.name }, () =>
          options.committer.record({
            id: createEventId(now),
            source: source.name,
            provider: source.provider.name,
            dedupeKey: verification.dedupeKey,
            eventType: verification.eventType,
            headers: options.redaction.storableHeaders(request.headers),
            // Opt-in per source: the stored body loses what it masks, and with it re-verification.
            body: redactsBody ? options.redaction.redactBody(body) : body,
            bodySha256: sha256Hex(body),
            receivedAt: now,
          }),
        );
      } catch (error) {
        logger.error(
          { source: source.name, err: (error as Error).message },
          'store unavailable: delivery not acknowledged',
        );
        // Whatever failed, nothing was acknowledged: 503 tells the provider to retry.
        const reason =
          error instanceof StoreUnavailableError ? 'the store cannot commit right now' : 'recording failed';
        return Response.json(errorBody('store_unavailable', `${reason}; retry later`), { status: 503 });
      }
      span.setAttribute('hookbox.event_id', recorded.id);
      telemetry.deliveryReceived(source.name, recorded.duplicate, performance.now() - started);

      if (source.mode === 'async') {
        return Response.json({ received: true, id: recorded.id, duplicate: recorded.duplicate });
      }
      // With a redacted body, sync handlers decode the stored body too, as async ones do.
      return respondSync(recorded, redactsBody ? undefined : verification.payload);
    });
  }

  async function respondSync(recorded: RecordResult, payload: unknown): Promise<Response> {
    const base = { received: true, id: recorded.id, duplicate: recorded.duplicate };
    if (recorded.status === 'processed') return Response.json({ ...base, alreadyProcessed: true });
    if (recorded.status === 'ignored') return Response.json({ ...base, ignored: true });
    const inline = await options.processInline(recorded.id, payload);
    if (inline.outcome === 'processed') return Response.json({ ...base, processed: true });
    if (inline.outcome === 'ignored') return Response.json({ ...base, ignored: true });
    const message =
      inline.outcome === 'busy'
        ? 'the event is being processed by another worker; retry later'
        : inline.outcome === 'deferred'
          ? `the handler did not run (${truncate(inline.error ?? 'deferred', 200)}); the event is kept and will run later`
          : `the handler failed (${truncate(inline.error ?? 'unknown error', 200)}); the event is kept and will be retried`;
    return Response.json({ ...errorBody('handler_failed', message), id: recorded.id }, { status: 500 });
  }

  return { receive };
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

function publicUrlOf(request: Request, source: Source): string {
  if (!source.publicUrl) return request.url;
  const url = new URL(request.url);
  return source.publicUrl.replace(/\/+$/, '') + url.pathname + url.search;
}

function resolveClientIp(request: Request, source: Source, context: ReceiveContext): string | undefined {
  if (source.trustProxy) {
    // The last entry is the one the trusted proxy appended; earlier ones are whatever the client sent.
    const forwarded = request.headers.get('x-forwarded-for');
    const last = forwarded?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return context.remoteAddress;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
