import { describe, expect, it } from 'vitest';
import { checkAddress } from '../../src/destinations/address-guard.ts';

// [address, expected range label fragment] for refusals; the fragment must appear in `range`.
const refused: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.10', 'private'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.255', 'carrier-grade NAT'],
  ['100.100.100.200', 'cloud metadata'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'cloud metadata'],
  ['169.254.170.2', 'cloud metadata'],
  ['0.0.0.0', 'this network'],
  ['0.1.2.3', 'this network'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.0.170', 'IETF'],
  ['192.0.2.1', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456::1', 'unique-local'],
  ['fd00:ec2::254', 'cloud metadata'],
  ['ff02::1', 'multicast'],
  ['fec0::1', 'site-local'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:169.254.169.254', 'cloud metadata'],
  ['::ffff:10.1.2.3', 'private'],
  ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'cloud metadata'],
  ['64:ff9b:1::1', 'local-use NAT64'],
  ['2002:7f00:1::1', 'loopback'],
  ['2002:a9fe:a9fe::', 'cloud metadata'],
  ['::127.0.0.1', 'IPv4-compatible'],
  ['2001:db8::1', 'documentation'],
  ['2001::1', 'Teredo'],
  ['100::1', 'discard-only'],
  ['4000::1', 'non-global'],
  ['[::1]', 'loopback'],
  ['example.com', 'not an IP address'],
  ['', 'not an IP address'],
];

const allowed = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.15.255.255',
  '172.32.0.1',
  '100.63.255.255',
  '100.128.0.1',
  '169.253.255.255',
  '192.169.0.1',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2a00:1450:4001:82a::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

describe('checkAddress', () => {
  it.each(refused)('refuses %s (%s)', (address, range) => {
    const verdict = checkAddress(address);
    expect(verdict.allowed).toBe(false);
    if (verdict.allowed) return;
    expect(verdict.range).toContain(range);
    expect(verdict.reason).toContain(address === '' ? 'not an IP address' : address);
  });

  it.each(allowed)('allows %s', (address) => {
    expect(checkAddress(address)).toEqual({ allowed: true, address });
  });

  it('names the embedded IPv4 address of a translated IPv6 address', () => {
    expect(checkAddress('::ffff:169.254.169.254')).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('IPv4-mapped 169.254.169.254'),
    });
    expect(checkAddress('64:ff9b::7f00:1')).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('NAT64 127.0.0.1'),
    });
  });
});
