import type { Command } from 'commander';
import { resolveSources } from '../config/sources.ts';
import { serializeEventDetail, serializeEventSummary } from '../http/admin/serialize.ts';
import { createSourceRedaction } from '../redaction.ts';
import { type EventStatus, type EventSummary, eventStatuses } from '../store/types.ts';
import { fail, loadCliConfig, openCliStore, parseTimeOption, printTable } from './shared.ts';

interface ListOptions {
  source?: string;
  provider?: string;
  status?: string;
  type?: string;
  since?: string;
  until?: string;
  limit: string;
  cursor?: string;
  json?: boolean;
}

/** The admin API's event id rule: a cursor is the last id of the previous page. */
const eventIdPattern = /^[0-9A-Za-z_-]{1,64}$/;

export function registerEventsCommand(program: Command): void {
  const events = program.command('events').description('inspect and act on stored events');

  events
    .command('list')
    .description('list events, newest first')
    .option('--source <name>')
    .option('--provider <name>')
    .option('--status <status>', `one of ${eventStatuses.join(', ')} (comma-separated for several)`)
    .option('--type <type>', 'event type')
    .option('--since <time>', 'received at or after (ISO 8601, unix seconds, or an age like 24h)')
    .option('--until <time>', 'received before')
    .option('--limit <n>', 'how many', '50')
    .option('--cursor <id>', 'continue after this event id (printed as the next cursor)')
    .option('--json', 'print one JSON array')
    .action(async (options: ListOptions, command: Command) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        fail('--limit takes a whole number from 1 to 1000', 2);
      const status = options.status?.split(',').map((s) => s.trim());
      const unknown = status?.filter((s) => !eventStatuses.includes(s as EventStatus));
      if (unknown?.length) fail(`unknown status ${unknown.join(', ')}: use ${eventStatuses.join(', ')}`, 2);
      if (options.cursor !== undefined && !eventIdPattern.test(options.cursor))
        fail(
          '--cursor takes an event id (1-64 letters, digits, "-" or "_"), as printed as the next cursor',
          2,
        );
      const since = parseTimeOption('--since', options.since);
      const until = parseTimeOption('--until', options.until);
      const store = await openCliStore(command);
      try {
        const page = await store.listEvents({
          limit,
          cursor: options.cursor,
          source: options.source,
          provider: options.provider,
          status: status as EventStatus[] | undefined,
          eventType: options.type,
          since,
          until,
        });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(page.events.map(serializeEventSummary))}\n`);
          return;
        }
        printTable(page.events.map(toRow), [
          'id',
          'source',
          'type',
          'status',
          'attempts',
          'deliveries',
          'received',
          'dedupe_key',
        ]);
        if (page.nextCursor) process.stdout.write(`next cursor: ${page.nextCursor}\n`);
      } finally {
        await store.close();
      }
    });

  events
    .command('show')
    .description('one event with its attempts, headers and body')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const config = await loadCliConfig(command);
      // The same Redaction as the server's, so the configured signature headers are masked too.
      const redaction = createSourceRedaction(config.redaction, resolveSources(config.sources).values());
      const store = await openCliStore(command);
      try {
        const event = await store.getEvent(id);
        if (!event) fail(`no event with id ${id}`);
        const attempts = await store.listAttempts(id);
        // The same view as the admin API: signature and credential headers masked.
        const shown = serializeEventDetail(event, attempts, redaction);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(shown)}\n`);
          return;
        }
        process.stdout.write(
          `${JSON.stringify({ ...shown, body: undefined }, null, 2)}\n\nbody:\n${prettyBody(event.body)}\n`,
        );
      } finally {
        await store.close();
      }
    });

  events
    .command('retry')
    .description('put an event back in the queue (a dead one gets a fresh set of attempts)')
    .argument('<id>')
    .action(async (id: string, _options: unknown, command: Command) => {
      const store = await openCliStore(command);
      try {
        const event = await store.getEvent(id);
        if (!event) fail(`no event with id ${id}`);
        if (event.status === 'processing')
          fail(`event ${id} is being processed by ${event.lockedBy}; try again later`);
        const count = await store.requeueEvents({ ids: [id] });
        process.stdout.write(
          count === 1 ? `requeued ${id} (was ${event.status})\n` : `event ${id} was not requeued\n`,
        );
      } finally {
        await store.close();
      }
    });
}

function toRow(event: EventSummary) {
  return {
    id: event.id,
    source: event.source,
    type: event.eventType,
    status: event.status,
    attempts: event.attempts,
    deliveries: event.deliveryCount,
    received: new Date(event.receivedAt).toISOString(),
    dedupe_key: event.dedupeKey,
  };
}

function prettyBody(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
