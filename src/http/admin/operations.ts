import type { z } from 'zod';
import type { Access } from './auth.ts';
import { destinationAdminOperations } from './destination-operations.ts';
import {
  blockedKeysQuerySchema,
  bulkRetryBodySchema,
  dataResponseSchema,
  duplicatesQuerySchema,
  emptyQuerySchema,
  eventPathSchema,
  healthReportSchema,
  listEventsQuerySchema,
  monitorActionSchema,
  monitorQuerySchema,
  retryEventBodySchema,
  timeSeriesQuerySchema,
  timeSeriesResponseSchema,
  unblockKeyBodySchema,
} from './schemas.ts';

export interface OperationSpec {
  method: 'get' | 'post' | 'delete';
  /** Hono syntax (`:id`); the OpenAPI document converts it to `{id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: 'monitor' | 'events' | 'maintenance' | 'metrics' | 'destinations';
  access: Access;
  query?: z.ZodType;
  params?: z.ZodType;
  body?: z.ZodType;
  /** The 2xx body; omitted for non-JSON answers (/metrics). */
  response?: z.ZodType;
  responseContentType?: string;
  /** What a 404 means here (default: no event with this id). */
  notFound?: string;
  /** What a 409 means here; omitted when the route has none. */
  conflict?: string;
}

/**
 * Every admin route, once: the router mounts exactly these (routes.ts) with their access level
 * and validation, and the OpenAPI document is generated from them (openapi.ts).
 */
export const adminOperations = {
  getMonitor: {
    method: 'get',
    path: '/api/admin/webhooks/monitor',
    summary: 'Health status, checks and window metrics',
    description:
      'With report=true, also the alerts and recommendations. Cached for 30 s unless refresh=true.',
    tag: 'monitor',
    access: 'read',
    query: monitorQuerySchema,
    response: healthReportSchema,
  },
  runMonitorAction: {
    method: 'post',
    path: '/api/admin/webhooks/monitor',
    summary: 'Run one of the seven monitor actions',
    description:
      'cleanup (olderThanDays), auto-remediate, retry-failed, retry-event (eventId), mark-processed (eventId), delete-event (eventId), find-duplicates.',
    tag: 'monitor',
    access: 'admin',
    body: monitorActionSchema,
    response: dataResponseSchema,
  },
  listEvents: {
    method: 'get',
    path: '/api/admin/events',
    summary: 'List events, newest first, with cursor pagination',
    tag: 'events',
    access: 'read',
    query: listEventsQuerySchema,
    response: dataResponseSchema,
  },
  bulkRetryEvents: {
    method: 'post',
    path: '/api/admin/events/retry',
    summary: 'Requeue every event matching a filter; returns the count',
    tag: 'events',
    access: 'admin',
    body: bulkRetryBodySchema,
    response: dataResponseSchema,
  },
  getEvent: {
    method: 'get',
    path: '/api/admin/events/:id',
    summary: 'One event with its attempts, redacted headers and body',
    tag: 'events',
    access: 'read',
    params: eventPathSchema,
    response: dataResponseSchema,
  },
  retryEvent: {
    method: 'post',
    path: '/api/admin/events/:id/retry',
    summary: 'Requeue one event with a fresh set of attempts',
    tag: 'events',
    access: 'admin',
    params: eventPathSchema,
    body: retryEventBodySchema,
    response: dataResponseSchema,
  },
  deleteEvent: {
    method: 'delete',
    path: '/api/admin/events/:id',
    summary: 'Delete one event and its attempts',
    tag: 'events',
    access: 'admin',
    params: eventPathSchema,
    response: dataResponseSchema,
  },
  getStatistics: {
    method: 'get',
    path: '/api/admin/statistics',
    summary: 'All-time counts by status, provider and type, and the oldest waiting event',
    tag: 'events',
    access: 'read',
    query: emptyQuerySchema,
    response: dataResponseSchema,
  },
  getTimeSeries: {
    method: 'get',
    path: '/api/admin/timeseries',
    summary: 'Events received, processed and failed per minute, and the backlog, over the last hour or day',
    description: 'Per-minute buckets ending with the current minute; the dashboard charts draw from it.',
    tag: 'monitor',
    access: 'read',
    query: timeSeriesQuerySchema,
    response: timeSeriesResponseSchema,
  },
  getDuplicates: {
    method: 'get',
    path: '/api/admin/duplicates',
    summary: 'Events delivered more than once, and bodies stored under several ids',
    description: 'The find-duplicates action as a read: open to read-only tokens.',
    tag: 'events',
    access: 'read',
    query: duplicatesQuerySchema,
    response: dataResponseSchema,
  },
  listBlockedKeys: {
    method: 'get',
    path: '/api/admin/ordering/blocked-keys',
    summary: 'Ordering keys blocked by a dead head, with the head and how many events wait behind it',
    description: 'Longest blocked first (docs/ordering.md).',
    tag: 'events',
    access: 'read',
    query: blockedKeysQuerySchema,
    response: dataResponseSchema,
  },
  unblockKey: {
    method: 'post',
    path: '/api/admin/ordering/blocked-keys/unblock',
    summary: 'Unblock an ordering key: retry its dead head or skip it',
    description: 'Answers unblocked: false (and changes nothing) when the key has no blocking dead head.',
    tag: 'events',
    access: 'admin',
    body: unblockKeyBodySchema,
    response: dataResponseSchema,
  },
  getOpenApi: {
    method: 'get',
    path: '/api/admin/openapi.json',
    summary: 'This document',
    tag: 'monitor',
    access: 'read',
    query: emptyQuerySchema,
  },
  runMaintenance: {
    method: 'post',
    path: '/api/cron/webhook-maintenance',
    summary: 'Run maintenance now (cleanup per retention and auto-remediation)',
    description: 'For external schedulers: accepts ADMIN_TOKEN or CRON_SECRET. Dead events are left alone.',
    tag: 'maintenance',
    access: 'cron',
    query: emptyQuerySchema,
    response: dataResponseSchema,
  },
  getMetrics: {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    description: 'Any admin token, or none when METRICS_PUBLIC=true.',
    tag: 'metrics',
    access: 'read',
    query: emptyQuerySchema,
    responseContentType: 'text/plain; version=0.0.4',
  },
  // destinations: (issue 14) destination-operations.ts
  ...destinationAdminOperations,
} as const satisfies Record<string, OperationSpec>;

export type OperationId = keyof typeof adminOperations;
