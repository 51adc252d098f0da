/**
 * The `destinations` of a source (docs/destinations.md): a strict schema, validated once at
 * start-up with every problem reported at once, then frozen. Problems are named by source and
 * destination, `sources.stripe.destinations[billing].url: ...`, so a config with ten
 * destinations says which one is wrong.
 */
import { z } from 'zod';
import { unknownKeyMessage } from '../config/problems.ts';
import { providers } from '../providers/registry.ts';
import { defaultRedactedHeaders } from '../redaction.ts';
import { checkAddress } from './address-guard.ts';
import { describeSigningSecretProblem } from './sign.ts';
import { compileTypeFilter, describeTypePatternProblem, type TypeFilter } from './type-filter.ts';

export interface Backoff {
  /** The cap of the first retry's delay; each later cap doubles (full jitter below it). */
  readonly baseDelayMs: number;
  /** No delay exceeds this, a Retry-After included. */
  readonly maxDelayMs: number;
}

/** One validated destination: frozen, names normalised to lower case. */
export interface Destination {
  readonly source: string;
  readonly name: string;
  /** `source/name`: unique in a config; the key of its connection pool and limiter. */
  readonly key: string;
  /** The URL as normalised by WHATWG URL parsing. */
  readonly url: string;
  /** `scheme://host:port`, what the connection pool connects to. */
  readonly origin: string;
  /** Path and query sent in the request line. */
  readonly path: string;
  readonly types: TypeFilter;
  /** `whsec_<base64>`: keep it out of logs and API answers. */
  readonly signingSecret: string;
  /** The whole attempt: connect, request, response headers and the response excerpt. */
  readonly timeoutMs: number;
  /** Extra static headers, names in lower case (values may be credentials: keep them out of logs). */
  readonly headers: Readonly<Record<string, string>>;
  /** Names (lower case) of the provider's request headers forwarded as received. */
  readonly passHeaders: readonly string[];
  readonly concurrency: number;
  /** Attempts started per second at most; undefined: no rate limit. */
  readonly ratePerSecond: number | undefined;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly allowPrivateNetwork: boolean;
}

export const destinationDefaults = Object.freeze({
  types: Object.freeze(['*']),
  timeoutMs: 15_000,
  concurrency: 10,
  maxAttempts: 15,
  backoff: Object.freeze({ baseDelayMs: 10_000, maxDelayMs: 6 * 60 * 60_000 }),
});

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

// Hop-by-hop headers describe one connection, not the message (RFC 9110 7.6.1), and the rest
// are written by the HTTP client from the body and URL; setting them by hand breaks framing.
const transportHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'host',
  'content-length',
  'content-type',
  'expect',
]);
const hookboxHeaderPrefixes = ['webhook-', 'x-hookbox-'];

// What the receive route never stores (credentials, and each scheme's signature headers) cannot
// be passed on: it is not there to pass, and a provider signature would stop verifying once a
// retry falls outside the provider's time tolerance. The app verifies Hookbox's own signature.
const credentialHeaders = new Set([
  ...defaultRedactedHeaders,
  ...Object.values(providers).flatMap((provider) => provider.secretHeaders),
]);

function describeReservedHeader(name: string): string | undefined {
  if (transportHeaders.has(name)) {
    return `${name} is set by the HTTP client (hop-by-hop or framing header) and cannot be configured`;
  }
  const prefix = hookboxHeaderPrefixes.find((p) => name.startsWith(p));
  if (prefix !== undefined) return `${prefix}* headers are set by Hookbox on every delivery`;
  return undefined;
}

const HEADER_NAME_MESSAGE = 'is not an HTTP header name (letters, digits, - and _)';
const headerName = z.string().regex(HEADER_NAME, HEADER_NAME_MESSAGE);

const headersSchema = z
  .record(
    z.string(),
    z
      .string()
      .max(8192, 'must be at most 8 KiB')
      .refine((value) => !/[\r\n\0]/.test(value), { message: 'must not contain CR, LF or NUL' }),
  )
  .superRefine((headers, context) => {
    const seen = new Set<string>();
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase();
      // Checked here rather than as the record's key schema, whose message would not name the problem.
      if (!HEADER_NAME.test(name)) {
        context.addIssue({ code: 'custom', path: [name], message: HEADER_NAME_MESSAGE });
        continue;
      }
      const reserved = describeReservedHeader(lower);
      if (reserved !== undefined) context.addIssue({ code: 'custom', path: [name], message: reserved });
      if (seen.has(lower)) {
        context.addIssue({
          code: 'custom',
          path: [name],
          message: 'is set twice (header names ignore case)',
        });
      }
      seen.add(lower);
    }
  });

const strict = { error: unknownKeysMessage };

function unknownKeysMessage(issue: { code?: string; keys?: string[] }): string | undefined {
  if (issue.code !== 'unrecognized_keys' || issue.keys === undefined) return undefined;
  const names = issue.keys.map((key) => JSON.stringify(key)).join(', ');
  return `unknown key${issue.keys.length === 1 ? '' : 's'} ${names}`;
}

const backoffSchema = z
  .strictObject(
    {
      baseDelayMs: z.number().int().min(0).max(86_400_000).default(destinationDefaults.backoff.baseDelayMs),
      maxDelayMs: z.number().int().min(0).max(86_400_000).default(destinationDefaults.backoff.maxDelayMs),
    },
    strict,
  )
  .refine((value) => value.maxDelayMs >= value.baseDelayMs, {
    message: 'must be at least baseDelayMs',
    path: ['maxDelayMs'],
  });

export const destinationSchema = z
  .strictObject(
    {
      name: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 characters of letters, digits, _ and -'),
      url: z.string(),
      types: z
        .array(
          z.string().superRefine((pattern, context) => {
            const problem = describeTypePatternProblem(pattern);
            if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
          }),
        )
        .min(1, 'must list at least one glob; leave `types` out to receive every event type')
        .default([...destinationDefaults.types]),
      signingSecret: z.string().superRefine((secret, context) => {
        const problem = describeSigningSecretProblem(secret);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      }),
      timeoutMs: z
        .number()
        .int()
        .min(100, 'must be at least 100 ms')
        .max(120_000, 'must be at most 120000 ms: a slow endpoint should answer 2xx first and work after')
        .default(destinationDefaults.timeoutMs),
      headers: headersSchema.default({}),
      passHeaders: z
        .array(headerName)
        .default([])
        .superRefine((names, context) => {
          for (const [index, name] of names.entries()) {
            const lower = name.toLowerCase();
            const reserved = describeReservedHeader(lower);
            if (reserved !== undefined)
              context.addIssue({ code: 'custom', path: [index], message: reserved });
            else if (credentialHeaders.has(lower)) {
              context.addIssue({
                code: 'custom',
                path: [index],
                message: `${lower} carries a credential or the provider's signature: Hookbox does not store it, so it cannot be passed on; the app verifies Hookbox's webhook-signature instead`,
              });
            }
          }
        }),
      concurrency: z.number().int().min(1).max(1000).default(destinationDefaults.concurrency),
      ratePerSecond: z.number().positive('must be positive').max(10_000).optional(),
      maxAttempts: z.number().int().min(1).max(100).default(destinationDefaults.maxAttempts),
      backoff: backoffSchema.default({ ...destinationDefaults.backoff }),
      allowPrivateNetwork: z.boolean().default(false),
    },
    strict,
  )
  // Runs even when a field failed, so every problem is listed at once: hence the type checks.
  .superRefine(
    (value, context) => {
      const { url, allowPrivateNetwork, headers, passHeaders } = value as Record<string, unknown>;
      if (typeof url === 'string') {
        const problem = describeUrlProblem(url, allowPrivateNetwork === true);
        if (problem !== undefined) context.addIssue({ code: 'custom', path: ['url'], message: problem });
      }
      if (headers === null || typeof headers !== 'object' || !Array.isArray(passHeaders)) return;
      const passed = new Set(passHeaders.map((name) => String(name).toLowerCase()));
      for (const name of Object.keys(headers)) {
        if (passed.has(name.toLowerCase())) {
          context.addIssue({
            code: 'custom',
            path: ['headers', name],
            message: "is also in passHeaders: choose one (a static value or the provider's)",
          });
        }
      }
    },
    { when: () => true },
  );

export type DestinationInput = z.input<typeof destinationSchema>;

/** The keys a destination takes (for "did you mean" on an unknown one). */
const destinationKeys = Object.keys(destinationSchema.shape);
const backoffKeys = ['baseDelayMs', 'maxDelayMs'];

/** Host names that always mean this machine or a metadata service, whatever DNS says. */
function describeReservedHostName(hostname: string): string | undefined {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return `${hostname} is this machine`;
  if (hostname === 'metadata.google.internal') return `${hostname} is the cloud metadata service`;
  return undefined;
}

/** Why a destination URL is refused at config time, or undefined. */
export function describeUrlProblem(text: string, allowPrivateNetwork: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not an absolute URL (https://host/path)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `the scheme must be http or https, not ${url.protocol.slice(0, -1)}`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'must not carry credentials (user:password@): send them with `headers`, e.g. { "authorization": "Bearer ..." }';
  }
  if (url.hash !== '') return 'must not have a #fragment: it is never sent to the server';
  if (allowPrivateNetwork) return undefined;
  // WHATWG parsing has already turned 2130706433 and 0x7f.1 into 127.0.0.1; a trailing dot is
  // the same name.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const named = describeReservedHostName(host);
  const verdict = named === undefined ? checkAddress(host) : undefined;
  const reason =
    named ??
    (verdict !== undefined && !verdict.allowed && verdict.range !== 'not an IP address'
      ? verdict.reason
      : undefined);
  if (reason === undefined) return undefined;
  return `${reason}: refused to guard against request forgery; set "allowPrivateNetwork": true on this destination if it is meant to reach your own network`;
}

/** Thrown by parseDestinations; `problems` lists every one, each naming its destination. */
export class DestinationConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid destinations:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DestinationConfigError';
    this.problems = problems;
  }
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : `${text}.${String(segment)}`),
    prefix,
  );
}

function labelOf(entry: unknown, index: number): string {
  const name = (entry as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : String(index);
}

function freezeDestination(source: string, parsed: z.output<typeof destinationSchema>): Destination {
  const url = new URL(parsed.url);
  return Object.freeze({
    source,
    name: parsed.name,
    key: `${source}/${parsed.name}`,
    url: url.href,
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    types: compileTypeFilter(parsed.types),
    signingSecret: parsed.signingSecret,
    timeoutMs: parsed.timeoutMs,
    headers: Object.freeze(
      Object.fromEntries(Object.entries(parsed.headers).map(([name, value]) => [name.toLowerCase(), value])),
    ),
    passHeaders: Object.freeze(parsed.passHeaders.map((name) => name.toLowerCase())),
    concurrency: parsed.concurrency,
    ratePerSecond: parsed.ratePerSecond,
    maxAttempts: parsed.maxAttempts,
    backoff: Object.freeze({ ...parsed.backoff }),
    allowPrivateNetwork: parsed.allowPrivateNetwork,
  });
}

export interface DestinationReading {
  /** The destinations that passed, frozen (all of them when problems is empty). */
  destinations: readonly Destination[];
  /** Every problem, as `sources.<source>.destinations[<name>].<key>: <what to do>`. */
  problems: string[];
}

/**
 * Validate a source's `destinations` value (undefined: none) and report every problem at
 * once, for a config loader that gathers problems from all sources before it stops.
 */
export function readDestinations(raw: unknown, sourceName: string): DestinationReading {
  const base = `sources.${sourceName}.destinations`;
  if (raw === undefined) return { destinations: Object.freeze([]), problems: [] };
  if (!Array.isArray(raw)) {
    return { destinations: Object.freeze([]), problems: [`${base}: must be a list of destinations`] };
  }
  const problems: string[] = [];
  const destinations: Destination[] = [];
  const names = new Set<string>();
  for (const [index, entry] of raw.entries()) {
    const prefix = `${base}[${labelOf(entry, index)}]`;
    const parsed = destinationSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          // One line per key, with the nearest known key, as for a source's own keys.
          const known =
            issue.path.length === 0 ? destinationKeys : issue.path[0] === 'backoff' ? backoffKeys : [];
          for (const key of issue.keys) {
            problems.push(`${formatPath(prefix, [...issue.path, key])}: ${unknownKeyMessage(key, known)}`);
          }
          continue;
        }
        problems.push(`${formatPath(prefix, issue.path)}: ${issue.message}`);
      }
      continue;
    }
    if (names.has(parsed.data.name)) {
      problems.push(
        `${prefix}.name: another destination of source ${sourceName} has this name; names must be unique per source`,
      );
      continue;
    }
    names.add(parsed.data.name);
    destinations.push(freezeDestination(sourceName, parsed.data));
  }
  return { destinations: Object.freeze(destinations), problems };
}

/** The same, throwing a DestinationConfigError that lists every problem. */
export function parseDestinations(raw: unknown, sourceName: string): readonly Destination[] {
  const { destinations, problems } = readDestinations(raw, sourceName);
  if (problems.length > 0) throw new DestinationConfigError(problems);
  return destinations;
}
