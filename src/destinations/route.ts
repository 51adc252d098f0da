/**
 * Which destinations an event goes to: those of its source whose `types` globs match its type.
 * Decided once, at ingest, and written as one delivery row each with the event.
 */
import type { Destination } from './settings.ts';

/** The names of the matching destinations, or undefined when none matches (no delivery rows). */
export function routeEvent(
  destinations: readonly Destination[] | undefined,
  eventType: string,
): string[] | undefined {
  if (destinations === undefined || destinations.length === 0) return undefined;
  const names = destinations.filter((d) => d.types.matches(eventType)).map((d) => d.name);
  return names.length > 0 ? names : undefined;
}
