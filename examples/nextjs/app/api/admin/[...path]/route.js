// The admin API (/api/admin/...), which the dashboard's pages call.
import { hookbox } from '../../../../lib/hookbox.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

function handle(request) {
  return hookbox.fetch(request);
}

export { handle as DELETE, handle as GET, handle as POST };
