/**
 * The one catalogue of error codes Hookbox answers with. Every HTTP error body is
 * `{ error: { code, message } }` with a code from here; docs/errors.md lists them all
 * (a test keeps the two in step).
 */
export const errorCatalogue = {
  source_not_found: { status: 404, summary: 'No source with this name is configured.' },
  route_not_found: { status: 404, summary: 'No route matches this method and path.' },
  event_not_found: { status: 404, summary: 'No event with this id.' },
  event_not_retryable: {
    status: 409,
    summary: 'The event is being processed, or already processed (pass force to replay it).',
  },
  destination_not_found: { status: 404, summary: 'No destination with this source and name is configured.' },
  destination_state_conflict: {
    status: 409,
    summary:
      'The destination is not in a state this action applies to (resume a paused one, enable a disabled one).',
  },
  delivery_not_found: { status: 404, summary: 'No delivery with this id.' },
  delivery_not_retryable: {
    status: 409,
    summary: 'Only a failed or dead delivery can be retried (replay its event to deliver it again).',
  },
  ip_not_allowed: { status: 403, summary: "The client IP is outside the source's allowlist." },
  payload_too_large: { status: 413, summary: "The body is larger than the source's limit." },
  unsupported_media_type: { status: 415, summary: 'The content type is not one the scheme can take.' },
  headers_too_large: { status: 431, summary: "The request headers are larger than the source's limit." },
  body_incomplete: {
    status: 400,
    summary: 'The body ended before it was complete: the client aborted or sent it too slowly.',
  },
  rate_limited: { status: 429, summary: 'Too many deliveries; retry after the Retry-After delay.' },
  signature_missing: { status: 401, summary: 'A header the signature scheme needs is absent.' },
  signature_malformed: { status: 401, summary: 'The signature header cannot be parsed.' },
  signature_mismatch: { status: 401, summary: 'No signature matches the body with any configured secret.' },
  signature_body_reserialized: {
    status: 401,
    summary: 'The signature matches a re-serialized form of the body: pass the raw request bytes.',
  },
  timestamp_outside_tolerance: { status: 401, summary: 'The signed timestamp is outside the tolerance.' },
  certificate_refused: {
    status: 401,
    summary: 'The signing certificate URL or certificate is not one Hookbox trusts.',
  },
  token_invalid: { status: 401, summary: 'The bearer token is missing, malformed, or fails its claims.' },
  payload_invalid: {
    status: 400,
    summary: 'The body cannot yield what the scheme requires (JSON, event id, event type).',
  },
  handler_failed: { status: 500, summary: 'Sync mode: the handler failed, so the provider should retry.' },
  store_unavailable: { status: 503, summary: 'The store cannot commit; nothing was acknowledged.' },
  unauthorized: { status: 401, summary: 'A valid admin token is required.' },
  forbidden: { status: 403, summary: 'This token is read-only and cannot run actions.' },
  invalid_input: { status: 400, summary: 'The request input failed validation; see the field errors.' },
  csrf_failed: { status: 403, summary: 'The CSRF token is missing or does not match the session.' },
  internal_error: { status: 500, summary: 'An unexpected error; the logs carry the details.' },
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error that knows its catalogue code, so every layer can answer it the same way. */
export class HookboxError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'HookboxError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.details = details;
  }
}

/** Raised by a store adapter when the engine cannot commit: answered 503. */
export class StoreUnavailableError extends HookboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message);
    this.name = 'StoreUnavailableError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * Raised by a store adapter when the database refused a row's data (a value it cannot store, a
 * key its index cannot hold): answered 400 for that delivery alone. The committer then records
 * the rest of the batch without it, so one bad row never fails its neighbours.
 */
export class StoreRowRefusedError extends HookboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('payload_invalid', message);
    this.name = 'StoreRowRefusedError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The message of anything thrown, for logs and the audit trail. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function errorBody(code: ErrorCode, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
