import { BlockList, isIP } from 'node:net';
import type { Destination } from '../destinations/settings.ts';
import type { OrderingSettings } from '../ordering/settings.ts';
import type { Provider } from '../providers/types.ts';
import type { SourceRateLimit } from './rate-limit.ts';

export type ProcessingMode = 'async' | 'sync';

/** A configured source, resolved once at start-up. */
export interface Source {
  name: string;
  provider: Provider<unknown>;
  /** The provider's validated settings (secrets, tolerance...). */
  settings: unknown;
  /** async: store, acknowledge, process in the background. sync: process inline, 500 when the handler fails. */
  mode: ProcessingMode;
  maxBodyBytes: number;
  /** Limit on the request headers (sum of names and values, in bytes): 431 above it. */
  maxHeaderBytes: number;
  /** Per-source and per-client-IP rate limits (none by default). */
  rateLimit?: SourceRateLimit;
  /** The public base URL the provider posts to, when a proxy changes it (schemes that sign the URL). */
  publicUrl?: string;
  /** Only these clients may deliver; undefined allows all. */
  allowlist?: BlockList;
  /** Take the client IP from X-Forwarded-For (only behind a proxy you run). */
  trustProxy: boolean;
  /** Ordering per key (docs/ordering.md); absent: the source's events are unordered. */
  ordering?: OrderingSettings;
  /** Where its events are forwarded (docs/destinations.md); absent or empty: nowhere. */
  destinations?: readonly Destination[];
}

export const defaultMaxBodyBytes = 1024 * 1024;
/** Node's own header limit (--max-http-header-size) is also 16 KiB: it applies first on `hookbox serve`. */
export const defaultMaxHeaderBytes = 16 * 1024;

/** Build a BlockList from CIDR or single-address entries; throws naming the bad entry. */
export function buildAllowlist(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address!, type);
    else {
      // Digits only: Number('') is 0, so "10.1.2.3/" would otherwise open the list to everyone.
      const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
        throw new Error(`"${entry}" has an invalid prefix length`);
      }
      list.addSubnet(address!, bits, type);
    }
  }
  return list;
}

export function isClientAllowed(source: Source, clientIp: string | undefined): boolean {
  if (!source.allowlist) return true;
  if (!clientIp) return false;
  const ip = clientIp.startsWith('::ffff:') && isIP(clientIp.slice(7)) === 4 ? clientIp.slice(7) : clientIp;
  const family = isIP(ip);
  if (family === 0) return false;
  return source.allowlist.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
