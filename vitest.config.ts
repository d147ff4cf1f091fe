import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/support/sequencer.ts';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds with no "exports" map. Node loads the CJS one for
    // dependencies (Yoga, Pothos); Vite would give our files the ESM one: two graphql instances. Pin the CJS one.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // A failure guard, not a wait: tests wait on events; on a shared two-core machine a slow test is not a broken one.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Three worker processes on two cores: many tests wait on PostgreSQL, a socket or a spawned command, and a third
    // worker fills those waits (quiet machine, same commit: 57–60 s with two, 52.5 s with three). Each worker imports
    // the app once (Prisma client, Pothos schema, Yoga, both SDKs: about a second of CPU) and reuses it for every file
    // it runs, instead of importing it again per file: that halved the suite's CPU time. Safe here because no test
    // mocks modules or changes globals; each file still gets its own database and server.
    pool: 'forks',
    maxWorkers: 3,
    isolate: false,
    sequence: { sequencer: LongestFirstSequencer },
    reporters: ['default'],
  },
});
