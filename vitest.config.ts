import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fault injection (a private PostgreSQL crashed and restarted, full disks) runs after the
    // main suite, one file at a time: vitest.faults.config.ts.
    exclude: ['test/faults/**', 'node_modules/**'],
    // Several files share one PostgreSQL; each test file isolates itself in its own schema.
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
