import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests with fakes, and integration tests against real etcd,
// real gRPC and real kernel objects in throwaway network namespaces.
export default defineConfig({
  test: {
    // Two cores: more parallel files only add contention around etcd, fsync and the kernel.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
