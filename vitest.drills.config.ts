import { defineConfig } from "vitest/config";

/**
 * `npm run test:drills`: fault drills on a three-node Docker Swarm the test makes itself
 * (test/drills), through the real Pulumi engine. `npm test` runs them after the e2e; alone, they
 * need root, Debian's docker.io and mmdebstrap, and the engine (`npm run engine`).
 */
export default defineConfig({
    test: {
        include: ["test/drills/**/*.drill.ts"],
        pool: "forks",
        fileParallelism: false,
        // each drill is bounded inside; these bound one that hangs
        testTimeout: 20 * 60_000,
        hookTimeout: 30 * 60_000,
    },
});
