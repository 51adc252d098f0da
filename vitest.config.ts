import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Examples import the package by name, as an app does; here that is src/ (tsconfig.json's paths).
    alias: [
      { find: /^hookbox$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      {
        find: /^hookbox\/(node|express|fastify)$/,
        replacement: fileURLToPath(new URL('./src/adapters/$1.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Fault injection (a private PostgreSQL crashed and restarted, full disks) runs after the
    // main suite, one file at a time: vitest.faults.config.ts. The consumer suites install the
    // packed tarball into fresh apps: vitest.consumer.config.ts and vitest.nextjs.config.ts.
    exclude: ['test/faults/**', 'test/consumer/**', 'node_modules/**'],
    // Several files share one PostgreSQL; each test file isolates itself in its own schema.
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
