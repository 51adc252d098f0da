/**
 * The paths Hookbox answers, for hosts that route before they hand a request over (Express,
 * Fastify, a Hono app with routes of its own). test/adapters/paths.test.ts checks that every
 * route of the Hono app is covered, so this list cannot fall behind it.
 */
export const hookboxRoutes = [
  { methods: ['POST'], path: '/webhooks/:source' },
  { methods: ['POST'], path: '/api/webhooks/:source' },
  { methods: ['GET'], path: '/healthz' },
  { methods: ['GET'], path: '/readyz' },
  { methods: ['GET', 'POST', 'DELETE'], path: '/api/admin/*' },
  { methods: ['POST'], path: '/api/cron/webhook-maintenance' },
  { methods: ['GET'], path: '/metrics' },
  { methods: ['GET', 'POST'], path: '/dashboard' },
  { methods: ['GET', 'POST'], path: '/dashboard/*' },
] as const;

const matchers = hookboxRoutes.map(({ path }) => {
  const pattern = path
    .split('/')
    .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment))
    .join('/');
  return new RegExp(`^${pattern}$`);
});

/** Whether Hookbox serves this path (a pathname, without the query string). */
export function isHookboxPath(pathname: string): boolean {
  return matchers.some((matcher) => matcher.test(pathname));
}
