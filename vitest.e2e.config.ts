import { defineConfig } from "vitest/config";

/**
 * `npm run test:e2e`: PUG on a real Docker Swarm the test starts itself (test/e2e), through the
 * real Pulumi engine. `npm test` runs it after the unit tests; alone, it needs root, Debian's
 * docker.io and mmdebstrap, the engine on PATH (`npm run engine`), and minutes instead of seconds.
 */
export default defineConfig({
    test: {
        include: ["test/e2e/**/*.e2e.ts"],
        pool: "forks",
        fileParallelism: false,
        // each check is bounded inside; these bound a check that hangs
        testTimeout: 10 * 60_000,
        hookTimeout: 20 * 60_000,
    },
});
