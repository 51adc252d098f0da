/**
 * `hookbox destinations list|pause|resume|enable` and `hookbox deliveries list|show|retry|replay`
 * (docs/cli.md): the same operations service as the admin API and the dashboard, over the store
 * the server uses. Pause, resume and enable are state rows in the store, so a running server sees
 * them on its next claim; a retried or replayed delivery goes out on the server's next poll.
 */
import type { Command } from 'commander';
import { resolveSources } from '../config/sources.ts';
import { createDestinationOperations, type DestinationOperations } from '../destinations/operations.ts';
import type { Destination } from '../destinations/settings.ts';
import { HookboxError } from '../errors.ts';
import {
  serializeDelivery,
  serializeDeliveryDetail,
  serializeDestination,
} from '../http/admin/destination-serialize.ts';
import { type DeliveryStatus, deliveryStatuses, type StoredDelivery } from '../store/types.ts';
import { openMigratedStore } from './check-schema.ts';
import { CliFailure, exitCodes } from './failures.ts';
import { fail, loadCliConfig, printTable } from './shared.ts';

/** Run `act` with the operations service over the configured store and sources; close the store after. */
async function withOperations<T>(
  command: Command,
  act: (
    operations: DestinationOperations,
    configured: (source: string, name: string) => Destination | undefined,
  ) => Promise<T>,
): Promise<T> {
  const config = await loadCliConfig(command);
  const sources = resolveSources(config.sources);
  const store = await openMigratedStore(config.databaseUrl);
  try {
    const operations = createDestinationOperations({ store, sources });
    return await act(operations, (source, name) =>
      sources.get(source)?.destinations?.find((d) => d.name === name),
    );
  } catch (error) {
    throw explainOperationError(error);
  } finally {
    await store.close();
  }
}

/** The service's refusals are answers, not bugs: one line, exit 1 (2 for bad input). */
function explainOperationError(error: unknown): unknown {
  if (!(error instanceof HookboxError) || error.status >= 500) return error;
  return new CliFailure(
    error.message,
    error.code === 'invalid_input' ? exitCodes.configuration : exitCodes.failed,
  );
}

/** `stripe/billing` or `stripe billing` -> [source, name]; exit 2 otherwise. */
function parseDestinationArgument(first: string, second: string | undefined): [string, string] {
  const parts = second === undefined ? first.split('/') : [first, second];
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    fail(`name a destination as SOURCE/NAME (for example stripe/billing), not "${first}"`, 2);
  }
  return [parts[0], parts[1]];
}

function print(json: boolean | undefined, value: unknown, text: () => void): void {
  if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
  else text();
}

export function registerDestinationsCommand(program: Command): void {
  const destinations = program
    .command('destinations')
    .description('list, pause, resume and enable the destinations events are forwarded to');

  destinations
    .command('list')
    .description('every configured destination with its state, success rate and backlog')
    .option('--window <minutes>', 'the window of the success rate, in minutes', '60')
    .option('--json', 'print one JSON array')
    .action(async (options: { window: string; json?: boolean }, command: Command) => {
      const minutes = Number(options.window);
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > 10_080)
        fail('--window takes a whole number of minutes from 1 to 10080', 2);
      await withOperations(command, async (operations, configured) => {
        const list = (await operations.listDestinations({ windowMs: minutes * 60_000 })).map((summary) =>
          serializeDestination(summary, configured(summary.source, summary.name)),
        );
        print(options.json, list, () => {
          if (list.length === 0) {
            process.stdout.write('no destinations are configured (docs/destinations.md)\n');
            return;
          }
          printTable(
            list.map((d) => ({
              destination: `${d.source}/${d.name}`,
              state: d.state,
              success: d.recentSuccessRate === null ? '-' : `${d.recentSuccessRate}%`,
              backlog: d.backlog,
              dead: d.deliveries.dead,
              url: d.url,
              reason: d.stateReason,
            })),
            ['destination', 'state', 'success', 'backlog', 'dead', 'url', 'reason'],
          );
        });
      });
    });

  const transition = (verb: 'pause' | 'resume' | 'enable', description: string) => {
    const sub = destinations
      .command(verb)
      .description(description)
      .argument('<destination>', 'SOURCE/NAME, e.g. stripe/billing')
      .argument('[name]', 'or the name after the source: stripe billing')
      .option('--json', 'print the destination as JSON');
    if (verb === 'pause') sub.option('--reason <text>', 'why, shown as its state reason');
    sub.action(
      async (
        first: string,
        second: string | undefined,
        options: { json?: boolean; reason?: string },
        command: Command,
      ) => {
        const [source, name] = parseDestinationArgument(first, second);
        await withOperations(command, async (operations, configured) => {
          const summary =
            verb === 'pause'
              ? await operations.pause(source, name, options.reason)
              : await operations[verb](source, name);
          print(options.json, serializeDestination(summary, configured(source, name)), () => {
            const waiting = summary.backlog ? ` (${summary.backlog} deliveries waiting)` : '';
            process.stdout.write(`${source}/${name} is ${summary.state}${waiting}\n`);
          });
        });
      },
    );
  };
  transition('pause', 'stop delivering to a destination: its deliveries queue until it is resumed');
  transition('resume', 'deliver again to a paused destination, oldest first');
  transition('enable', 'deliver again to a destination a 410 Gone disabled');

  const deliveries = program
    .command('deliveries')
    .description('inspect, retry and replay deliveries of events to destinations');

  deliveries
    .command('list')
    .description('deliveries, newest first')
    .option('--source <name>')
    .option('--destination <name>', 'destination name (within its source)')
    .option('--status <status>', `one of ${deliveryStatuses.join(', ')} (comma-separated for several)`)
    .option('--event <id>', 'the deliveries of one event')
    .option('--limit <n>', 'how many (1-500)', '50')
    .option('--cursor <id>', 'continue after this delivery (printed as the next cursor)')
    .option('--json', 'print one JSON object {deliveries, nextCursor}')
    .action(
      async (
        options: {
          source?: string;
          destination?: string;
          status?: string;
          event?: string;
          limit: string;
          cursor?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          fail('--limit takes a whole number from 1 to 500', 2);
        const status = options.status?.split(',').map((s) => s.trim());
        const unknown = status?.filter((s) => !(deliveryStatuses as readonly string[]).includes(s));
        if (unknown?.length)
          fail(`--status: unknown status ${unknown.join(', ')}: use ${deliveryStatuses.join(', ')}`, 2);
        if (options.cursor !== undefined && !/^[1-9][0-9]{0,15}$/.test(options.cursor))
          fail('--cursor takes a delivery id, as printed as the next cursor', 2);
        await withOperations(command, async (operations) => {
          const page = await operations.listDeliveries({
            limit,
            ...(options.source === undefined ? {} : { source: options.source }),
            ...(options.destination === undefined ? {} : { destination: options.destination }),
            ...(status === undefined ? {} : { status: status as DeliveryStatus[] }),
            ...(options.event === undefined ? {} : { eventId: options.event }),
            ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
          });
          print(
            options.json,
            { deliveries: page.deliveries.map(serializeDelivery), nextCursor: page.nextCursor },
            () => {
              printTable(page.deliveries.map(toRow), [
                'id',
                'event',
                'destination',
                'status',
                'attempts',
                'last_code',
                'next_attempt',
                'last_error',
              ]);
              if (page.nextCursor) process.stdout.write(`next cursor: ${page.nextCursor}\n`);
            },
          );
        });
      },
    );

  deliveries
    .command('show')
    .description('one delivery with its attempts (status code, duration, response excerpt, error)')
    .argument('<id>', 'delivery id')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const deliveryId = parseDeliveryId(id);
      await withOperations(command, async (operations) => {
        const detail = await operations.getDelivery(deliveryId);
        if (!detail) throw new CliFailure(`no delivery with id ${deliveryId}`, exitCodes.failed);
        const shown = serializeDeliveryDetail(detail);
        print(options.json, shown, () => process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`));
      });
    });

  deliveries
    .command('retry')
    .description('retry failed or dead deliveries now, with a fresh attempt budget')
    .argument('[ids...]', 'delivery ids')
    .option('--dead <destination>', 'every dead delivery of SOURCE/NAME instead of ids')
    .option('--json', 'print the retried deliveries as JSON')
    .action(async (ids: string[], options: { dead?: string; json?: boolean }, command: Command) => {
      if ((ids.length === 0) === (options.dead === undefined))
        fail('name delivery ids, or --dead SOURCE/NAME for every dead delivery of a destination', 2);
      const parsed = ids.map(parseDeliveryId);
      const target = options.dead === undefined ? null : parseDestinationArgument(options.dead, undefined);
      await withOperations(command, async (operations) => {
        const toRetry = [...parsed];
        if (target) {
          // Page through the dead ones first, then retry: a retried delivery leaves the filter.
          let cursor: string | undefined;
          for (;;) {
            const page = await operations.listDeliveries({
              source: target[0],
              destination: target[1],
              status: 'dead',
              limit: 500,
              ...(cursor === undefined ? {} : { cursor }),
            });
            toRetry.push(...page.deliveries.map((d) => d.id));
            if (!page.nextCursor) break;
            cursor = page.nextCursor;
          }
        }
        const retried: StoredDelivery[] = [];
        // One refusal (not found, not retryable) does not stop the others: each is said, and the exit is 1.
        const refused: string[] = [];
        for (const id of toRetry) {
          try {
            retried.push(await operations.retryDelivery(id));
          } catch (error) {
            if (!(error instanceof HookboxError) || error.status >= 500) throw error;
            refused.push(error.message);
          }
        }
        print(options.json, retried.map(serializeDelivery), () => {
          for (const d of retried)
            process.stdout.write(
              `retrying delivery ${d.id} (event ${d.eventId} to ${d.source}/${d.destination})\n`,
            );
          if (target && retried.length === 0 && refused.length === 0)
            process.stdout.write(`${target[0]}/${target[1]} has no dead deliveries\n`);
        });
        if (refused.length > 0) {
          for (const message of refused.slice(0, -1)) process.stderr.write(`hookbox: ${message}\n`);
          throw new CliFailure(refused.at(-1)!, exitCodes.failed);
        }
      });
    });

  deliveries
    .command('replay')
    .description('deliver an event again (same body, same webhook-id) to one destination or all')
    .argument('<eventId>')
    .option(
      '--destination <name>',
      "one destination of the event's source (default: every one that takes its type)",
    )
    .option('--json', 'print the deliveries as JSON')
    .action(async (eventId: string, options: { destination?: string; json?: boolean }, command: Command) => {
      if (!/^[0-9A-Za-z_-]{1,64}$/.test(eventId))
        fail(
          '<eventId> is 1-64 letters, digits, "-" or "_" (an event id as `hookbox events list` prints it)',
          2,
        );
      await withOperations(command, async (operations) => {
        const replayed = await operations.replayEvent(
          eventId,
          options.destination === undefined ? {} : { destination: options.destination },
        );
        print(options.json, replayed.map(serializeDelivery), () => {
          for (const d of replayed)
            process.stdout.write(
              `replaying event ${eventId} to ${d.source}/${d.destination} (delivery ${d.id})\n`,
            );
        });
      });
    });
}

function parseDeliveryId(value: string): number {
  const id = Number(value);
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(id))
    fail(`a delivery id is a whole number from 1, not "${value}"`, 2);
  return id;
}

function toRow(delivery: StoredDelivery) {
  const finished = delivery.status === 'succeeded' || delivery.status === 'dead';
  return {
    id: delivery.id,
    event: delivery.eventId,
    destination: `${delivery.source}/${delivery.destination}`,
    status: delivery.status,
    attempts: delivery.attempts,
    last_code: delivery.lastStatusCode,
    next_attempt: finished ? null : new Date(delivery.nextAttemptAt).toISOString(),
    last_error:
      delivery.lastError && delivery.lastError.length > 60
        ? `${delivery.lastError.slice(0, 59)}…`
        : delivery.lastError,
  };
}
