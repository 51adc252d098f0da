import type { Logger } from '../logger.ts';
import type { StoredEvent, TransactionHandle } from '../store/types.ts';

/** What a handler receives for one attempt. */
export interface HandlerContext {
  event: StoredEvent;
  /** The decoded payload (parsed JSON, form fields, Pub/Sub data), parsed once. */
  payload: unknown;
  /** 1 on the first try. */
  attempt: number;
  logger: Logger;
  /** Fires when the lease is lost, the handler times out, or the worker shuts down. */
  signal: AbortSignal;
  /**
   * PostgreSQL only: writes made through it commit in the same transaction that marks the
   * event processed, so the effect happens exactly once. Undefined on SQLite.
   */
  tx?: TransactionHandle;
}

export type Handler = (context: HandlerContext) => unknown | Promise<unknown>;

/** Handlers by source and event type; `*` matches every source or every type. */
export class HandlerRegistry {
  readonly #handlers = new Map<string, Handler[]>();

  register(source: string, eventType: string, handler: Handler): void {
    const key = `${source}\u0000${eventType}`;
    const list = this.#handlers.get(key) ?? [];
    list.push(handler);
    this.#handlers.set(key, list);
  }

  /** Every handler for this event: exact matches first, then wildcards. */
  findHandlers(source: string, eventType: string): Handler[] {
    return this.findRegistrations(source, eventType).map((r) => r.handler);
  }

  /**
   * The same handlers, each with the `source:eventType` pattern it was registered under (the
   * key of its circuit breaker).
   */
  findRegistrations(source: string, eventType: string): { key: string; handler: Handler }[] {
    const found: { key: string; handler: Handler }[] = [];
    for (const [registeredSource, registeredType] of [
      [source, eventType],
      [source, '*'],
      ['*', eventType],
      ['*', '*'],
    ] as const) {
      const list = this.#handlers.get(`${registeredSource}\u0000${registeredType}`);
      if (list)
        for (const handler of list) found.push({ key: `${registeredSource}:${registeredType}`, handler });
    }
    return found;
  }
}
