import { describe, expect, it } from 'vitest';
import { compileTypeFilter } from '../../src/destinations/type-filter.ts';

describe('compileTypeFilter', () => {
  const cases: Array<[string[], string, boolean]> = [
    [['*'], 'invoice.paid', true],
    [['*'], '', true],
    [['invoice.*'], 'invoice.paid', true],
    [['invoice.*'], 'invoice.payment.failed', true],
    [['invoice.*'], 'invoice', false],
    [['invoice.*'], 'invoiceitem.created', false],
    [['invoice.*'], 'Invoice.paid', false],
    [['invoice.paid'], 'invoice.paid', true],
    [['invoice.paid'], 'invoice.paid.extra', false],
    [['*.created'], 'customer.created', true],
    [['*.created'], 'customer.subscription.created', true],
    [['*.created'], 'customer.updated', false],
    [['customer.*.created'], 'customer.subscription.created', true],
    [['customer.*.created'], 'customer.created', false],
    [['a*b*c'], 'aXbYc', true],
    [['a*b*c'], 'abc', true],
    [['a*b*c'], 'acb', false],
    [['a**b'], 'ab', true],
    [['invoice.*', 'charge.refunded'], 'charge.refunded', true],
    [['invoice.*', 'charge.refunded'], 'charge.failed', false],
    // No other glob syntax: these characters match themselves.
    [['invoice.?aid'], 'invoice.paid', false],
    [['invoice.?aid'], 'invoice.?aid', true],
    [['[ab]'], 'a', false],
  ];

  it.each(cases)('%j matches %j: %s', (patterns, type, expected) => {
    expect(compileTypeFilter(patterns).matches(type)).toBe(expected);
  });

  it('takes linear-ish time on a pattern built to make regular expressions backtrack', () => {
    const filter = compileTypeFilter([`${'*a'.repeat(30)}*b`]);
    const started = performance.now();
    expect(filter.matches('a'.repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('keeps the patterns as configured, frozen', () => {
    const filter = compileTypeFilter(['invoice.*']);
    expect(filter.patterns).toEqual(['invoice.*']);
    expect(Object.isFrozen(filter.patterns)).toBe(true);
  });
});
