import { errorBody } from './errors.ts';
import { ConfigError, createHookbox as composeHookbox, type HookboxInternals } from './hookbox.ts';
import type {
  ConnectionInfo,
  Handler,
  Hookbox,
  HookboxDestinations,
  HookboxEvents,
  HookboxOptions,
} from './public-types.ts';

/**
 * The public factory: a `Hookbox` that builds the pipeline (src/hookbox.ts) on first use.
 *
 * Nothing is validated, opened or started here, because hosts import the module that calls
 * this at build time: `next build` loads every route module, and a Hookbox built eagerly
 * there would create the SQLite file, connect to PostgreSQL or migrate the build machine's
 * database. `start()`, or failing that the first request, does all of it.
 */
export function createHookbox(options: HookboxOptions): Hookbox {
  const registrations: [source: string, eventType: string, handler: Handler][] = [];
  let internals: HookboxInternals | null = null;
  let starting: Promise<void> | null = null;

  function compose(): HookboxInternals {
    if (!internals) {
      const built = composeHookbox(options);
      for (const [source, eventType, handler] of registrations) built.on(source, eventType, handler);
      internals = built;
    }
    return internals;
  }

  async function startOnce(): Promise<void> {
    try {
      await compose().start();
    } catch (error) {
      // Start afresh next time: the internals mark themselves started before migrating.
      const built = internals;
      internals = null;
      await built?.stop().catch(() => {});
      throw error;
    }
  }

  function start(): Promise<void> {
    if (starting) return starting;
    const attempt = startOnce();
    starting = attempt;
    attempt.catch(() => {
      if (starting === attempt) starting = null;
    });
    return attempt;
  }

  /** Start on the first request; a start that fails answers 503 so the provider retries. */
  async function started(): Promise<Response | null> {
    try {
      await start();
      return null;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const reason = (error as Error).message;
      // Without a logger (the library default is silent) the reason would be lost.
      if (options.logger) options.logger.error({ err: reason }, 'hookbox could not start');
      else console.error(`hookbox could not start: ${reason}`);
      // The sender gets no path, host or driver message: the log has them.
      return Response.json(errorBody('store_unavailable', 'Hookbox could not open its store; see the log'), {
        status: 503,
      });
    }
  }

  const hookbox: Hookbox = {
    fetch: async (request: Request, connection?: ConnectionInfo) =>
      (await started()) ??
      compose().fetch(request, { incoming: { socket: { remoteAddress: connection?.remoteAddress } } }),
    receive: async (request: Request, source: string, connection?: ConnectionInfo) =>
      (await started()) ?? compose().receive(request, source, connection),
    on(source: string, eventType: string, handler: Handler) {
      registrations.push([source, eventType, handler]);
      internals?.on(source, eventType, handler);
      return hookbox;
    },
    start,
    async stop(graceMs?: number) {
      await starting?.catch(() => {});
      const built = internals;
      internals = null;
      starting = null;
      await built?.stop(graceMs);
    },
    get events(): HookboxEvents {
      return compose().events;
    },
    get destinations(): HookboxDestinations {
      return compose().destinations;
    },
    checkHealth: (request) => compose().monitoring.health.checkHealth(request),
    evaluateAndNotify: () => compose().monitoring.evaluateAndNotify(),
  };
  return hookbox;
}
