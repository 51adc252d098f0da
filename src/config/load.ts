import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import type { HookboxOptions } from '../hookbox.ts';
import { rateLimitSettingsSchema } from '../ingest/rate-limit.ts';
import { type MonitorConfigFile, type MonitorSettings, resolveMonitorSettings } from '../monitor/config.ts';
import type { DestinationDefinition } from '../public-types.ts';
import { parseDatabaseUrl } from '../store/open-store.ts';
import type { Handler } from '../worker/handler-registry.ts';
import { type DemoSettings, ensureDemo, readDemoSecret } from './demo.ts';
import { type ConfigFormat, configFileNames, readConfigFile } from './file-formats.ts';
import { ConfigError, describeProblems, findNearest } from './problems.ts';
import { resolveSources, type SourceDefinition } from './sources.ts';

export { demoSecretFile } from './demo.ts';

export interface DeliverySettings {
  /** How long a claim holds a delivery (renewed while the attempt runs); default 30000. */
  leaseMs?: number;
  /** How often due retries are looked for when no wake-up came; default 1000. */
  pollIntervalMs?: number;
}

/** What `hookbox.config.ts` default-exports, or a JSON/YAML config holds (see docs/configuration.md). */
export interface HookboxConfigFile {
  database?: string;
  sources?: Record<string, SourceDefinition>;
  /** Only in a module (.ts, .mjs, .js): JSON and YAML cannot hold functions. */
  handlers?: Record<string, Record<string, Handler>>;
  server?: Partial<ServerSettings>;
  worker?: HookboxOptions['worker'];
  retry?: HookboxOptions['retry'];
  /** The delivery worker's lease and poll interval (docs/destinations.md); destinations themselves are per source. */
  delivery?: DeliverySettings;
  /** Where rate-limit counters live (the limits themselves are per source). */
  rateLimit?: HookboxOptions['rateLimit'];
  admin?: { token?: string; readOnlyTokens?: string[] };
  /** Health thresholds, alert sinks, maintenance schedule, /metrics (docs/operations.md). */
  monitor?: MonitorConfigFile;
  logLevel?: string;
  /** Per-handler circuit breakers; false turns them off (docs/reliability.md). */
  circuitBreaker?: HookboxOptions['circuitBreaker'];
  /** Headers never stored, JSON paths masked in logs and opted-in stored bodies (docs/reliability.md). */
  redaction?: HookboxOptions['redaction'];
}

export interface ServerSettings {
  port: number;
  host: string;
  /** Time allowed to receive all request headers. */
  headersTimeoutMs: number;
  /** Time allowed for a whole request, body included (slow bodies are cut off). */
  requestTimeoutMs: number;
  /** Idle keep-alive connections close after this. */
  keepAliveTimeoutMs: number;
}

/** The validated, frozen configuration the server runs with. */
export interface ResolvedConfig {
  databaseUrl: string | undefined;
  sources: Record<string, SourceDefinition>;
  handlers: Record<string, Record<string, Handler>>;
  server: ServerSettings;
  worker: HookboxOptions['worker'];
  retry: HookboxOptions['retry'];
  delivery: DeliverySettings | undefined;
  rateLimit: HookboxOptions['rateLimit'];
  admin: { token?: string; readOnlyTokens: string[] };
  monitor: MonitorSettings;
  logLevel: string;
  circuitBreaker: HookboxOptions['circuitBreaker'];
  redaction: HookboxOptions['redaction'];
  prettyLogs: boolean;
  /** Set by `serve --demo`: a Stripe source with a generated secret, and a dashboard token. */
  demo: DemoSettings | null;
  configFile: string | null;
}

/** Identity helper that types a config file. */
export function defineConfig(config: HookboxConfigFile): HookboxConfigFile {
  return config;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const portHint = 'use a whole number from 0 to 65535 (0 picks a free port)';
// A string of digits too: `${PORT}` in a JSON or YAML file substitutes a string.
const portSchema = z
  .union(
    [
      z.int(),
      z
        .string()
        .regex(/^\d{1,5}$/)
        .transform(Number),
    ],
    { error: portHint },
  )
  .pipe(z.number().min(0, portHint).max(65535, portHint));
const hostSchema = z.string().min(1, 'must not be empty: an address such as 127.0.0.1 or 0.0.0.0');
const serverSchema = z.strictObject({
  port: portSchema.default(3000),
  host: hostSchema.default('127.0.0.1'),
  headersTimeoutMs: z.int().positive().default(10_000),
  requestTimeoutMs: z.int().positive().default(30_000),
  keepAliveTimeoutMs: z.int().positive().default(5_000),
});
const adminToken = z.string().min(16, 'use at least 16 characters');

const fileSchema = z.strictObject({
  database: z.string().min(1).optional(),
  // Each source is checked key by key in resolveSources, against its provider's settings.
  sources: z.record(z.string(), z.unknown()).optional(),
  handlers: z.record(z.string(), z.record(z.string(), z.function())).optional(),
  server: serverSchema.optional(),
  worker: z
    .strictObject({
      enabled: z.boolean(),
      leaseMs: z.int().positive(),
      batchSize: z.int().min(1).max(1000),
      concurrency: z.int().min(1).max(10_000),
      pollIntervalMs: z.int().positive(),
      handlerTimeoutMs: z.int().positive(),
      workerId: z.string().min(1),
    })
    .partial()
    .optional(),
  delivery: z
    .strictObject({ leaseMs: z.int().min(100), pollIntervalMs: z.int().positive() })
    .partial()
    .optional(),
  retry: z
    .strictObject({
      maxAttempts: z.int().min(1).max(100),
      baseDelayMs: z.int().min(0),
      maxDelayMs: z.int().min(0),
    })
    .partial()
    .optional(),
  admin: z
    .strictObject({ token: adminToken.optional(), readOnlyTokens: z.array(adminToken).optional() })
    .optional(),
  rateLimit: rateLimitSettingsSchema.optional(),
  logLevel: z.enum(logLevels).optional(),
  // Validated in full by resolveMonitorSettings, which names env variables in its problems.
  monitor: z.unknown().optional(),
  circuitBreaker: z
    .union([
      z.literal(false),
      z
        .strictObject({
          failureThreshold: z.int().min(1),
          cooldownMs: z.int().min(0),
          trialWaitMs: z.int().min(0),
        })
        .partial(),
    ])
    .optional(),
  redaction: z
    .strictObject({
      headers: z.array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'use an HTTP header name')),
      jsonPaths: z.array(
        z.string().regex(/^[^.]+(\.[^.]+)*$/, 'use dot-separated keys, e.g. data.object.card.number'),
      ),
      storedBodySources: z.array(z.string().min(1)),
    })
    .partial()
    .optional(),
});
type ParsedFile = z.output<typeof fileSchema>;

export interface LoadConfigOptions {
  /** The folder to look for hookbox.config.* and ./data in. */
  cwd?: string;
  /** An explicit config file path. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line flags, which win over the environment and the file; problems name the flag. */
  flags?: { port?: string; host?: string };
  /** `serve --demo`: run a generated Stripe source and the dashboard (refused beside configured sources). */
  demo?: boolean;
  /** `serve`: without a source (and without --demo) there is nothing to receive, so refuse. */
  requireSource?: boolean;
}

/**
 * Load the config file and the environment, validate everything once, report every problem at
 * once (ConfigError), then freeze. The only reader of process.env.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const problems: string[] = [];

  const configFile = findConfigFile(cwd, options.configFile, problems);
  let file: ParsedFile = {};
  let fileReadable = true;
  // A value whose ${VAR} is unset is reported once, not again by every check that it fails.
  let unresolved: string[] = [];
  let readProblems: string[] = [];
  if (configFile) {
    const read = await readConfigFile(configFile, env).catch((error: Error) => {
      throw new ConfigError([error.message]);
    });
    fileReadable = read.value !== undefined;
    unresolved = read.unresolved;
    readProblems = read.problems;
    const shaped = checkFileShape(configFile, read.format, read.value);
    problems.push(...read.problems, ...shaped.problems);
    const parsed = fileSchema.safeParse(shaped.value);
    if (parsed.success) file = parsed.data;
    else {
      problems.push(...describeProblems('', parsed.error, { schema: fileSchema }));
      // Keep going with the sections checked on their own (sources, monitor), so every problem is listed at once.
      file = { sources: sectionOf(shaped.value, 'sources'), monitor: sectionOf(shaped.value, 'monitor') };
    }
  }

  const { sources: envSources, origins } = sourcesFromEnv(env);
  const fileSources = (file.sources ?? {}) as Record<string, SourceDefinition>;
  const sources = { ...envSources, ...fileSources };
  // Destinations: one destination from HOOKBOX_DESTINATION_* joins a source (docs/configuration.md).
  const destinationOrigins = addDestinationFromEnv(env, sources, problems);
  const envOrigin = (source: string, path: string) =>
    destinationOrigins.get(`${source}.${path}`) ??
    (Object.hasOwn(fileSources, source) ? undefined : origins.get(`${source}.${path.split('.')[0]}`));

  const port = readSetting(problems, portSchema, [options.flags?.port, '--port'], [env.PORT, 'PORT']);
  const host = readSetting(problems, hostSchema, [options.flags?.host, '--host'], [env.HOST, 'HOST']);
  const server = {
    ...(file.server ?? serverSchema.parse({})),
    ...(port === undefined ? {} : { port }),
    ...(host === undefined ? {} : { host }),
  };

  const envLogLevel = env.LOG_LEVEL || undefined;
  if (envLogLevel !== undefined && !(logLevels as readonly string[]).includes(envLogLevel)) {
    const nearest = findNearest(envLogLevel, logLevels);
    problems.push(
      `LOG_LEVEL: "${envLogLevel}" is not a level${nearest ? ` (did you mean ${nearest}?)` : ''}: use ${logLevels.join(', ')}`,
    );
  }
  if (env.LOG_FORMAT && env.LOG_FORMAT !== 'json' && env.LOG_FORMAT !== 'pretty') {
    problems.push(`LOG_FORMAT: use json or pretty, not "${env.LOG_FORMAT}" (unset: pretty on a terminal)`);
  }

  const token = readSetting(problems, adminToken, [env.ADMIN_TOKEN, 'ADMIN_TOKEN']) ?? file.admin?.token;
  const envReadOnly = (env.ADMIN_READONLY_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (envReadOnly.some((t) => t.length < 16))
    problems.push('ADMIN_READONLY_TOKENS: use at least 16 characters for each token');
  const readOnlyTokens = [...envReadOnly, ...(file.admin?.readOnlyTokens ?? [])];
  const monitor = resolveMonitorSettings(file.monitor, env);
  problems.push(...monitor.problems);

  const databaseUrl = env.DATABASE_URL || file.database || undefined;
  const databaseName = env.DATABASE_URL ? 'DATABASE_URL' : 'database';
  try {
    const location = parseDatabaseUrl(databaseUrl);
    // The rule the PostgreSQL store enforces when it opens, checked here so it is a config problem.
    if (
      location.engine === 'postgres' &&
      location.schema !== undefined &&
      !/^[a-z_][a-z0-9_]{0,47}$/.test(location.schema)
    ) {
      problems.push(
        `${databaseName}: ?schema=${location.schema} is not a schema name Hookbox uses: 1-48 lower-case letters, digits or underscores, starting with a letter or underscore`,
      );
    }
  } catch (error) {
    problems.push(`${databaseName}: ${(error as Error).message}`);
  }
  if (
    file.rateLimit?.store === 'postgres' &&
    file.rateLimit.databaseUrl === undefined &&
    !/^postgres(ql)?:\/\//.test(databaseUrl ?? '')
  ) {
    problems.push(
      "rateLimit.store: 'postgres' needs DATABASE_URL to be PostgreSQL, or rateLimit.databaseUrl",
    );
  }
  try {
    resolveSources(sources, { nameOf: envOrigin });
  } catch (error) {
    problems.push(...(error instanceof ConfigError ? error.problems : [(error as Error).message]));
  }

  const configured = Object.keys(sources);
  if (options.demo && configured.length > 0) {
    problems.push(
      `--demo runs only a generated Stripe source, but sources are configured (${configured.join(', ')}): drop --demo to serve them`,
    );
  } else if (options.requireSource && !options.demo && configured.length === 0 && fileReadable) {
    problems.push(
      `no source is configured, so there is nothing to receive: add one to ${configFile ? basename(configFile) : 'hookbox.config.ts (or .json, .yaml)'} or set STRIPE_WEBHOOK_SECRET=whsec_... (docs/configuration.md), or run \`hookbox serve --demo\` to try Hookbox with a generated Stripe secret`,
    );
  }
  const shadowed = (line: string) =>
    !readProblems.includes(line) && unresolved.some((path) => line.startsWith(`${path}:`));
  const reported = problems.filter((line) => !shadowed(line));
  if (reported.length > 0) throw new ConfigError(reported);

  let demo: DemoSettings | null = null;
  let admin = { token, readOnlyTokens };
  if (options.demo) {
    demo = ensureDemo(cwd, token);
    sources.stripe = { provider: 'stripe', secrets: [demo.secret] };
    admin = { token: demo.adminToken, readOnlyTokens };
  } else if (configured.length === 0) {
    // `hookbox send stripe` (and the rest) in a folder where `serve --demo` ran: the demo's source.
    const secret = readDemoSecret(cwd);
    if (secret) sources.stripe = { provider: 'stripe', secrets: [secret] };
  }

  const debug = env.WEBHOOK_DEBUG === '1' || env.WEBHOOK_DEBUG === 'true';
  return deepFreeze({
    databaseUrl,
    sources,
    handlers: (file.handlers ?? {}) as Record<string, Record<string, Handler>>,
    server,
    worker: file.worker,
    delivery: file.delivery,
    retry: file.retry,
    rateLimit: file.rateLimit,
    admin,
    monitor: monitor.settings,
    logLevel: debug ? 'debug' : (envLogLevel ?? file.logLevel ?? 'info'),
    circuitBreaker: file.circuitBreaker,
    redaction: file.redaction,
    prettyLogs: env.LOG_FORMAT === 'pretty' || (env.LOG_FORMAT !== 'json' && Boolean(process.stdout.isTTY)),
    demo,
    configFile,
  });
}

/** The file named by --config, or the one hookbox.config.* in `cwd` (several are ambiguous). */
function findConfigFile(cwd: string, explicit: string | undefined, problems: string[]): string | null {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new ConfigError([`--config: ${path} does not exist`]);
    return path;
  }
  const found = configFileNames.filter((name) => existsSync(resolve(cwd, name)));
  if (found.length > 1) {
    problems.push(
      `found ${found.join(' and ')} in ${cwd}: keep one, or choose with --config (using ${found[0]} for the other checks)`,
    );
  }
  return found[0] ? resolve(cwd, found[0]) : null;
}

/**
 * What the validation schema cannot say well: a file that holds no object, handlers in a data
 * file. Returns the part left to validate.
 */
function checkFileShape(
  path: string,
  format: ConfigFormat,
  value: unknown,
): { problems: string[]; value: Record<string, unknown> } {
  const name = basename(path);
  if (value === undefined) return { problems: [], value: {} };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const problem =
      format === 'module'
        ? `${name}: export the config object, as in \`export default defineConfig({ sources: { ... } })\``
        : `${name}: must hold an object of settings, such as { "sources": { ... } }`;
    return { problems: [problem], value: {} };
  }
  if (format !== 'module' && 'handlers' in value) {
    const { handlers: _handlers, ...rest } = value as Record<string, unknown>;
    return {
      problems: [
        `handlers: ${name} cannot hold handlers (they are functions): register them in a hookbox.config.ts or .mjs file instead, which takes every other key too`,
      ],
      value: rest,
    };
  }
  return { problems: [], value: value as Record<string, unknown> };
}

function sectionOf(value: unknown, key: 'sources' | 'monitor'): Record<string, unknown> | undefined {
  const section = (value as Record<string, unknown> | undefined)?.[key];
  return section && typeof section === 'object' && !Array.isArray(section)
    ? (section as Record<string, unknown>)
    : undefined;
}

/**
 * The first given of `[value, name]` pairs (a flag, then its environment variable), validated;
 * a problem names where the bad value came from.
 */
function readSetting<T>(
  problems: string[],
  schema: z.ZodType<T>,
  ...candidates: [string | undefined, string][]
): T | undefined {
  const given = candidates.find(([value]) => value !== undefined && value !== '');
  if (!given) return undefined;
  const parsed = schema.safeParse(given[0]);
  if (parsed.success) return parsed.data;
  problems.push(
    `${given[1]}: ${parsed.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(given[0])})`,
  );
  return undefined;
}

type EnvKeys = Record<string, [variable: string, read: (value: string) => unknown]>;

/**
 * The original design's variable names define sources without a config file; each names the
 * source after its provider. Comma-separated secrets are a rotation list. `origins` maps
 * `source.key` to the variable it comes from, so problems name the variable.
 */
function sourcesFromEnv(env: NodeJS.ProcessEnv): {
  sources: Record<string, SourceDefinition>;
  origins: Map<string, string>;
} {
  const sources: Record<string, SourceDefinition> = {};
  const origins = new Map<string, string>();
  const list = (value: string) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const text = (value: string) => value;
  /** Define `source` when any of `keys` is set; `extra` keys only join a source so defined. */
  const define = (source: string, provider: string, keys: EnvKeys, extra: EnvKeys = {}) => {
    if (!Object.values(keys).some(([variable]) => env[variable])) return;
    const definition: SourceDefinition = { provider };
    for (const [key, [variable, read]] of Object.entries({ ...keys, ...extra })) {
      origins.set(`${source}.${key}`, variable);
      const value = env[variable];
      if (value) definition[key] = read(value);
    }
    sources[source] = definition;
  };
  define('stripe', 'stripe', { secrets: ['STRIPE_WEBHOOK_SECRET', list] });
  define(
    'paypal',
    'paypal',
    { webhookId: ['PAYPAL_WEBHOOK_ID', text] },
    { certDir: ['PAYPAL_CERT_DIR', text] },
  );
  define(
    'twilio',
    'twilio',
    { authTokens: ['TWILIO_AUTH_TOKEN', list] },
    { publicUrl: ['TWILIO_PUBLIC_URL', text] },
  );
  define(
    'firebase',
    'firebase',
    {
      audience: ['FIREBASE_PUSH_AUDIENCE', text],
      serviceAccountEmail: ['FIREBASE_PUSH_SERVICE_ACCOUNT', text],
    },
    { jwksFile: ['FIREBASE_JWKS_FILE', text] },
  );
  define('standard-webhooks', 'standard-webhooks', { secrets: ['STANDARD_WEBHOOKS_SECRET', list] });
  define('github', 'github', { secrets: ['GITHUB_WEBHOOK_SECRET', list] });
  define('shopify', 'shopify', { secrets: ['SHOPIFY_WEBHOOK_SECRET', list] });
  define('slack', 'slack', { signingSecrets: ['SLACK_SIGNING_SECRET', list] });
  return { sources, origins };
}

/** The environment variables of the one destination that can be configured without a file. */
const destinationVariables = {
  url: 'HOOKBOX_DESTINATION_URL',
  signingSecret: 'HOOKBOX_DESTINATION_SECRET',
  name: 'HOOKBOX_DESTINATION_NAME',
  types: 'HOOKBOX_DESTINATION_TYPES',
  timeoutMs: 'HOOKBOX_DESTINATION_TIMEOUT_MS',
  maxAttempts: 'HOOKBOX_DESTINATION_MAX_ATTEMPTS',
  concurrency: 'HOOKBOX_DESTINATION_CONCURRENCY',
  allowPrivateNetwork: 'HOOKBOX_DESTINATION_ALLOW_PRIVATE_NETWORK',
} as const;

/**
 * HOOKBOX_DESTINATION_URL (with HOOKBOX_DESTINATION_SECRET and the optional rest) adds one
 * destination to HOOKBOX_DESTINATION_SOURCE, or to the only configured source. Its values are
 * validated with the source like any destination; returns `source.path` -> variable, so
 * problems name the variable.
 */
function addDestinationFromEnv(
  env: NodeJS.ProcessEnv,
  sources: Record<string, SourceDefinition>,
  problems: string[],
): Map<string, string> {
  const origins = new Map<string, string>();
  const set = Object.values(destinationVariables).filter((variable) => env[variable]);
  if (set.length === 0 && !env.HOOKBOX_DESTINATION_SOURCE) return origins;
  if (!env[destinationVariables.url]) {
    problems.push(
      `${destinationVariables.url}: missing, but ${[...set, ...(env.HOOKBOX_DESTINATION_SOURCE ? ['HOOKBOX_DESTINATION_SOURCE'] : [])].join(', ')} ${set.length === 1 ? 'is' : 'are'} set: set the URL events are forwarded to, or unset the others`,
    );
    return origins;
  }
  const names = Object.keys(sources);
  const source = env.HOOKBOX_DESTINATION_SOURCE || (names.length === 1 ? names[0] : undefined);
  if (source === undefined || !Object.hasOwn(sources, source)) {
    problems.push(
      env.HOOKBOX_DESTINATION_SOURCE
        ? `HOOKBOX_DESTINATION_SOURCE: no source "${source}" is configured (configured: ${names.join(', ') || 'none'})`
        : `HOOKBOX_DESTINATION_SOURCE: ${names.length === 0 ? 'no source is configured to forward from' : `several sources are configured (${names.join(', ')}): name the one to forward from`}`,
    );
    return origins;
  }
  const text = (variable: string) => env[variable] || undefined;
  const number = (variable: string) => {
    const value = text(variable);
    return value === undefined ? undefined : /^\d+$/.test(value) ? Number(value) : value;
  };
  const flag = (variable: string) => {
    const value = text(variable);
    return value === undefined
      ? undefined
      : value === 'true' || value === '1'
        ? true
        : value === 'false' || value === '0'
          ? false
          : value;
  };
  const fields: Record<string, unknown> = {
    name: text(destinationVariables.name) ?? 'app',
    url: text(destinationVariables.url),
    signingSecret: text(destinationVariables.signingSecret),
    types: text(destinationVariables.types)
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    timeoutMs: number(destinationVariables.timeoutMs),
    maxAttempts: number(destinationVariables.maxAttempts),
    concurrency: number(destinationVariables.concurrency),
    allowPrivateNetwork: flag(destinationVariables.allowPrivateNetwork),
  };
  // Unchecked here: resolveSources validates it like any destination and names the variable.
  const destination = Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as unknown as DestinationDefinition;
  const definition = sources[source]!;
  const existing = Array.isArray(definition.destinations) ? definition.destinations : [];
  sources[source] = { ...definition, destinations: [...existing, destination] };
  const label = `destinations[${String(destination.name)}]`;
  for (const [key, variable] of Object.entries(destinationVariables))
    origins.set(`${source}.${label}.${key}`, variable);
  origins.set(`${source}.${label}`, 'HOOKBOX_DESTINATION_*');
  return origins;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) if (typeof child !== 'function') deepFreeze(child);
  }
  return value;
}
