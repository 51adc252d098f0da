import { createHmac } from 'node:crypto';

/** A Stripe-Signature header for `body` signed with `secret` at `timestampSeconds` (test fixtures). */
export function signStripe(body: string | Buffer, secret: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export function stripeEventBody(
  id: string,
  type = 'payment_intent.succeeded',
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify(
    {
      id,
      object: 'event',
      type,
      created: 1767225600,
      data: { object: { id: `pi_${id}`, amount: 2000, ...extra } },
    },
    null,
    2,
  );
}
