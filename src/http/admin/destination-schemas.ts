import { z } from 'zod';
import { deliveryStatuses } from '../../store/types.ts';
import { eventIdSchema } from './schemas.ts';

/**
 * Admin API input schemas of the destination routes (issue 14). Like schemas.ts: the routes
 * validate with them and the OpenAPI document is generated from them.
 */

const sourceName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/, 'a source name is 1-64 letters, digits, "-" or "_"');
const destinationName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a destination name is 1-64 letters, digits, "-" or "_"');

const deliveryIdMessage = 'a delivery id is a whole number from 1';
const deliveryId = z.coerce
  .number({ error: deliveryIdMessage })
  .int(deliveryIdMessage)
  .min(1, deliveryIdMessage)
  .max(Number.MAX_SAFE_INTEGER, deliveryIdMessage)
  .meta({ description: 'Delivery id.', example: 42 });

const deliveryStatusList = z
  .string()
  .transform((value, ctx) => {
    const list = value.split(',').map((s) => s.trim());
    const unknown = list.filter((s) => !(deliveryStatuses as readonly string[]).includes(s));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown delivery status ${unknown.join(', ')}: use ${deliveryStatuses.join(', ')}`,
      });
      return z.NEVER;
    }
    return list as (typeof deliveryStatuses)[number][];
  })
  .meta({ description: `Comma-separated statuses: ${deliveryStatuses.join(', ')}.`, example: 'failed,dead' });

export const listDestinationsQuerySchema = z.strictObject({
  windowMinutes: z.coerce
    .number({ error: 'windowMinutes is a whole number of minutes from 1 to 10080' })
    .int('windowMinutes is a whole number of minutes from 1 to 10080')
    .min(1, 'windowMinutes is a whole number of minutes from 1 to 10080')
    .max(10_080, 'windowMinutes is a whole number of minutes from 1 to 10080')
    .optional()
    .meta({ description: 'The window of recentAttempts and recentSuccessRate (default 60).' }),
});

export const destinationPathSchema = z.strictObject({ source: sourceName, name: destinationName });

export const pauseDestinationBodySchema = z
  .strictObject({
    reason: z
      .string()
      .min(1)
      .max(500, 'reason is at most 500 characters')
      .optional()
      .meta({ description: 'Shown as stateReason (default "paused by an operator").' }),
  })
  .optional();

export const listDeliveriesQuerySchema = z.strictObject({
  source: sourceName.optional(),
  destination: destinationName.optional().meta({ description: 'Destination name (within its source).' }),
  status: deliveryStatusList.optional(),
  eventId: eventIdSchema.optional(),
  limit: z.coerce
    .number({ error: 'limit is a whole number from 1 to 500' })
    .int('limit is a whole number from 1 to 500')
    .min(1, 'limit is a whole number from 1 to 500')
    .max(500, 'limit is a whole number from 1 to 500')
    .optional()
    .meta({ description: 'Page size (default 50).' }),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'cursor is the nextCursor of the previous page')
    .optional()
    .meta({ description: 'nextCursor of the previous page.' }),
});

export const deliveryPathSchema = z.strictObject({ id: deliveryId });

export const replayEventBodySchema = z
  .strictObject({
    destination: destinationName
      .optional()
      .meta({ description: "One destination of the event's source; absent: every one that takes its type." }),
  })
  .optional();
