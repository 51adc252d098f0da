// app/api/webhooks/[source]/route.ts: POST /api/webhooks/stripe reaches Hookbox with the raw
// body untouched (never call request.json() before Hookbox: the signature covers the raw bytes).
import { hookbox, ready } from '../../../../lib/hookbox';

export const runtime = 'nodejs'; // better-sqlite3 and pg need the Node runtime
export const dynamic = 'force-dynamic';

export async function POST(request: Request): Promise<Response> {
  await ready;
  return hookbox.fetch(request);
}
