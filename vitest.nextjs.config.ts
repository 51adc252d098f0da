import { defineConfig } from 'vitest/config';

/** The Next.js consumer test: examples/nextjs built (`next build`) and served (`next start`) from the tarball. */
export default defineConfig({
  test: {
    include: ['test/consumer/nextjs.test.ts'],
    globalSetup: ['test/consumer/support/pack.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
  },
});
