import { z } from 'zod';
import { adminOperations, type OperationSpec } from './operations.ts';
import { errorResponseSchema } from './schemas.ts';

type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, Record<string, unknown>>;
  required?: string[];
};

/** A zod schema as a JSON Schema 2020-12 object (the dialect OpenAPI 3.1 uses), describing input. */
function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  return json;
}

function unwrapOptional(schema: z.ZodType): { schema: z.ZodType; required: boolean } {
  return schema instanceof z.ZodOptional
    ? { schema: schema.unwrap() as z.ZodType, required: false }
    : { schema, required: true };
}

function parametersOf(schema: z.ZodType | undefined, location: 'query' | 'path') {
  if (!schema) return [];
  const json = toJsonSchema(schema, 'input');
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || (json.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function operationObject(operationId: string, spec: OperationSpec) {
  const responses: Record<string, unknown> = {
    '200': spec.response
      ? {
          description: 'OK',
          content: { 'application/json': { schema: toJsonSchema(spec.response, 'output') } },
        }
      : {
          description: 'OK',
          content: { [spec.responseContentType ?? 'application/json']: { schema: { type: 'string' } } },
        },
  };
  if (spec.query || spec.params || spec.body)
    responses['400'] = errorRef('Invalid input: details names each field.');
  responses['401'] = errorRef('No valid bearer token.');
  if (spec.access !== 'read')
    responses['403'] = errorRef('The token may not run this action (read-only token).');
  if (spec.params) responses['404'] = errorRef(spec.notFound ?? 'No event with this id.');
  if (spec.conflict) responses['409'] = errorRef(spec.conflict);
  const operation: Record<string, unknown> = {
    operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    security: [{ bearerAuth: [] }],
    parameters: [...parametersOf(spec.params, 'path'), ...parametersOf(spec.query, 'query')],
    responses,
  };
  if (spec.body) {
    const { schema, required } = unwrapOptional(spec.body);
    operation.requestBody = {
      required,
      content: { 'application/json': { schema: toJsonSchema(schema, 'input') } },
    };
  }
  return operation;
}

/** The OpenAPI 3.1 document of the admin API, generated from the schemas the routes validate with. */
export function buildOpenApiDocument(options: { version?: string } = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, spec] of Object.entries(adminOperations) as [string, OperationSpec][]) {
    const path = spec.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][spec.method] = operationObject(operationId, spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hookbox admin API',
      version: options.version ?? '0.1.0',
      description:
        'Monitor and act on the webhook inbox. Authenticate with "Authorization: Bearer <token>": ADMIN_TOKEN for everything, a read-only token (ADMIN_READONLY_TOKENS) for GET routes.',
    },
    tags: [
      { name: 'monitor', description: 'Health, metrics, alerts and monitor actions' },
      { name: 'events', description: 'Stored events' },
      { name: 'maintenance', description: 'Scheduled maintenance' },
      { name: 'metrics', description: 'Prometheus' },
      { name: 'destinations', description: 'Destinations and their deliveries' },
    ],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: toJsonSchema(errorResponseSchema, 'output') },
    },
    paths,
  };
}
