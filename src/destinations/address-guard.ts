/**
 * Which IP addresses a destination may be connected to. Used twice: on a URL's literal host at
 * config time, and on every address DNS returns at connect time (http-client.ts), so a name
 * whose answer changes after validation is still caught.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`) are judged as the IPv4 address inside them: otherwise `::ffff:127.0.0.1`
 * would reach loopback through the IPv6 door. Outside the named ranges, IPv6 is allowed only in
 * the global unicast block 2000::/3, so a range assigned later is refused until it is known.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type AddressVerdict =
  | { allowed: true; address: string }
  /** `range` names the block (`loopback`, `link-local`, ...); `reason` is a sentence for error messages. */
  | { allowed: false; address: string; range: string; reason: string };

interface Range {
  cidr: string;
  label: string;
}

// Exact addresses first, so the message says "cloud metadata" rather than only "link-local".
const ipv4Ranges: readonly Range[] = [
  { cidr: '169.254.169.254/32', label: 'cloud metadata (AWS, GCP, Azure, Oracle)' },
  { cidr: '169.254.170.2/32', label: 'cloud metadata (AWS ECS task credentials)' },
  { cidr: '100.100.100.200/32', label: 'cloud metadata (Alibaba Cloud)' },
  { cidr: '255.255.255.255/32', label: 'broadcast' },
  { cidr: '0.0.0.0/8', label: '"this network" (0.0.0.0/8)' },
  { cidr: '10.0.0.0/8', label: 'private (10.0.0.0/8)' },
  { cidr: '100.64.0.0/10', label: 'carrier-grade NAT (100.64.0.0/10)' },
  { cidr: '127.0.0.0/8', label: 'loopback' },
  { cidr: '169.254.0.0/16', label: 'link-local' },
  { cidr: '172.16.0.0/12', label: 'private (172.16.0.0/12)' },
  { cidr: '192.0.0.0/24', label: 'IETF protocol assignments (192.0.0.0/24)' },
  { cidr: '192.0.2.0/24', label: 'documentation (192.0.2.0/24)' },
  { cidr: '192.88.99.0/24', label: '6to4 relay anycast (192.88.99.0/24)' },
  { cidr: '192.168.0.0/16', label: 'private (192.168.0.0/16)' },
  { cidr: '198.18.0.0/15', label: 'benchmarking (198.18.0.0/15)' },
  { cidr: '198.51.100.0/24', label: 'documentation (198.51.100.0/24)' },
  { cidr: '203.0.113.0/24', label: 'documentation (203.0.113.0/24)' },
  { cidr: '224.0.0.0/4', label: 'multicast' },
  { cidr: '240.0.0.0/4', label: 'reserved (240.0.0.0/4)' },
];

// The IPv4-carrying prefixes (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are not here: they are
// unwrapped before these are consulted.
const ipv6Ranges: readonly Range[] = [
  { cidr: 'fd00:ec2::254/128', label: 'cloud metadata (AWS, IPv6)' },
  { cidr: '::/128', label: 'unspecified (::)' },
  { cidr: '::1/128', label: 'loopback' },
  { cidr: '::/96', label: 'IPv4-compatible (deprecated, ::/96)' },
  { cidr: '64:ff9b:1::/48', label: 'local-use NAT64 (64:ff9b:1::/48)' },
  { cidr: '100::/64', label: 'discard-only (100::/64)' },
  { cidr: '2001::/32', label: 'Teredo tunnelling (2001::/32)' },
  { cidr: '2001:db8::/32', label: 'documentation (2001:db8::/32)' },
  { cidr: 'fc00::/7', label: 'unique-local (fc00::/7)' },
  { cidr: 'fe80::/10', label: 'link-local' },
  { cidr: 'fec0::/10', label: 'site-local (deprecated, fec0::/10)' },
  { cidr: 'ff00::/8', label: 'multicast' },
];

function compileRanges(ranges: readonly Range[], family: 'ipv4' | 'ipv6') {
  return ranges.map(({ cidr, label }) => {
    const [network, prefix] = cidr.split('/') as [string, string];
    const list = new BlockList();
    list.addSubnet(network, Number(prefix), family);
    return { label, list };
  });
}

const compiledIpv4 = compileRanges(ipv4Ranges, 'ipv4');
const compiledIpv6 = compileRanges(ipv6Ranges, 'ipv6');
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');

/** The eight 16-bit groups of a valid IPv6 address (zone id already removed). */
function ipv6Groups(address: string): number[] {
  let text = address;
  // A trailing dotted quad (`::ffff:1.2.3.4`) is two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipv4FromGroups(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The IPv4 address an IPv6 address carries by a well-known translation, with the name of that form. */
function embeddedIpv4(groups: readonly number[]): { ipv4: string; form: string } | undefined {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return { ipv4: ipv4FromGroups(g6, g7), form: 'IPv4-mapped' };
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return { ipv4: ipv4FromGroups(g6, g7), form: 'NAT64' };
  }
  if (g0 === 0x2002) return { ipv4: ipv4FromGroups(g1, g2), form: '6to4' };
  return undefined;
}

function refuse(address: string, range: string, shown = address): AddressVerdict {
  return {
    allowed: false,
    address,
    range,
    reason: `${shown} is a ${range} address`,
  };
}

/**
 * Whether a connection to this IP address is allowed for a destination that does not set
 * `allowPrivateNetwork`. Anything that is not an IP address is refused (the caller resolves
 * names first).
 */
export function checkAddress(address: string): AddressVerdict {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // A zone id (`fe80::1%eth0`) names an interface, not part of the address.
  const ip = bare.includes('%') ? bare.slice(0, bare.indexOf('%')) : bare;
  if (isIPv4(ip)) {
    for (const { label, list } of compiledIpv4) {
      if (list.check(ip, 'ipv4')) return refuse(address, label);
    }
    return { allowed: true, address };
  }
  if (isIPv6(ip)) {
    const embedded = embeddedIpv4(ipv6Groups(ip.toLowerCase()));
    if (embedded !== undefined) {
      const inner = checkAddress(embedded.ipv4);
      if (inner.allowed) return { allowed: true, address };
      return refuse(address, inner.range, `${address} (${embedded.form} ${embedded.ipv4})`);
    }
    for (const { label, list } of compiledIpv6) {
      if (list.check(ip, 'ipv6')) return refuse(address, label);
    }
    if (!globalUnicast.check(ip, 'ipv6')) return refuse(address, 'non-global (outside 2000::/3)');
    return { allowed: true, address };
  }
  return { allowed: false, address, range: 'not an IP address', reason: `${address} is not an IP address` };
}
