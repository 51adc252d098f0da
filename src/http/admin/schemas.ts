import { z } from 'zod';
import { alertSeverities, alertTypes, checkNames } from '../../monitor/health-checks.ts';
import { eventStatuses } from '../../store/types.ts';
import { isTimeInRange, timeRangeMessage } from './validation.ts';

/**
 * Admin API input schemas. The routes validate with them and the OpenAPI document is generated
 * from them (openapi.ts), so the two cannot drift.
 */

export const eventIdSchema = z
  .string()
  .regex(/^[0-9A-Za-z_-]{1,64}$/, 'an event id is 1-64 letters, digits, "-" or "_"')
  .meta({ description: 'Event id (a ULID).', example: '01KC4Z7QW5X8J9R2T6Y3M0N1PA' });

const sourceNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/, 'a source name is 1-64 letters, digits, "-" or "_"');

const flagSchema = z
  .enum(['true', 'false', '1', '0'], { error: 'use true or false' })
  .transform((value) => value === 'true' || value === '1');

/** A whole number from a query string, with one message naming the field and its range. */
function wholeNumberQuery(field: string, min: number, max: number, unit = '') {
  const message = `${field} is a whole number${unit} from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int(message).min(min, message).max(max, message);
}

/** ISO 8601 or epoch milliseconds, as query strings arrive, within the years 1970 to 9999. */
const timeSchema = z
  .string()
  .transform((value, ctx) => {
    const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({
        code: 'custom',
        message: 'use an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds',
      });
      return z.NEVER;
    }
    if (!isTimeInRange(ms)) {
      ctx.addIssue({ code: 'custom', message: `use ${timeRangeMessage}` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: 'ISO 8601 time or epoch milliseconds.', example: '2026-01-31T12:00:00Z' });

/** A time in a JSON body: ISO 8601 with an offset, or epoch milliseconds, within the years 1970 to 9999. */
const bodyTimeSchema = z
  .union([z.iso.datetime({ offset: true }), z.number().int()])
  .refine((value) => isTimeInRange(typeof value === 'number' ? value : Date.parse(value)), {
    message: `use ${timeRangeMessage}`,
  });

const statusListSchema = z
  .string()
  .transform((value, ctx) => {
    const list = value.split(',').map((s) => s.trim());
    const unknown = list.filter((s) => !(eventStatuses as readonly string[]).includes(s));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown status ${unknown.join(', ')}: use ${eventStatuses.join(', ')}`,
      });
      return z.NEVER;
    }
    return list as (typeof eventStatuses)[number][];
  })
  .meta({ description: `Comma-separated statuses: ${eventStatuses.join(', ')}.`, example: 'failed,dead' });

export const monitorQuerySchema = z.strictObject({
  timeWindow: wholeNumberQuery('timeWindow', 1, 10_080, ' of minutes')
    .optional()
    .meta({ description: 'Window of the metrics in minutes (default 60).', example: 60 }),
  report: flagSchema.optional().meta({ description: 'Add alerts and recommendations.' }),
  refresh: flagSchema.optional().meta({ description: 'Bypass the health cache (default 30 s).' }),
});

export const monitorActionSchema = z.discriminatedUnion(
  'action',
  [
    z.strictObject({
      action: z.literal('cleanup'),
      params: z
        .strictObject({
          olderThanDays: z
            .number({ error: 'olderThanDays is a whole number of days' })
            .int('olderThanDays is a whole number of days')
            .min(1, 'olderThanDays is at least 1')
            .max(36_500)
            .optional()
            .meta({
              description:
                'Delete processed events older than this (default: the retention, RETENTION_DAYS).',
            }),
        })
        .optional(),
    }),
    z.strictObject({
      action: z.literal('auto-remediate'),
      params: z
        .strictObject({
          includeDead: z
            .boolean()
            .optional()
            .meta({ description: 'Also requeue dead events (default false).' }),
          stuckAfterMinutes: z
            .number({ error: 'stuckAfterMinutes is a number of minutes from 1 to 525600 (a year)' })
            .min(1, 'stuckAfterMinutes is a number of minutes from 1 to 525600 (a year)')
            .max(525_600, 'stuckAfterMinutes is a number of minutes from 1 to 525600 (a year)')
            .optional()
            .meta({
              description:
                'Requeue events processing for longer than this (default: STUCK_AFTER_MINUTES, 30).',
            }),
        })
        .optional(),
    }),
    z.strictObject({
      action: z.literal('retry-failed'),
      params: z
        .strictObject({
          source: sourceNameSchema.optional(),
          includeDead: z
            .boolean()
            .optional()
            .meta({ description: 'Also requeue dead events (default false).' }),
        })
        .optional(),
    }),
    z.strictObject({
      action: z.literal('retry-event'),
      params: z.strictObject({
        eventId: eventIdSchema,
        force: z.boolean().optional().meta({ description: 'Replay an event already processed.' }),
      }),
    }),
    z.strictObject({
      action: z.literal('mark-processed'),
      params: z.strictObject({ eventId: eventIdSchema }),
    }),
    z.strictObject({ action: z.literal('delete-event'), params: z.strictObject({ eventId: eventIdSchema }) }),
    z.strictObject({
      action: z.literal('find-duplicates'),
      params: z.strictObject({ limit: z.number().int().min(1).max(1000).optional() }).optional(),
    }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? 'action is one of cleanup, auto-remediate, retry-failed, retry-event, mark-processed, delete-event, find-duplicates'
        : undefined,
  },
);
export type MonitorAction = z.output<typeof monitorActionSchema>;

export const listEventsQuerySchema = z.strictObject({
  source: sourceNameSchema.optional(),
  provider: z.string().min(1).max(64).optional(),
  status: statusListSchema.optional(),
  type: z.string().min(1).max(256).optional().meta({ description: 'Event type.' }),
  since: timeSchema.optional().meta({ description: 'Received at or after.' }),
  until: timeSchema.optional().meta({ description: 'Received before.' }),
  search: z.string().min(1).max(256).optional().meta({ description: 'An event id or dedupe key, exactly.' }),
  limit: wholeNumberQuery('limit', 1, 1000).optional().meta({ description: 'Page size (default 50).' }),
  cursor: eventIdSchema.optional().meta({ description: 'nextCursor of the previous page.' }),
});

export const eventPathSchema = z.strictObject({ id: eventIdSchema });

export const retryEventBodySchema = z
  .strictObject({ force: z.boolean().optional().meta({ description: 'Replay an event already processed.' }) })
  .optional();

/** Bulk retry: never processing events (a worker holds them) and, by default, only failed ones. */
export const bulkRetryBodySchema = z.strictObject({
  status: z
    .array(z.enum(['failed', 'dead', 'ignored'], { error: 'status entries are failed, dead or ignored' }))
    .min(1)
    .default(['failed'])
    .meta({ description: 'Statuses to requeue (default ["failed"]).' }),
  source: sourceNameSchema.optional(),
  provider: z.string().min(1).max(64).optional(),
  type: z.string().min(1).max(256).optional(),
  since: bodyTimeSchema.optional(),
  until: bodyTimeSchema.optional(),
});

export const emptyQuerySchema = z.strictObject({});

// ---- Ordering (docs/ordering.md) ----
export const blockedKeysQuerySchema = z.strictObject({
  limit: wholeNumberQuery('limit', 1, 1000, '')
    .optional()
    .meta({ description: 'At most this many keys (default 100).', example: 100 }),
});

export const unblockKeyBodySchema = z.strictObject({
  source: z.string().min(1).meta({ description: 'The source the key belongs to.', example: 'stripe' }),
  key: z.string().min(1).meta({ description: 'The ordering key, as listed.', example: 'sub_1MqLs2' }),
  action: z
    .enum(['retry', 'skip'], {
      error:
        'action is "retry" (run the dead head again, first) or "skip" (leave it dead; the next event runs)',
    })
    .meta({
      description: 'retry: the dead head runs again, first. skip: it stays dead and the key goes on.',
    }),
});

/** The dashboard's charts: per-minute buckets over the last `window` minutes. */
export const timeSeriesQuerySchema = z.strictObject({
  window: wholeNumberQuery('window', 1, 1440, ' of minutes').optional().meta({
    description: 'Minutes, one bucket each, ending with the current minute (default 60; 1440 for a day).',
    example: 60,
  }),
});

export const duplicatesQuerySchema = z.strictObject({
  limit: wholeNumberQuery('limit', 1, 1000)
    .optional()
    .meta({ description: 'Most groups and most redelivered events (default 100).' }),
});

// ---- responses (documentation only: the handlers build them) ----

export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z
      .array(z.object({ in: z.enum(['query', 'body', 'path']), path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'For invalid_input: one entry per invalid field.' }),
  }),
});

const durationSchema = z.object({
  average: z.number(),
  p50: z.number(),
  p95: z.number(),
  p99: z.number(),
  samples: z.number(),
});

const checkSchema = z.object({
  passed: z.boolean(),
  value: z.number(),
  threshold: z.number(),
  bound: z.enum(['max', 'min']),
  unit: z.string(),
  message: z.string(),
});

export const healthReportSchema = z.object({
  success: z.literal(true),
  data: z.object({
    healthy: z.boolean(),
    status: z.enum(['HEALTHY', 'DEGRADED', 'CRITICAL']),
    checks: z.object(Object.fromEntries(checkNames.map((name) => [name, checkSchema]))),
    metrics: z.object({
      window: z.object({ minutes: z.number(), since: z.string(), until: z.string() }),
      total: z.number(),
      processed: z.number(),
      failed: z.number(),
      dead: z.number(),
      pending: z.number(),
      processing: z.number(),
      ignored: z.number(),
      delivering: z.number(),
      byStatus: z.record(z.string(), z.number()),
      successRate: z.number(),
      averageAttempts: z.number(),
      byProvider: z.record(z.string(), z.number()),
      byType: z.record(z.string(), z.number()),
      handlerDurationMs: durationSchema,
      processingLatencyMs: durationSchema,
      failedAttempts: z.number(),
      backlog: z.number(),
      oldestPending: z
        .object({
          id: z.string(),
          source: z.string(),
          eventType: z.string(),
          receivedAt: z.string(),
          ageMinutes: z.number(),
        })
        .nullable(),
      oldestPendingAgeMinutes: z.number(),
      duplicateDeliveries: z.number(),
      rejected: z.object({
        total: z.number(),
        byReason: z.record(z.string(), z.number()),
        bySource: z.record(z.string(), z.number()),
      }),
    }),
    timestamp: z.string(),
    circuitBreakers: z
      .array(
        z.object({
          handler: z
            .string()
            .meta({ description: 'The handler registration, source:eventType (either may be *).' }),
          state: z.enum(['closed', 'open', 'half_open']),
          consecutiveFailures: z.number(),
          openedAt: z.string().nullable(),
          retryAt: z.string().nullable().meta({ description: 'While open: when one trial event may run.' }),
          timesOpened: z.number(),
          lastError: z.string().nullable(),
        }),
      )
      .meta({ description: "This process's per-handler circuit breakers that have seen a failure." }),
    alerts: z
      .array(
        z.object({
          type: z.enum(alertTypes),
          severity: z.enum(alertSeverities),
          check: z.enum(checkNames),
          message: z.string(),
          action: z.string(),
          value: z.number(),
          threshold: z.number(),
        }),
      )
      .optional()
      .meta({ description: 'Only with report=true.' }),
    recommendations: z.array(z.string()).optional().meta({ description: 'Only with report=true.' }),
  }),
});

export const dataResponseSchema = z.object({ success: z.literal(true), data: z.unknown() });

export const timeSeriesResponseSchema = z.object({
  success: z.literal(true),
  data: z.object({
    window: z.object({ minutes: z.number(), since: z.string(), until: z.string() }),
    bucketMs: z
      .number()
      .meta({ description: 'Bucket i covers [since + i * bucketMs, since + (i + 1) * bucketMs).' }),
    received: z.array(z.number()).meta({ description: 'Events received per bucket.' }),
    processed: z.array(z.number()).meta({ description: 'Attempts that processed their event per bucket.' }),
    failed: z
      .array(z.number())
      .meta({ description: 'Attempts that failed or killed their event per bucket.' }),
    backlog: z
      .array(z.number())
      .meta({ description: 'Events waiting at the end of each bucket (reconstructed).' }),
  }),
});
