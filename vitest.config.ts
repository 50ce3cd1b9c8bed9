import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["components/**/*.test.ts", "stack/**/*.test.ts", "policy/**/*.test.ts", "test/**/*.test.ts"],
        // Pulumi's runtime keeps global state (mocks, config, the root stack): a fresh module graph
        // per test file keeps one file's resources and config out of another's.
        isolate: true,
        pool: "forks",
        testTimeout: 30_000,
        hookTimeout: 60_000,
    },
});
