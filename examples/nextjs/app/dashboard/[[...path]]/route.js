// The operator dashboard (/dashboard), served by Hookbox itself; sign in with ADMIN_TOKEN.
import { hookbox } from '../../../lib/hookbox.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

function handle(request) {
  return hookbox.fetch(request);
}

export { handle as GET, handle as POST };
