/** Every signature scheme by the name sources use in config (`provider: 'stripe'`). */

import { firebase } from './firebase.ts';
import { genericHmac } from './generic-hmac.ts';
import { github } from './github.ts';
import { paypal } from './paypal.ts';
import { shopify } from './shopify.ts';
import { slack } from './slack.ts';
import { standardWebhooks } from './standard-webhooks.ts';
import { stripe } from './stripe.ts';
import { twilio } from './twilio.ts';
import type { Provider } from './types.ts';

// biome-ignore lint/suspicious/noExplicitAny: each scheme has its own settings type; parseSettings produces it.
export const providers: Readonly<Record<string, Provider<any>>> = Object.freeze({
  stripe,
  paypal,
  twilio,
  firebase,
  'standard-webhooks': standardWebhooks,
  github,
  shopify,
  slack,
  'generic-hmac': genericHmac,
});

// biome-ignore lint/suspicious/noExplicitAny: see providers.
export function getProvider(name: string): Provider<any> {
  const provider = Object.hasOwn(providers, name) ? providers[name] : undefined;
  if (provider === undefined) {
    throw new Error(
      `unknown provider ${JSON.stringify(name)}: known providers are ${Object.keys(providers).join(', ')}`,
    );
  }
  return provider;
}

/** A configured source, as far as redaction needs it. */
interface SourceScheme {
  // biome-ignore lint/suspicious/noExplicitAny: any scheme's settings, as parsed for it.
  provider: Provider<any>;
  settings: unknown;
}

/**
 * Every header a scheme declares as carrying a signature or credential: the fixed names of
 * every registered scheme (so an event stored under a source since removed is still masked),
 * plus the names these sources configure (generic-hmac's `header`).
 */
export function declaredSecretHeaders(sources: Iterable<SourceScheme> = []): string[] {
  const names = new Set<string>();
  for (const provider of Object.values(providers)) for (const name of provider.secretHeaders) names.add(name);
  for (const { provider, settings } of sources) {
    for (const name of provider.secretHeaders) names.add(name);
    for (const name of provider.secretHeadersFor?.(settings) ?? []) names.add(name.toLowerCase());
  }
  return [...names];
}
