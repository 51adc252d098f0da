import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Several files share one PostgreSQL; each test file isolates itself in its own schema.
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
