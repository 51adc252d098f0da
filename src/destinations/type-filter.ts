/**
 * The `types` filter of a destination: globs over event types, compiled once.
 *
 * `*` matches any run of characters, dots included, so `invoice.*` matches `invoice.paid` and
 * `invoice.payment.failed`, and `*` alone matches every event. Everything else matches itself,
 * case-sensitively. Provider type trees are uneven (Stripe has `customer.created` beside
 * `customer.subscription.created`), and `customer.*` is read as "everything about customers";
 * a one-segment wildcard would need a second one (`**`) to say that, and silently drop events
 * for anyone who guessed the other meaning.
 */

export interface TypeFilter {
  /** The globs as configured. */
  readonly patterns: readonly string[];
  /** Whether an event of this type goes to the destination. */
  matches(eventType: string): boolean;
}

type Matcher = (eventType: string) => boolean;

/**
 * Glob matching with `*` only, by the two-pointer method: on a mismatch, go back to the last
 * `*` and let it swallow one more character. No regular expression, so no pattern can make a
 * match take exponential time.
 */
function matchGlob(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

function compilePattern(pattern: string): Matcher {
  const stars = pattern.split('*').length - 1;
  if (stars === 0) return (type) => type === pattern;
  if (/^\*+$/.test(pattern)) return () => true;
  if (stars === 1 && pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (type) => type.startsWith(prefix);
  }
  return (type) => matchGlob(pattern, type);
}

/** Compile the globs once; an event matches when any of them matches. */
export function compileTypeFilter(patterns: readonly string[]): TypeFilter {
  const matchers = patterns.map(compilePattern);
  const frozen = Object.freeze([...patterns]);
  return Object.freeze({
    patterns: frozen,
    matches: (eventType: string) => matchers.some((matcher) => matcher(eventType)),
  });
}

/** The problem with one glob, or undefined when it is usable. */
export function describeTypePatternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'must not be empty (use "*" for every event type)';
  if (pattern.length > 200) return 'must be at most 200 characters';
  if (/\s/.test(pattern)) return 'must not contain whitespace (event types never do)';
  return undefined;
}
