import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkTimestampTolerance,
  computeHmac,
  decodeSignature,
  describeTimestampSkew,
  equalSignatures,
  findMatchingSecret,
  getSecretKey,
  LruCache,
  parseKeyValueList,
  parseUnixSeconds,
  RESERIALIZATION_CHECK_MAX_BYTES,
  readJsonPath,
  rejectMismatch,
  reserializedForms,
  sha256Hex,
  splitHeaderList,
} from '../../src/providers/verify-core.ts';

describe('equalSignatures', () => {
  it('compares bytes, and returns false on a length mismatch instead of throwing', () => {
    expect(equalSignatures(Buffer.from('abcd'), Buffer.from('abcd'))).toBe(true);
    expect(equalSignatures(Buffer.from('abcd'), Buffer.from('abce'))).toBe(false);
    expect(equalSignatures(Buffer.from('abcd'), Buffer.from('abc'))).toBe(false);
    expect(equalSignatures(Buffer.alloc(0), Buffer.from('a'))).toBe(false);
    expect(equalSignatures(Buffer.alloc(32), Buffer.alloc(64))).toBe(false);
  });
});

describe('decodeSignature', () => {
  it('takes only the canonical spelling unless a scheme tolerates others', () => {
    expect(decodeSignature('0a1bff', 'hex')).toEqual(Buffer.from([0x0a, 0x1b, 0xff]));
    expect(decodeSignature('0A1BFF', 'hex')).toBeUndefined();
    expect(decodeSignature('0A1BFF', 'hex', { anyCaseHex: true })).toEqual(Buffer.from([0x0a, 0x1b, 0xff]));
    // 0xfb 0xff: `+/8=` in base64, `-_8` in base64url; `+/9=` has a non-zero unused bit.
    const bytes = Buffer.from([0xfb, 0xff]);
    expect(decodeSignature('+/8=', 'base64')).toEqual(bytes);
    for (const other of ['+/8', '-_8=', '+/9='])
      expect(decodeSignature(other, 'base64'), other).toBeUndefined();
    expect(decodeSignature('+/8', 'base64', { unpadded: true })).toEqual(bytes);
    expect(decodeSignature('+/9=', 'base64', { unpadded: true })).toBeUndefined();
    expect(decodeSignature('-_8', 'base64url')).toEqual(bytes);
    expect(decodeSignature('-_8=', 'base64url')).toBeUndefined();
    expect(decodeSignature('-_8=', 'base64url', { unpadded: true })).toEqual(bytes);
    expect(decodeSignature('-_9=', 'base64', { anyBase64: true })).toEqual(bytes);
  });

  it('refuses text that is not valid in its encoding rather than decoding part of it', () => {
    expect(decodeSignature('0a1', 'hex')).toBeUndefined();
    expect(decodeSignature('zz', 'hex')).toBeUndefined();
    expect(decodeSignature('', 'hex')).toBeUndefined();
    expect(decodeSignature('not base64!', 'base64')).toBeUndefined();
    expect(decodeSignature('RSOYDt4T1cUTdK1PDd93/VVr8B8=', 'base64')?.length).toBe(20);
  });
});

describe('computeHmac and findMatchingSecret', () => {
  it('matches node:crypto, over parts as over the concatenation', () => {
    const expected = createHmac('sha256', 'secret').update('123.').update('body').digest();
    expect(computeHmac('sha256', 'secret', ['123.', Buffer.from('body')])).toEqual(expected);
    expect(getSecretKey('secret')).toBe(getSecretKey('secret'));
  });

  it('tries every secret against every candidate signature', () => {
    const content = ['payload'];
    const old = computeHmac('sha256', 'old', content);
    const wrong = Buffer.alloc(32, 1);
    const check = { algorithm: 'sha256' as const, content };
    expect(findMatchingSecret({ ...check, secrets: ['new', 'old'], signatures: [wrong, old] })).toBe(1);
    expect(findMatchingSecret({ ...check, secrets: ['new'], signatures: [wrong, old] })).toBe(-1);
    expect(findMatchingSecret({ ...check, secrets: ['old'], signatures: [] })).toBe(-1);
    // A truncated signature never matches (length differs) and never throws.
    expect(findMatchingSecret({ ...check, secrets: ['old'], signatures: [old.subarray(0, 16)] })).toBe(-1);
  });

  it('keys base64 secrets by their decoded bytes (whsec_ prefix optional)', () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const expected = createHmac('sha256', key).update('x').digest();
    expect(computeHmac('sha256', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', ['x'], 'base64')).toEqual(
      expected,
    );
    expect(computeHmac('sha256', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', ['x'], 'base64')).toEqual(expected);
  });
});

describe('timestamp tolerance', () => {
  const now = 1_700_000_000_000;
  const nowSeconds = now / 1000;

  it('says how old a stale timestamp is', () => {
    expect(describeTimestampSkew(nowSeconds - 412, now, 300)).toMatch(
      /^timestamp 412 s older than the 300 s tolerance/,
    );
  });

  it('says how far in the future a timestamp is', () => {
    expect(describeTimestampSkew(nowSeconds + 395, now, 300)).toMatch(
      /^timestamp 395 s in the future, beyond the 300 s tolerance/,
    );
  });

  it('accepts the edges of the window', () => {
    expect(describeTimestampSkew(nowSeconds - 300, now, 300)).toBeUndefined();
    expect(describeTimestampSkew(nowSeconds + 300, now, 300)).toBeUndefined();
    expect(checkTimestampTolerance(nowSeconds - 301, now, 300)?.code).toBe('timestamp_outside_tolerance');
  });

  it('parses only whole Unix seconds', () => {
    expect(parseUnixSeconds('1531420618')).toBe(1531420618);
    expect(parseUnixSeconds(' 12 ')).toBe(12);
    for (const text of ['', '12a', '-5', '1.5', '0x10', undefined, null])
      expect(parseUnixSeconds(text)).toBeUndefined();
  });
});

describe('header lists', () => {
  it('splits and trims, tolerating spaces and empty entries', () => {
    expect(splitHeaderList(' a , b,,c ')).toEqual(['a', 'b', 'c']);
    expect(parseKeyValueList('t=1, v1=ab ,v1 = cd,v0=ef,junk')).toEqual([
      ['t', '1'],
      ['v1', 'ab'],
      ['v1', 'cd'],
      ['v0', 'ef'],
      ['junk', ''],
    ]);
  });
});

describe('JSON helpers', () => {
  it('reads dotted paths through objects and arrays', () => {
    const value = { data: { id: 'x', items: [{ id: 7 }] } };
    expect(readJsonPath(value, 'data.id')).toBe('x');
    expect(readJsonPath(value, 'data.items.0.id')).toBe(7);
    expect(readJsonPath(value, 'data.missing.id')).toBeUndefined();
    expect(readJsonPath(value, '__proto__.constructor')).toBeUndefined();
  });

  it('hashes bytes as hex', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('re-serialization diagnosis', () => {
  const pretty = Buffer.from(JSON.stringify({ id: 'evt_1', type: 't' }, null, 2));
  const compact = Buffer.from(JSON.stringify({ id: 'evt_1', type: 't' }));

  it('offers the compact and pretty forms other than the raw body', () => {
    expect(reserializedForms(pretty)).toEqual([compact]);
    expect(reserializedForms(Buffer.from('not json'))).toEqual([]);
  });

  it('names re-serialization when a re-serialized form matches', () => {
    const signedOver = (candidate: Buffer) => candidate.equals(pretty);
    const result = rejectMismatch({
      delivery: { body: compact },
      label: 'v1 signature',
      mismatchMessage: 'nope',
      matchesBody: signedOver,
    });
    expect(result.code).toBe('signature_body_reserialized');
    expect(result.message).toContain('pass the raw request body bytes, not parsed JSON');
    const plain = rejectMismatch({
      delivery: { body: compact },
      label: 'v1 signature',
      mismatchMessage: 'nope',
      matchesBody: () => false,
    });
    expect(plain).toEqual({ ok: false, code: 'signature_mismatch', message: 'nope' });
  });

  it('skips the diagnosis above 16 KiB unless asked for it (hookbox verify)', () => {
    const large = Buffer.from(
      JSON.stringify({ id: 'evt_1', pad: 'x'.repeat(RESERIALIZATION_CHECK_MAX_BYTES) }),
    );
    const tried: Buffer[] = [];
    const matchesBody = (candidate: Buffer) => {
      tried.push(candidate);
      return true;
    };
    const options = { label: 'v1 signature', mismatchMessage: 'nope', matchesBody };
    expect(rejectMismatch({ ...options, delivery: { body: large } }).code).toBe('signature_mismatch');
    expect(tried).toEqual([]);
    expect(rejectMismatch({ ...options, delivery: { body: large, diagnose: true } }).code).toBe(
      'signature_body_reserialized',
    );
    expect(tried).toHaveLength(1);
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry past its limit', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });
});
