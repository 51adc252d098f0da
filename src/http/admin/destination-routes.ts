import type { Context } from 'hono';
import type { DestinationOperations } from '../../destinations/operations.ts';
import type { Destination } from '../../destinations/settings.ts';
import { HookboxError } from '../../errors.ts';
import type { Source } from '../../ingest/source.ts';
import type { destinationAdminOperations } from './destination-operations.ts';
import { serializeDelivery, serializeDeliveryDetail, serializeDestination } from './destination-serialize.ts';
import type { Handlers } from './routes.ts';

export interface DestinationRoutesDependencies {
  /** The operations service (src/destinations/operations.ts): every rule and error lives there. */
  destinations: DestinationOperations;
  /** The configured sources, for what a destination shows besides its summary (header names, limits). */
  sources: ReadonlyMap<string, Source>;
}

type DestinationHandlers = Pick<Handlers, keyof typeof destinationAdminOperations>;

/**
 * The handlers of the destination routes: thin, the service validates against the configured
 * destinations and throws HookboxErrors whose codes are the HTTP statuses (404, 409).
 */
export function createDestinationHandlers(deps: DestinationRoutesDependencies): DestinationHandlers {
  const { destinations } = deps;
  const ok = (c: Context, data: unknown) => c.json({ success: true, data });
  const configured = (source: string, name: string): Destination | undefined =>
    deps.sources.get(source)?.destinations?.find((d) => d.name === name);
  const show = (summary: Parameters<typeof serializeDestination>[0]) =>
    serializeDestination(summary, configured(summary.source, summary.name));

  return {
    async listDestinations({ query }, c) {
      const list = await destinations.listDestinations(
        query.windowMinutes === undefined ? {} : { windowMs: query.windowMinutes * 60_000 },
      );
      return ok(c, { destinations: list.map(show) });
    },
    async pauseDestination({ params, body }, c) {
      return ok(c, show(await destinations.pause(params.source, params.name, body?.reason)));
    },
    async resumeDestination({ params }, c) {
      return ok(c, show(await destinations.resume(params.source, params.name)));
    },
    async enableDestination({ params }, c) {
      return ok(c, show(await destinations.enable(params.source, params.name)));
    },
    async listDeliveries({ query }, c) {
      const page = await destinations.listDeliveries({
        ...(query.source === undefined ? {} : { source: query.source }),
        ...(query.destination === undefined ? {} : { destination: query.destination }),
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.eventId === undefined ? {} : { eventId: query.eventId }),
        ...(query.limit === undefined ? {} : { limit: query.limit }),
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return ok(c, { deliveries: page.deliveries.map(serializeDelivery), nextCursor: page.nextCursor });
    },
    async getDelivery({ params }, c) {
      const detail = await destinations.getDelivery(params.id);
      if (!detail) throw new HookboxError('delivery_not_found', `no delivery with id ${params.id}`);
      return ok(c, serializeDeliveryDetail(detail));
    },
    async retryDelivery({ params }, c) {
      return ok(c, serializeDelivery(await destinations.retryDelivery(params.id)));
    },
    async replayEvent({ params, body }, c) {
      const replayed = await destinations.replayEvent(
        params.id,
        body?.destination === undefined ? {} : { destination: body.destination },
      );
      return ok(c, { deliveries: replayed.map(serializeDelivery) });
    },
  };
}
