/** Zod pieces the scheme settings share: secret lists (rotation) and tolerances. */
import { z } from 'zod';

/** A user-chosen secret: any non-empty string (GitHub and generic senders allow spaces). */
export const secretString = z.string().min(1, 'must not be empty');

/**
 * A provider-generated secret (Stripe, Slack, Twilio, Standard Webhooks). They never contain
 * whitespace, so surrounding whitespace is a copy-paste accident (a trailing newline from an
 * env file) that would otherwise fail every delivery with a signature mismatch.
 */
export const generatedSecretString = secretString.refine((value) => value.trim() === value, {
  message: 'has leading or trailing whitespace: remove it (often a newline copied along with the secret)',
});

export const toleranceSeconds = z
  .number()
  .int('must be a whole number of seconds')
  .positive('must be positive')
  .max(86_400, 'must be at most a day (86400): a wider window only helps replays');

/** Either the list (newest first while rotating) or the single form, combined into one list. */
export function combineSecrets(list: readonly string[] | undefined, single: string | undefined): string[] {
  const secrets = [...(list ?? [])];
  if (single !== undefined && !secrets.includes(single)) secrets.push(single);
  return secrets;
}

export function hasSecret(list: readonly string[] | undefined, single: string | undefined): boolean {
  return (list?.length ?? 0) > 0 || single !== undefined;
}

/**
 * Settings of a scheme that signs the body with one user-chosen secret and nothing else to set
 * (GitHub, Shopify): `secrets` (newest first while rotating) or `secret`, combined into one
 * list. `secretName` is what the provider's console calls it, for the error that asks for it.
 */
export function bodySecretSettingsSchema(secretName: string) {
  return z
    .strictObject({
      secrets: z.array(secretString).optional(),
      secret: secretString.optional(),
    })
    .refine((value) => hasSecret(value.secrets, value.secret), {
      message: `set \`secrets\` (a list, newest first) or \`secret\`: ${secretName}`,
      path: ['secrets'],
    })
    .transform(({ secrets, secret }) => ({ secrets: combineSecrets(secrets, secret) }));
}
