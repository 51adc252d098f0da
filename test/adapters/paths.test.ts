import { afterAll, describe, expect, it } from 'vitest';
import { hookboxRoutes, isHookboxPath } from '../../src/adapters/paths.ts';
import { createHookbox } from '../../src/hookbox.ts';

// The route list the Express and Fastify adapters route by must cover the Hono app's routes.
describe('hookboxRoutes', () => {
  const internals = createHookbox({
    store: 'file::memory:',
    sources: {},
    admin: { token: 'paths-test-admin-token-0123456789' },
  });
  afterAll(() => internals.stop());
  const routes = internals.app.routes.filter((route) => route.method !== 'ALL');

  it('covers every route of the app, with its method', () => {
    expect(routes.length).toBeGreaterThan(20);
    for (const route of routes) {
      const path = route.path.replace(/:[^/]+/g, 'x');
      expect(isHookboxPath(path), `${route.method} ${route.path}`).toBe(true);
      const covering = hookboxRoutes.filter((candidate) =>
        new RegExp(`^${candidate.path.replace(/:[^/]+/g, '[^/]+').replace('*', '.*')}$`).test(path),
      );
      expect(
        covering.some((candidate) => (candidate.methods as readonly string[]).includes(route.method)),
        `${route.method} ${route.path}`,
      ).toBe(true);
    }
  });

  it("leaves an app's own paths alone", () => {
    for (const path of [
      '/',
      '/orders',
      '/api/orders',
      '/webhooks',
      '/webhooks/a/b',
      '/dashboards',
      '/metrics/x',
    ]) {
      expect(isHookboxPath(path), path).toBe(false);
    }
  });
});
