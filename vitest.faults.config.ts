import { defineConfig } from 'vitest/config';

/**
 * The fault-injection suite (docs/reliability.md): each file starts its own PostgreSQL cluster
 * or mounts its own small file system and breaks it under load, so the files run one at a time,
 * after the main suite (`npm test` runs both).
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 90_000,
    pool: 'forks',
  },
});
