/**
 * The HTTP side of destinations: one undici keep-alive pool per destination, created on first
 * use and closed on shutdown, and its concurrency/rate limits beside it.
 *
 * The pool's connect step resolves the host name itself and checks every address DNS returns
 * (address-guard.ts) before a socket is opened, unless the destination sets
 * allowPrivateNetwork. So the check applies to the address actually connected to: a name that
 * passed config validation and later resolves to 169.254.169.254 is still refused. The lookup is
 * injected (default `dns.lookup`, the function Node itself calls), which is how tests make a
 * name resolve to a metadata address.
 */
import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { type Clock, systemClock } from '../clock.ts';
import { type AddressVerdict, checkAddress } from './address-guard.ts';
import { createDeliveryLimits, type DeliveryLimits, systemTimers, type Timers } from './limits.ts';
import type { Destination } from './settings.ts';

/** `dns.lookup` with `all: true`, the shape the injected resolver must have. */
export type HostLookup = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

const systemLookup: HostLookup = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/** A connection refused by the address guard: the evidence is every address that was refused. */
export class AddressRefusedError extends Error {
  readonly code = 'HOOKBOX_ADDRESS_REFUSED';
  readonly hostname: string;
  readonly refused: readonly AddressVerdict[];

  constructor(destination: Destination, hostname: string, refused: readonly AddressVerdict[]) {
    const reasons = refused.map((verdict) => (verdict.allowed ? verdict.address : verdict.reason)).join('; ');
    const resolved = isIP(hostname) ? '' : `${hostname} resolved to `;
    super(
      `${resolved}${reasons}: refused to guard against request forgery; set "allowPrivateNetwork": true on destination ${destination.key} if it is meant to reach your own network`,
    );
    this.name = 'AddressRefusedError';
    this.hostname = hostname;
    this.refused = refused;
  }
}

function judge(destination: Destination, address: string): AddressVerdict {
  return destination.allowPrivateNetwork ? { allowed: true, address } : checkAddress(address);
}

/**
 * A `lookup` for net.connect that keeps only allowed addresses. When DNS returns a mix, the
 * connection goes to the allowed ones only; when none is allowed, it fails with the evidence.
 */
export function createGuardedLookup(destination: Destination, lookup: HostLookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      if (addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`no address found for ${hostname}`);
        notFound.code = 'ENOTFOUND';
        return callback(notFound, '', 0);
      }
      const verdicts = addresses.map((entry) => judge(destination, entry.address));
      const allowed = addresses.filter((_, index) => verdicts[index]?.allowed);
      const first = allowed[0];
      if (first === undefined)
        return callback(new AddressRefusedError(destination, hostname, verdicts), '', 0);
      if (options.all) return callback(null, allowed);
      return callback(null, first.address, first.family);
    });
  };
}

/** undici's connector with the guard in front: literal IPs are judged here, names in the lookup. */
export function createGuardedConnector(
  destination: Destination,
  lookup: HostLookup,
): buildConnector.connector {
  const connect = buildConnector({
    timeout: destination.timeoutMs,
    lookup: createGuardedLookup(destination, lookup),
  });
  return (options, callback) => {
    // net.connect skips the lookup for a literal address, so judge it before connecting.
    if (isIP(options.hostname) !== 0) {
      const verdict = judge(destination, options.hostname);
      if (!verdict.allowed) {
        callback(new AddressRefusedError(destination, options.hostname, [verdict]), null);
        return;
      }
    }
    connect(options, callback);
  };
}

export interface DestinationHttpClientOptions {
  /** Host name resolution; default `dns.lookup`. */
  lookup?: HostLookup;
  /** Webhook timestamps and attempt durations. */
  clock?: Clock;
  /** The attempt deadline and the rate limiter's waits. */
  timers?: Timers;
  /** How long an idle pooled connection stays open (undici honours a shorter server hint). */
  keepAliveTimeoutMs?: number;
}

/** One pool and one set of limits per destination. */
export interface DestinationHttpClient {
  readonly clock: Clock;
  readonly timers: Timers;
  /** The destination's pool, created on first use (a changed destination with the same key gets a new one). */
  poolFor(destination: Destination): Pool;
  limitsFor(destination: Destination): DeliveryLimits;
  /** Close every pool after its in-flight requests finish (each is bounded by its timeout). */
  close(): Promise<void>;
}

interface Entry {
  destination: Destination;
  pool: Pool;
  limits: DeliveryLimits;
}

export function createDestinationHttpClient(
  options: DestinationHttpClientOptions = {},
): DestinationHttpClient {
  const lookup = options.lookup ?? systemLookup;
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const entries = new Map<string, Entry>();
  let closed = false;

  const entryFor = (destination: Destination): Entry => {
    if (closed)
      throw new Error('the destination HTTP client is closed: no delivery can start after shutdown');
    const existing = entries.get(destination.key);
    if (existing?.destination === destination) return existing;
    // A reloaded config brings a new object for the same key: its settings may differ.
    if (existing !== undefined) void existing.pool.close();
    const entry: Entry = {
      destination,
      pool: new Pool(destination.origin, {
        connections: destination.concurrency,
        connect: createGuardedConnector(destination, lookup),
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      }),
      limits: createDeliveryLimits({
        concurrency: destination.concurrency,
        ratePerSecond: destination.ratePerSecond,
        clock,
        timers,
      }),
    };
    entries.set(destination.key, entry);
    return entry;
  };

  return {
    clock,
    timers,
    poolFor: (destination) => entryFor(destination).pool,
    limitsFor: (destination) => entryFor(destination).limits,
    async close() {
      closed = true;
      const pools = [...entries.values()].map((entry) => entry.pool.close());
      entries.clear();
      await Promise.all(pools);
    },
  };
}
