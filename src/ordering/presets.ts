/**
 * Ordering key presets per provider (`ordering: { key: 'preset' }`, docs/ordering.md). Each
 * entry lists the key's parts; each part lists alternative paths, the first with a value wins.
 */
export const presetPaths: Readonly<Record<string, string[][]>> = {
  // The object the event is about: a subscription, an invoice, a payment intent.
  stripe: [['data.object.id']],
  // The repository, then the issue or pull request number (push events order per repository).
  github: [
    ['repository.id', 'repository.full_name'],
    ['issue.number', 'pull_request.number', 'repository.id'],
  ],
  // The resource: its GraphQL id where the topic has one, else its numeric id.
  shopify: [['admin_graphql_api_id', 'id']],
  // The call or the message (form fields).
  twilio: [['CallSid', 'MessageSid']],
  // The resource a PayPal event is about (an order, a capture, a subscription).
  paypal: [['resource.id']],
};
