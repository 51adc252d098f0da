import type { Provider } from '../providers/types.ts';

/**
 * What handlers receive for a stored body: the provider's own decoding when it has one,
 * else parsed JSON, else form fields, else the text. Parsing happens once per attempt.
 */
export function decodePayload(provider: Provider | undefined, body: Buffer, headers: Record<string, string>) {
  if (provider?.decodePayload) return provider.decodePayload(body, headers);
  const contentType = headers['content-type'] ?? '';
  if (contentType.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return body.toString('utf8');
  }
}
