/**
 * The Provider port: one signature scheme per file, each a thin adapter over the shared
 * verification core in ./verify-core.ts (parse header, build the signed content,
 * constant-time compare, tolerance, several secrets for rotation).
 */
import type { ErrorCode } from '../errors.ts';

/**
 * Request headers as a verifier reads them: by name, case-insensitively. A web `Headers` is
 * one; the standalone server passes a cheaper view over Node's own header object.
 */
export interface HeaderReader {
  get(name: string): string | null;
}

/** One delivery as received, before anything is parsed. */
export interface Delivery {
  /** The raw body bytes exactly as received. */
  body: Buffer;
  /** Request headers (case-insensitive, read by name only). */
  headers: HeaderReader;
  /** The public URL the provider posted to (source `publicUrl` applied), for schemes that sign it. */
  url: string;
  /** Epoch milliseconds: the verification time (the Clock, or `hookbox verify --at`). */
  now: number;
  /**
   * Diagnose a mismatch whatever the body's size (`hookbox verify`). The receive route leaves
   * it unset, so a large forged body costs no more than a genuine one (verify-core.ts).
   */
  diagnose?: boolean;
}

/** Why a delivery was refused, with a message that says what to do. */
export interface Rejection {
  ok: false;
  code: Extract<
    ErrorCode,
    | 'signature_missing'
    | 'signature_malformed'
    | 'signature_mismatch'
    | 'signature_body_reserialized'
    | 'timestamp_outside_tolerance'
    | 'certificate_refused'
    | 'token_invalid'
    | 'payload_invalid'
    | 'unsupported_media_type'
  >;
  message: string;
}

/** What a verified delivery yields: the dedupe key and type, and the parsed payload when there is one. */
export interface Accepted {
  ok: true;
  dedupeKey: string;
  eventType: string;
  /** The decoded payload handlers receive (parsed JSON, form fields, Pub/Sub data). */
  payload?: unknown;
  /** A reply that answers the request without storing anything (Slack's url_verification). */
  handshake?: { status: number; body: unknown };
}

export type Verification = Accepted | Rejection;

/** What `hookbox send` produces: a signed delivery of `body`. */
export interface SignedDelivery {
  headers: Record<string, string>;
  body: Buffer;
  /** The URL to post to when the scheme signs it and adds query parameters (Twilio bodySHA256). */
  url?: string;
}

export interface SignOptions {
  /** Epoch milliseconds to sign at. */
  now: number;
  /** The URL the delivery will be posted to. */
  url: string;
  eventType: string;
  eventId: string;
}

/**
 * A signature scheme. `C` is its per-source settings (secrets, tolerance...), validated by
 * `settingsSchema` at start-up.
 */
export interface Provider<C = unknown> {
  /** The scheme name used in config (`provider: 'stripe'`). */
  readonly name: string;
  /**
   * Header names (lower case) that carry this scheme's signatures or credentials. They are
   * stored (an event can be re-verified) but masked on every output and in logs, through the
   * one Redaction (registry.ts declaredSecretHeaders, src/redaction.ts).
   */
  readonly secretHeaders: readonly string[];
  /** Signature headers named by a source's settings (generic-hmac's `header`): masked like `secretHeaders`. */
  secretHeadersFor?(settings: C): readonly string[];
  /** Validate and normalise this scheme's source settings; throws a ZodError listing every problem. */
  parseSettings(raw: unknown): C;
  /** Verify, then derive dedupe key and type. Never throws for bad input: it returns a Rejection. */
  verify(delivery: Delivery, settings: C): Verification | Promise<Verification>;
  /** Build a delivery the verifier accepts (for `hookbox send` and tests). Schemes signed by a provider's private key may need test-only settings. */
  sign?(body: Buffer, settings: C, options: SignOptions): SignedDelivery | Promise<SignedDelivery>;
  /**
   * Decode a stored body into what handlers receive (the worker reads events back from the
   * store). Without it, JSON bodies are parsed and form bodies become an object of fields.
   */
  decodePayload?(body: Buffer, headers: Record<string, string>): unknown;
  /** A sample event body for `hookbox send` when no --data is given. */
  sampleBody?(options: { eventType: string; eventId: string; now: number }): Buffer;
}
