// POST /api/webhooks/stripe reaches Hookbox with the raw body untouched: never call
// request.json() first, the signature covers the raw bytes.
import { hookbox } from '../../../../lib/hookbox.js';

export const runtime = 'nodejs'; // better-sqlite3 and pg need the Node runtime
export const dynamic = 'force-dynamic';

export function POST(request) {
  return hookbox.fetch(request);
}
