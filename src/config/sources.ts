/**
 * Sources as written in config (a config file, environment variables or createHookbox options),
 * validated into the Source objects the receive route uses. Every key is checked: the keys
 * Hookbox reads itself (below) and the provider's own settings, whose schemas are strict.
 */
import { z } from 'zod';
import { readDestinations } from '../destinations/settings.ts';
import { sourceRateLimitSchema } from '../ingest/rate-limit.ts';
import { parseSourceLimits } from '../ingest/request-checks.ts';
import { buildAllowlist, defaultMaxBodyBytes, type Source } from '../ingest/source.ts';
import { orderingSchema, resolveOrdering } from '../ordering/settings.ts';
import { firebaseSettingsSchema } from '../providers/firebase.ts';
import { genericHmacSettingsSchema } from '../providers/generic-hmac.ts';
import { githubSettingsSchema } from '../providers/github.ts';
import { paypalSettingsSchema } from '../providers/paypal.ts';
import { getProvider, providers } from '../providers/registry.ts';
import { shopifySettingsSchema } from '../providers/shopify.ts';
import { slackSettingsSchema } from '../providers/slack.ts';
import { standardWebhooksSettingsSchema } from '../providers/standard-webhooks.ts';
import { stripeSettingsSchema } from '../providers/stripe.ts';
import { twilioSettingsSchema } from '../providers/twilio.ts';
import type { SourceDefinition } from '../public-types.ts';
import { ConfigError, findNearest, joinPath, listProblems, type Problem } from './problems.ts';

// The public shape of a source, declared by hand with the rest of the public API.
export type { SourceDefinition } from '../public-types.ts';

/**
 * The keys Hookbox itself reads on a source, one line each; every other key goes to the
 * provider's settings schema. A new source-level key is one more line here.
 */
const hookboxSourceKeys = {
  provider: z.string(),
  mode: z.enum(['async', 'sync'], { error: 'use "async" or "sync"' }).default('async'),
  maxBodyBytes: z.number().int().positive().default(defaultMaxBodyBytes),
  publicUrl: z.url({ protocol: /^https?$/, error: 'use an absolute http(s) URL' }).optional(),
  allowlist: z.array(z.string()).optional(),
  trustProxy: z.boolean().default(false),
  // Checked (with its default) by parseSourceLimits, beside the limits it enforces.
  maxHeaderBytes: z.unknown().optional(),
  rateLimit: sourceRateLimitSchema.optional(),
  // Each destination is validated by src/destinations/settings.ts (readDestinations below).
  destinations: z.unknown().optional(),
  // Ordering per key (docs/ordering.md); resolved against the provider below.
  ordering: orderingSchema.optional(),
};
const hookboxKeysSchema = z.object(hookboxSourceKeys);
const hookboxKeyNames = Object.keys(hookboxSourceKeys);

/**
 * Each scheme's settings schema, for the did-you-mean hint on an unknown key (the provider's
 * own parseSettings does the validating). A test keeps this in step with the registry.
 */
export const providerSettingsSchemas: Readonly<Record<string, z.ZodType>> = {
  stripe: stripeSettingsSchema,
  paypal: paypalSettingsSchema,
  twilio: twilioSettingsSchema,
  firebase: firebaseSettingsSchema,
  'standard-webhooks': standardWebhooksSettingsSchema,
  github: githubSettingsSchema,
  shopify: shopifySettingsSchema,
  slack: slackSettingsSchema,
  'generic-hmac': genericHmacSettingsSchema,
};

const sourceNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/;

export interface ResolveSourcesOptions {
  /**
   * Where a source's key came from when it was not the config file (an environment variable):
   * problems then name it. Returns undefined to use `sources.<name>.<path>`.
   */
  nameOf?: (source: string, path: string) => string | undefined;
}

/** Validate every source at once; the error lists each problem. */
export function resolveSources(
  definitions: Record<string, SourceDefinition>,
  options: ResolveSourcesOptions = {},
): Map<string, Source> {
  const problems: string[] = [];
  const resolved = new Map<string, Source>();
  for (const [name, definition] of Object.entries(definitions)) {
    const nameProblem = (path: string) => options.nameOf?.(name, path) ?? joinPath(`sources.${name}`, path);
    if (!sourceNamePattern.test(name)) {
      problems.push(`sources.${name}: a source name is 1-64 letters, digits, "-" or "_"`);
      continue;
    }
    const result = resolveSource(name, definition);
    if ('problems' in result) {
      for (const { path, message } of result.problems) problems.push(`${nameProblem(path)}: ${message}`);
    } else resolved.set(name, result.source);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}

function resolveSource(name: string, definition: unknown): { source: Source } | { problems: Problem[] } {
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) {
    return { problems: [{ path: '', message: 'must be an object such as { provider: "stripe", ... }' }] };
  }
  const raw = definition as Record<string, unknown>;
  const providerProblem = checkProviderKey(raw);
  if (providerProblem) return { problems: [providerProblem] };

  const provider = getProvider(raw.provider as string);
  const hookboxPart: Record<string, unknown> = {};
  const settingsPart: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (hookboxKeyNames.includes(key)) hookboxPart[key] = value;
    else settingsPart[key] = value;
  }

  const problems: Problem[] = [];
  const collect = (error: unknown, schema?: z.ZodType) =>
    problems.push(...listProblems(error, { schema, siblingKeys: hookboxKeyNames }));

  const keys = hookboxKeysSchema.safeParse(hookboxPart);
  if (!keys.success) collect(keys.error, hookboxKeysSchema);
  let settings: unknown;
  try {
    settings = provider.parseSettings(settingsPart);
  } catch (error) {
    collect(error, providerSettingsSchemas[provider.name]);
  }
  problems.push(...findMisplacedCredentials(provider.name, settingsPart));
  const destinations = readDestinations(raw.destinations, name);
  problems.push(...destinations.problems.map((line) => destinationProblem(name, line)));
  if (!keys.success || problems.length > 0) return { problems };

  const {
    provider: _name,
    maxHeaderBytes,
    rateLimit,
    allowlist,
    ordering: orderingDefinition,
    destinations: _raw,
    ...rest
  } = keys.data;
  let ordering: Source['ordering'];
  if (orderingDefinition) {
    if (rest.mode === 'sync') {
      problems.push({
        path: 'ordering',
        message:
          'a sync source runs each event inside its request, but ordering holds an event behind earlier ones: use mode "async" with ordering',
      });
    }
    try {
      ordering = resolveOrdering(orderingDefinition, provider.name);
    } catch (error) {
      problems.push({ path: 'ordering.key', message: (error as Error).message });
    }
  }
  let allowed: Source['allowlist'];
  try {
    allowed = allowlist ? buildAllowlist(allowlist) : undefined;
  } catch (error) {
    problems.push({ path: 'allowlist', message: (error as Error).message });
  }
  let limits: ReturnType<typeof parseSourceLimits> | undefined;
  try {
    limits = parseSourceLimits({ maxHeaderBytes, rateLimit });
  } catch (error) {
    collect(error, hookboxKeysSchema);
  }
  if (!limits || problems.length > 0) return { problems };
  return {
    source: {
      ...rest,
      name,
      provider,
      settings,
      allowlist: allowed,
      ...limits,
      ...(ordering ? { ordering } : {}),
      destinations: destinations.destinations,
    },
  };
}

/** readDestinations names problems from `sources.<name>.`; resolveSources adds that (or an env variable) itself. */
function destinationProblem(source: string, line: string): Problem {
  const prefix = `sources.${source}.`;
  const text = line.startsWith(prefix) ? line.slice(prefix.length) : line;
  const colon = text.indexOf(': ');
  return colon === -1
    ? { path: 'destinations', message: text }
    : { path: text.slice(0, colon), message: text.slice(colon + 2) };
}

/** `provider` missing (perhaps misspelt, as in `provder: 'stripe'`) or naming no known scheme. */
function checkProviderKey(raw: Record<string, unknown>): Problem | undefined {
  const known = Object.keys(providers);
  const value = raw.provider;
  if (value === undefined) {
    const typo = Object.keys(raw).find((key) => findNearest(key, ['provider']) !== undefined);
    const hint =
      typo === undefined
        ? ''
        : `; \`${typo}\` looks like a typo of it${typeof raw[typo] === 'string' ? `: write provider: ${JSON.stringify(raw[typo])}` : ''}`;
    return {
      path: 'provider',
      message: `missing: name the signature scheme, one of ${known.join(', ')}${hint}`,
    };
  }
  if (typeof value !== 'string' || !Object.hasOwn(providers, value)) {
    const nearest = typeof value === 'string' ? findNearest(value, known) : undefined;
    return {
      path: 'provider',
      message: `unknown provider ${JSON.stringify(value)}${nearest ? `; did you mean "${nearest}"?` : ''} known providers are ${known.join(', ')}`,
    };
  }
  return undefined;
}

/**
 * Credentials that are real but the wrong kind: a Stripe API key where the endpoint's signing
 * secret belongs would fail every delivery (and an API key does not belong in a webhook config).
 */
function findMisplacedCredentials(provider: string, settings: Record<string, unknown>): Problem[] {
  if (provider !== 'stripe') return [];
  const problems: Problem[] = [];
  const check = (path: string, value: unknown) => {
    const kind = typeof value === 'string' ? /^(sk|rk|pk)_(test|live)_/.exec(value)?.[1] : undefined;
    if (kind === undefined) return;
    const what = { sk: 'a secret API key', rk: 'a restricted API key', pk: 'a publishable key' }[kind];
    problems.push({
      path,
      message: `this is ${what} (${kind}_...), not a webhook signing secret: use the endpoint's signing secret (whsec_...), shown in the Stripe Dashboard under Developers > Webhooks > your endpoint > Signing secret, or printed by \`stripe listen\``,
    });
  };
  if (Array.isArray(settings.secrets)) {
    for (const [i, value] of settings.secrets.entries()) check(`secrets.${i}`, value);
  }
  check('secret', settings.secret);
  return problems;
}
