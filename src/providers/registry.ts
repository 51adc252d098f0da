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
