import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import {
  ConfigError,
  describeProblems,
  type HookboxOptions,
  resolveSources,
  type SourceDefinition,
} from '../hookbox.ts';
import { rateLimitSettingsSchema } from '../ingest/rate-limit.ts';
import { type MonitorConfigFile, type MonitorSettings, resolveMonitorSettings } from '../monitor/config.ts';
import type { Handler } from '../worker/handler-registry.ts';

/** What `hookbox.config.ts` default-exports (see docs/configuration.md). */
export interface HookboxConfigFile {
  database?: string;
  sources?: Record<string, SourceDefinition>;
  handlers?: Record<string, Record<string, Handler>>;
  server?: Partial<ServerSettings>;
  worker?: HookboxOptions['worker'];
  retry?: HookboxOptions['retry'];
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
  rateLimit: HookboxOptions['rateLimit'];
  admin: { token?: string; readOnlyTokens: string[] };
  monitor: MonitorSettings;
  logLevel: string;
  circuitBreaker: HookboxOptions['circuitBreaker'];
  redaction: HookboxOptions['redaction'];
  prettyLogs: boolean;
  /** Set when no source was configured: a generated Stripe secret lets `hookbox send` work at once. */
  demo: { secret: string; secretFile: string } | null;
  configFile: string | null;
}

/** Identity helper that types a config file. */
export function defineConfig(config: HookboxConfigFile): HookboxConfigFile {
  return config;
}

const configFileNames = ['hookbox.config.ts', 'hookbox.config.mjs', 'hookbox.config.js'];

const portSchema = z.coerce.number().int().min(0).max(65535);
const serverSchema = z.object({
  port: portSchema.default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  headersTimeoutMs: z.number().int().positive().default(10_000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
  keepAliveTimeoutMs: z.number().int().positive().default(5_000),
});
const fileSchema = z.object({
  database: z.string().optional(),
  sources: z.record(z.string(), z.looseObject({ provider: z.string() })).optional(),
  handlers: z.record(z.string(), z.record(z.string(), z.function())).optional(),
  server: serverSchema.partial().optional(),
  worker: z
    .object({
      enabled: z.boolean(),
      leaseMs: z.number().int().positive(),
      batchSize: z.number().int().min(1).max(1000),
      concurrency: z.number().int().min(1).max(10_000),
      pollIntervalMs: z.number().int().positive(),
      handlerTimeoutMs: z.number().int().positive(),
      workerId: z.string().min(1),
    })
    .partial()
    .optional(),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1).max(100),
      baseDelayMs: z.number().int().min(0),
      maxDelayMs: z.number().int().min(0),
    })
    .partial()
    .optional(),
  admin: z
    .object({ token: z.string().min(16).optional(), readOnlyTokens: z.array(z.string().min(16)).optional() })
    .optional(),
  rateLimit: rateLimitSettingsSchema.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  // Validated in full by resolveMonitorSettings, which names env variables in its problems.
  monitor: z.unknown().optional(),
  circuitBreaker: z
    .union([
      z.literal(false),
      z
        .object({
          failureThreshold: z.number().int().min(1),
          cooldownMs: z.number().int().min(0),
          trialWaitMs: z.number().int().min(0),
        })
        .partial(),
    ])
    .optional(),
  redaction: z
    .object({
      headers: z.array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'use an HTTP header name')),
      jsonPaths: z.array(
        z.string().regex(/^[^.]+(\.[^.]+)*$/, 'use dot-separated keys, e.g. data.object.card.number'),
      ),
      storedBodySources: z.array(z.string().min(1)),
    })
    .partial()
    .optional(),
});

export interface LoadConfigOptions {
  /** The folder to look for hookbox.config.* and ./data in. */
  cwd?: string;
  /** An explicit config file path. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Load hookbox.config.(ts|mjs|js) and the environment, validate everything once, report every
 * problem at once (ConfigError), then freeze. The only reader of process.env.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const problems: string[] = [];

  const configFile = options.configFile
    ? resolve(cwd, options.configFile)
    : (configFileNames.map((name) => resolve(cwd, name)).find((path) => existsSync(path)) ?? null);
  let file: HookboxConfigFile = {};
  if (configFile) {
    if (!existsSync(configFile)) throw new ConfigError([`config file ${configFile} does not exist`]);
    const loaded = await importConfigFile(configFile);
    const parsed = fileSchema.safeParse(loaded);
    if (!parsed.success) problems.push(...describeProblems(configFile, parsed.error));
    // Keep going with what was given, so the sources are checked too and every problem is listed at once.
    file = (loaded ?? {}) as HookboxConfigFile;
  }

  const sources: Record<string, SourceDefinition> = { ...sourcesFromEnv(env), ...file.sources };
  const server = serverSchema.safeParse({
    ...file.server,
    ...(env.PORT ? { port: env.PORT } : {}),
    ...(env.HOST ? { host: env.HOST } : {}),
  });
  if (!server.success) problems.push(...describeProblems('server', server.error));

  const adminToken = env.ADMIN_TOKEN ?? file.admin?.token;
  const readOnlyTokens = [
    ...(env.ADMIN_READONLY_TOKENS?.split(',')
      .map((t) => t.trim())
      .filter(Boolean) ?? []),
    ...(file.admin?.readOnlyTokens ?? []),
  ];
  if (adminToken !== undefined && adminToken.length < 16)
    problems.push('ADMIN_TOKEN: use at least 16 characters');
  const monitor = resolveMonitorSettings(file.monitor, env);
  problems.push(...monitor.problems);

  const databaseUrl = env.DATABASE_URL || file.database || undefined;
  if (databaseUrl && !/^(postgres|postgresql):\/\//.test(databaseUrl) && !databaseUrl.startsWith('file:')) {
    problems.push('DATABASE_URL: use postgres://..., postgresql://... or file:PATH');
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
    resolveSources(sources);
  } catch (error) {
    problems.push(...(error instanceof ConfigError ? error.problems : [(error as Error).message]));
  }
  if (problems.length > 0) throw new ConfigError(problems);

  let demo: ResolvedConfig['demo'] = null;
  if (Object.keys(sources).length === 0) {
    demo = ensureDemoSecret(cwd);
    sources.stripe = { provider: 'stripe', secrets: [demo.secret] };
  }

  const debug = env.WEBHOOK_DEBUG === '1' || env.WEBHOOK_DEBUG === 'true';
  return deepFreeze({
    databaseUrl,
    sources,
    handlers: file.handlers ?? {},
    server: server.data!,
    worker: file.worker,
    retry: file.retry,
    rateLimit: file.rateLimit,
    admin: { token: adminToken, readOnlyTokens },
    monitor: monitor.settings,
    logLevel: debug ? 'debug' : (env.LOG_LEVEL ?? file.logLevel ?? 'info'),
    circuitBreaker: file.circuitBreaker,
    redaction: file.redaction,
    prettyLogs: env.LOG_FORMAT === 'pretty' || (env.LOG_FORMAT !== 'json' && Boolean(process.stdout.isTTY)),
    demo,
    configFile,
  });
}

/**
 * The original design's variable names define sources without a config file; each names the
 * source after its provider. Comma-separated secrets are a rotation list.
 */
function sourcesFromEnv(env: NodeJS.ProcessEnv): Record<string, SourceDefinition> {
  const sources: Record<string, SourceDefinition> = {};
  const list = (value: string) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const optional = (key: string, value: string | undefined) => (value ? { [key]: value } : {});
  if (env.STRIPE_WEBHOOK_SECRET)
    sources.stripe = { provider: 'stripe', secrets: list(env.STRIPE_WEBHOOK_SECRET) };
  if (env.PAYPAL_WEBHOOK_ID) {
    sources.paypal = {
      provider: 'paypal',
      webhookId: env.PAYPAL_WEBHOOK_ID,
      ...optional('certDir', env.PAYPAL_CERT_DIR),
    };
  }
  if (env.TWILIO_AUTH_TOKEN) {
    sources.twilio = {
      provider: 'twilio',
      authTokens: list(env.TWILIO_AUTH_TOKEN),
      ...optional('publicUrl', env.TWILIO_PUBLIC_URL),
    };
  }
  if (env.FIREBASE_PUSH_AUDIENCE || env.FIREBASE_PUSH_SERVICE_ACCOUNT) {
    sources.firebase = {
      provider: 'firebase',
      ...optional('audience', env.FIREBASE_PUSH_AUDIENCE),
      ...optional('serviceAccountEmail', env.FIREBASE_PUSH_SERVICE_ACCOUNT),
      ...optional('jwksFile', env.FIREBASE_JWKS_FILE),
    };
  }
  if (env.STANDARD_WEBHOOKS_SECRET) {
    sources['standard-webhooks'] = {
      provider: 'standard-webhooks',
      secrets: list(env.STANDARD_WEBHOOKS_SECRET),
    };
  }
  if (env.GITHUB_WEBHOOK_SECRET)
    sources.github = { provider: 'github', secrets: list(env.GITHUB_WEBHOOK_SECRET) };
  if (env.SHOPIFY_WEBHOOK_SECRET)
    sources.shopify = { provider: 'shopify', secrets: list(env.SHOPIFY_WEBHOOK_SECRET) };
  if (env.SLACK_SIGNING_SECRET)
    sources.slack = { provider: 'slack', signingSecrets: list(env.SLACK_SIGNING_SECRET) };
  return sources;
}

/** The demo secret lives beside the demo database so `hookbox send` finds it and it survives restarts. */
export function demoSecretFile(cwd: string): string {
  return resolve(cwd, 'data', 'demo-stripe-secret');
}

function ensureDemoSecret(cwd: string): { secret: string; secretFile: string } {
  const secretFile = demoSecretFile(cwd);
  if (existsSync(secretFile)) return { secret: readFileSync(secretFile, 'utf8').trim(), secretFile };
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  mkdirSync(dirname(secretFile), { recursive: true });
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  return { secret, secretFile };
}

async function importConfigFile(path: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  const module = path.endsWith('.ts')
    ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url)
    : await import(url);
  return module.default ?? module;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) if (typeof child !== 'function') deepFreeze(child);
  }
  return value;
}
