import { describe, expect, it } from 'vitest';
import {
  DestinationConfigError,
  parseDestinations,
  readDestinations,
} from '../../src/destinations/settings.ts';
import { generateSigningSecret } from './helpers.ts';

const secret = generateSigningSecret();
const base = { name: 'billing', url: 'https://billing.example.com/webhooks/stripe', signingSecret: secret };

function problemsOf(entries: unknown, source = 'stripe'): string[] {
  return readDestinations(entries, source).problems;
}

describe('parseDestinations', () => {
  it('fills the defaults and normalises, frozen', () => {
    const [destination] = parseDestinations([base], 'stripe');
    expect(destination).toMatchObject({
      source: 'stripe',
      name: 'billing',
      key: 'stripe/billing',
      url: 'https://billing.example.com/webhooks/stripe',
      origin: 'https://billing.example.com',
      path: '/webhooks/stripe',
      signingSecret: secret,
      timeoutMs: 15_000,
      headers: {},
      passHeaders: [],
      concurrency: 10,
      ratePerSecond: undefined,
      maxAttempts: 15,
      backoff: { baseDelayMs: 10_000, maxDelayMs: 21_600_000 },
      allowPrivateNetwork: false,
    });
    expect(destination?.types.patterns).toEqual(['*']);
    expect(destination?.types.matches('anything.at.all')).toBe(true);
    expect(Object.isFrozen(destination)).toBe(true);
    expect(Object.isFrozen(destination?.headers)).toBe(true);
    expect(Object.isFrozen(destination?.backoff)).toBe(true);
  });

  it('takes every documented key, header names in lower case, query kept in the path', () => {
    const [destination] = parseDestinations(
      [
        {
          ...base,
          url: 'https://billing.example.com:8443/hooks?from=hookbox',
          types: ['invoice.*', 'customer.subscription.*'],
          timeoutMs: 5000,
          headers: { Authorization: 'Bearer t0ken', 'X-Team': 'billing' },
          passHeaders: ['Stripe-Account', 'user-agent'],
          concurrency: 3,
          ratePerSecond: 2.5,
          maxAttempts: 4,
          backoff: { baseDelayMs: 1000, maxDelayMs: 60_000 },
          allowPrivateNetwork: false,
        },
      ],
      'stripe',
    );
    expect(destination).toMatchObject({
      origin: 'https://billing.example.com:8443',
      path: '/hooks?from=hookbox',
      headers: { authorization: 'Bearer t0ken', 'x-team': 'billing' },
      passHeaders: ['stripe-account', 'user-agent'],
      concurrency: 3,
      ratePerSecond: 2.5,
      maxAttempts: 4,
      backoff: { baseDelayMs: 1000, maxDelayMs: 60_000 },
    });
    expect(destination?.types.matches('invoice.payment_failed')).toBe(true);
    expect(destination?.types.matches('charge.refunded')).toBe(false);
  });

  it('reads no destinations as none, and refuses a value that is not a list', () => {
    expect(readDestinations(undefined, 'stripe')).toEqual({ destinations: [], problems: [] });
    expect(problemsOf({ billing: base })).toEqual([
      'sources.stripe.destinations: must be a list of destinations',
    ]);
  });

  it('throws a DestinationConfigError listing every problem, each naming source and destination', () => {
    const attempt = () =>
      parseDestinations(
        [
          { ...base, timeout: 5000 },
          { ...base, name: 'crm', url: 'http://127.0.0.1:4000/hooks', signingSecret: 'nope' },
        ],
        'stripe',
      );
    expect(attempt).toThrow(DestinationConfigError);
    try {
      attempt();
    } catch (error) {
      expect((error as DestinationConfigError).problems).toEqual([
        'sources.stripe.destinations[billing].timeout: unknown key; did you mean `timeoutMs`?',
        expect.stringMatching(/^sources\.stripe\.destinations\[crm\]\.signingSecret: must be `whsec_`/),
        expect.stringMatching(
          /^sources\.stripe\.destinations\[crm\]\.url: 127\.0\.0\.1 is a loopback address: refused .* "allowPrivateNetwork": true/,
        ),
      ]);
    }
  });

  it('labels a destination without a usable name by its position', () => {
    expect(problemsOf([base, { ...base, name: 'has space' }])).toEqual([
      'sources.stripe.destinations[1].name: must be 1 to 64 characters of letters, digits, _ and -',
    ]);
    expect(problemsOf([{ url: base.url, signingSecret: secret }])).toEqual([
      expect.stringMatching(/^sources\.stripe\.destinations\[0\]\.name: /),
    ]);
  });

  it('refuses two destinations of one source with the same name', () => {
    expect(problemsOf([base, { ...base, url: 'https://other.example.com/' }])).toEqual([
      'sources.stripe.destinations[billing].name: another destination of source stripe has this name; names must be unique per source',
    ]);
  });

  it.each([
    ['a 65-character name', { name: 'n'.repeat(65) }, 'name: must be 1 to 64'],
    ['an empty types list', { types: [] }, 'types: must list at least one glob'],
    ['an empty glob', { types: ['invoice.*', ''] }, 'types[1]: must not be empty'],
    ['a glob with a space', { types: ['invoice paid'] }, 'types[0]: must not contain whitespace'],
    ['a timeout under 100 ms', { timeoutMs: 50 }, 'timeoutMs: must be at least 100 ms'],
    ['a timeout over 2 minutes', { timeoutMs: 120_001 }, 'timeoutMs: must be at most 120000 ms'],
    ['zero concurrency', { concurrency: 0 }, 'concurrency:'],
    ['a zero rate', { ratePerSecond: 0 }, 'ratePerSecond: must be positive'],
    ['zero attempts', { maxAttempts: 0 }, 'maxAttempts:'],
    [
      'max delay below base',
      { backoff: { baseDelayMs: 5000, maxDelayMs: 1000 } },
      'backoff.maxDelayMs: must be at least baseDelayMs',
    ],
    [
      'an unknown backoff key',
      { backoff: { base: 5 } },
      'backoff.base: unknown key; did you mean `baseDelayMs`?',
    ],
    ['a string for allowPrivateNetwork', { allowPrivateNetwork: 'yes' }, 'allowPrivateNetwork:'],
    [
      'a hop-by-hop header',
      { headers: { Connection: 'close' } },
      'headers.Connection: connection is set by the HTTP client',
    ],
    [
      'a framing header',
      { headers: { 'Content-Length': '3' } },
      'headers.Content-Length: content-length is set by',
    ],
    [
      'a webhook- header',
      { headers: { 'Webhook-Id': 'x' } },
      'headers.Webhook-Id: webhook-* headers are set by Hookbox',
    ],
    [
      'an x-hookbox- header',
      { headers: { 'x-hookbox-attempt': '1' } },
      'headers.x-hookbox-attempt: x-hookbox-* headers',
    ],
    ['a header set twice', { headers: { 'X-A': '1', 'x-a': '2' } }, 'headers.x-a: is set twice'],
    [
      'a header value with a newline',
      { headers: { 'x-a': 'a\r\nb: c' } },
      'headers.x-a: must not contain CR, LF or NUL',
    ],
    ['a bad header name', { headers: { 'x a': '1' } }, 'headers.x a: is not an HTTP header name'],
    [
      'passing the provider signature',
      { passHeaders: ['Stripe-Signature'] },
      'passHeaders[0]: stripe-signature carries a credential',
    ],
    [
      'passing authorization',
      { passHeaders: ['authorization'] },
      'passHeaders[0]: authorization carries a credential',
    ],
    [
      'passing webhook-signature',
      { passHeaders: ['webhook-signature'] },
      'passHeaders[0]: webhook-* headers are set by Hookbox',
    ],
    ['passing content-type', { passHeaders: ['content-type'] }, 'passHeaders[0]: content-type is set by'],
    [
      'a header both static and passed',
      { headers: { 'x-a': '1' }, passHeaders: ['X-A'] },
      'headers.x-a: is also in passHeaders',
    ],
    ['a relative URL', { url: '/webhooks' }, 'url: "/webhooks" is not an absolute URL'],
    ['an ftp URL', { url: 'ftp://files.example.com/' }, 'url: the scheme must be http or https, not ftp'],
    [
      'credentials in the URL',
      { url: 'https://user:pw@billing.example.com/' },
      'url: must not carry credentials',
    ],
    ['a fragment', { url: 'https://billing.example.com/#x' }, 'url: must not have a #fragment'],
    [
      'a 23-byte secret',
      { signingSecret: `whsec_${Buffer.alloc(23).toString('base64')}` },
      'signingSecret: decodes to 23 bytes',
    ],
  ])('refuses %s', (_label, fields, message) => {
    const problems = problemsOf([{ ...base, ...fields }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      `sources.stripe.destinations[${(fields as { name?: string }).name === undefined ? 'billing' : '0'}].${message}`,
    );
  });

  describe('the request-forgery guard at config time', () => {
    it.each([
      ['http://127.0.0.1:4000/hooks', '127.0.0.1 is a loopback address'],
      ['http://[::1]:4000/', '::1 is a loopback address'],
      ['http://localhost:4000/', 'localhost is this machine'],
      ['http://LOCALHOST./', 'localhost is this machine'],
      ['http://app.localhost/', 'app.localhost is this machine'],
      ['http://169.254.169.254/latest/meta-data/', 'cloud metadata'],
      [
        'http://metadata.google.internal/computeMetadata/v1/',
        'metadata.google.internal is the cloud metadata service',
      ],
      ['http://10.1.2.3/', 'private (10.0.0.0/8)'],
      ['http://192.168.0.10/', 'private (192.168.0.0/16)'],
      ['http://[fd00:ec2::254]/', 'cloud metadata (AWS, IPv6)'],
      ['http://[fe80::1]/', 'link-local'],
      ['http://[::ffff:127.0.0.1]/', 'loopback'],
      // WHATWG URL parsing turns these spellings into 127.0.0.1 before the check.
      ['http://2130706433/', '127.0.0.1 is a loopback address'],
      ['http://0x7f.1/', '127.0.0.1 is a loopback address'],
      ['http://0.0.0.0:3000/', 'this network'],
    ])('refuses %s without allowPrivateNetwork', (url, reason) => {
      const problems = problemsOf([{ ...base, url }]);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^sources\.stripe\.destinations\[billing\]\.url: /);
      expect(problems[0]).toContain(reason);
      expect(problems[0]).toContain('"allowPrivateNetwork": true');
    });

    it('accepts them with allowPrivateNetwork: true', () => {
      for (const url of ['http://127.0.0.1:4000/hooks', 'http://localhost:4000/', 'http://10.1.2.3/']) {
        expect(problemsOf([{ ...base, url, allowPrivateNetwork: true }])).toEqual([]);
      }
    });

    it('leaves host names to the connect-time check (their DNS answer can change)', () => {
      expect(problemsOf([{ ...base, url: 'http://billing:3000/hooks' }])).toEqual([]);
      expect(problemsOf([{ ...base, url: 'https://8.8.8.8/hooks' }])).toEqual([]);
    });

    it('names the source and destination of the refused URL among several', () => {
      const problems = problemsOf([base, { ...base, name: 'crm', url: 'http://127.0.0.1:9000/' }], 'paypal');
      expect(problems).toEqual([
        expect.stringMatching(/^sources\.paypal\.destinations\[crm\]\.url: 127\.0\.0\.1 is a loopback/),
      ]);
    });
  });
});
