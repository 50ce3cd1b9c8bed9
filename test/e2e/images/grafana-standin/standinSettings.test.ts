/**
 * The Grafana stand-in reads its settings as Grafana and the official image do; if it did not,
 * the end-to-end test would show that PUG works with a program that reads them differently.
 */
import { describe, expect, it } from "vitest";
import { liveKeyPrefix, originAllowed, readSettings, resolveFileVariables } from "./standinSettings";

const files: Record<string, string> = { "/run/secrets/db": "s3cret-pw\n", "/run/secrets/redis": "redis-pw" };
const readFile = (p: string) => {
    if (!(p in files)) throw new Error(`ENOENT: ${p}`);
    return files[p];
};

const pugEnvironment = {
    GF_SERVER_ROOT_URL: "https://metrics.example.com/alice/grafana/",
    GF_SERVER_SERVE_FROM_SUB_PATH: "true",
    GF_DATABASE_TYPE: "mysql",
    GF_DATABASE_HOST: "pug-mysql:3306",
    GF_DATABASE_NAME: "grafana_alice",
    GF_DATABASE_USER: "grafana_alice",
    GF_DATABASE_PASSWORD__FILE: "/run/secrets/db",
    GF_LIVE_HA_ENGINE: "redis",
    GF_LIVE_HA_ENGINE_ADDRESS: "pug-live-redis:6379",
    GF_LIVE_HA_ENGINE_PASSWORD__FILE: "/run/secrets/redis",
    GF_LIVE_HA_PREFIX: "pug-alice",
    GF_LIVE_ALLOWED_ORIGINS: "https://metrics.example.com",
    GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS: "pug-live-redis:6379",
    GF_UNIFIED_ALERTING_HA_REDIS_PASSWORD__FILE: "/run/secrets/redis",
    GF_UNIFIED_ALERTING_HA_REDIS_PREFIX: "pug-alice",
};

describe("resolveFileVariables (the official image's run.sh)", () => {
    it("replaces each GF_*__FILE by the variable holding the file's content, without trailing newlines", () => {
        const env = resolveFileVariables(pugEnvironment, readFile);
        expect(env.GF_DATABASE_PASSWORD).toBe("s3cret-pw");
        expect(env.GF_LIVE_HA_ENGINE_PASSWORD).toBe("redis-pw");
        expect(env).not.toHaveProperty("GF_DATABASE_PASSWORD__FILE");
    });

    it("refuses both forms of one variable", () => {
        expect(() => resolveFileVariables({ ...pugEnvironment, GF_DATABASE_PASSWORD: "x" }, readFile)).toThrow(
            "both GF_DATABASE_PASSWORD and GF_DATABASE_PASSWORD__FILE are set (but are exclusive)",
        );
    });

    it("fails when a secret file cannot be read", () => {
        expect(() => resolveFileVariables({ ...pugEnvironment, GF_SECURITY_SECRET_KEY__FILE: "/run/secrets/missing" }, readFile)).toThrow("ENOENT");
    });
});

describe("readSettings", () => {
    it("serves the user of root_url's path under that sub path, with the database and Live settings PUG gives", () => {
        const settings = readSettings(resolveFileVariables(pugEnvironment, readFile));
        expect(settings.userId).toBe("alice");
        expect(settings.subPath).toBe("/alice/grafana/");
        expect(settings.httpPort).toBe(3000);
        expect(settings.database).toEqual({ host: "pug-mysql", port: 3306, name: "grafana_alice", user: "grafana_alice", password: "s3cret-pw", migrationLocking: true });
        expect(settings.live).toEqual({ host: "pug-live-redis", port: 6379, password: "redis-pw", prefix: "pug-alice" });
        expect(settings.alertingHa).toEqual({ host: "pug-live-redis", port: 6379, password: "redis-pw", prefix: "pug-alice" });
    });

    it("runs alerting alone without ha_redis_address", () => {
        const { GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS: _dropped, ...env } = resolveFileVariables(pugEnvironment, readFile);
        expect(readSettings(env).alertingHa).toBeUndefined();
    });

    it("serves from / without serve_from_sub_path", () => {
        const settings = readSettings(resolveFileVariables({ ...pugEnvironment, GF_SERVER_SERVE_FROM_SUB_PATH: "false" }, readFile));
        expect(settings.subPath).toBe("/");
    });

    it("names a missing database setting", () => {
        const { GF_DATABASE_NAME: _dropped, ...env } = resolveFileVariables(pugEnvironment, readFile);
        expect(() => readSettings(env)).toThrow("GF_DATABASE_NAME is not set");
    });

    it("does not start on an evaluation_timeout that is not a duration, as Grafana does, and takes Go's durations", () => {
        const env = resolveFileVariables(pugEnvironment, readFile);
        expect(() => readSettings({ ...env, GF_UNIFIED_ALERTING_EVALUATION_TIMEOUT: "soon" })).toThrow('invalid [unified_alerting] evaluation_timeout "soon"');
        for (const ok of ["30s", "1m30s", "1.5h", "0"]) expect(() => readSettings({ ...env, GF_UNIFIED_ALERTING_EVALUATION_TIMEOUT: ok }), ok).not.toThrow();
    });
});

describe("Live", () => {
    it("keeps keys and channels under <prefix>.gf_live", () => {
        expect(liveKeyPrefix("pug-alice")).toBe("pug-alice.gf_live");
        expect(liveKeyPrefix("")).toBe("gf_live");
    });

    it.each([
        [undefined, "anything", true],
        ["https://proxy.internal", "proxy.internal", true],
        ["https://metrics.example.com", "grafana-alice:3000", true],
        ["https://evil.example", "grafana-alice:3000", false],
        ["not a url", "grafana-alice:3000", false],
    ])("origin %s with Host %s: allowed %s", (origin, host, allowed) => {
        const settings = readSettings(resolveFileVariables(pugEnvironment, readFile));
        expect(originAllowed(origin, host, settings)).toBe(allowed);
    });

    it("accepts allowed_origins globs", () => {
        const settings = readSettings(resolveFileVariables({ ...pugEnvironment, GF_LIVE_ALLOWED_ORIGINS: "https://*.example.org" }, readFile));
        expect(originAllowed("https://a.example.org", "x", settings)).toBe(true);
        expect(originAllowed("https://a.example.com", "x", settings)).toBe(false);
    });
});
