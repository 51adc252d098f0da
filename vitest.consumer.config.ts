import { defineConfig } from 'vitest/config';

/**
 * The consumer suite (issue 12): `npm pack` once (globalSetup; prepack builds dist/), then
 * install the tarball into fresh apps under a temporary folder (plain Node, strict TypeScript,
 * Express, Fastify, Hono, the installed `hookbox` command) and run the docs' runnable
 * examples against it. Next.js, slower, has its own config: vitest.nextjs.config.ts.
 */
export default defineConfig({
  test: {
    include: ['test/consumer/**/*.test.ts'],
    exclude: ['test/consumer/nextjs.test.ts'],
    globalSetup: ['test/consumer/support/pack.ts'],
    testTimeout: 90_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
