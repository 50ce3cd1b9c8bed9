import { beforeAll, describe, expect, it } from "vitest";
import { ACME_ENVIRONMENT_SPEC } from "../test/harness/grafanaSpecs";
import { setupPulumiMocks, settled, type MockSetup } from "../test/harness/pulumiMocks";
import type * as tenantModule from "./grafanaTenant";
import { durationMs, swarmDuration } from "./dockerObjects";

const SERVICE = "docker:index/service:Service";
const SECRET = "docker:index/secret:Secret";

let mocks: MockSetup;
let mod: typeof tenantModule;
let docker: typeof import("@pulumi/docker");
let datasourceSchema: typeof import("./specs/datasources").datasourceSchema;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    mod = await import("./grafanaTenant");
    docker = await import("@pulumi/docker");
    ({ datasourceSchema } = await import("./specs/datasources"));
});

const baseSpec = ACME_ENVIRONMENT_SPEC;

describe("grafanaEnvironment", () => {
    it("serves the user's Grafana under https://DOMAIN/<id>/grafana/", () => {
        const env = mod.grafanaEnvironment(baseSpec);
        expect(env.GF_SERVER_ROOT_URL).toBe("https://metrics.example.com/acme/grafana/");
        expect(env.GF_SERVER_SERVE_FROM_SUB_PATH).toBe("true");
        expect(env.GF_LIVE_ALLOWED_ORIGINS).toBe("https://metrics.example.com");
    });

    it("in subdomain mode, serves the user's Grafana at https://<id>.DOMAIN/, an origin of its own", () => {
        const env = mod.grafanaEnvironment({ ...baseSpec, urlMode: "subdomain" });
        expect(env.GF_SERVER_ROOT_URL).toBe("https://acme.metrics.example.com/");
        expect(env.GF_SERVER_DOMAIN).toBe("acme.metrics.example.com");
        expect(env.GF_SERVER_SERVE_FROM_SUB_PATH).toBe("false");
        expect(env.GF_LIVE_ALLOWED_ORIGINS).toBe("https://acme.metrics.example.com");
    });

    it("in path mode, lets a user's pages fetch, connect and post only under the user's own path", () => {
        const env = mod.grafanaEnvironment(baseSpec);
        expect(env.GF_SECURITY_CONTENT_SECURITY_POLICY).toBe("true");
        // Grafana puts root_url without its scheme in $ROOT_PATH: metrics.example.com/acme/grafana/
        const directives = Object.fromEntries(env.GF_SECURITY_CONTENT_SECURITY_POLICY_TEMPLATE.split(";").filter(Boolean).map((d) => [d.trim().split(" ")[0], d.trim().split(" ").slice(1)]));
        expect(directives["connect-src"]).toEqual(["http://$ROOT_PATH", "ws://$ROOT_PATH", "grafana.com"]);
        expect(directives["form-action"]).toEqual(["http://$ROOT_PATH"]);
        expect(directives["frame-ancestors"]).toEqual(["'none'"]);
        expect(JSON.stringify(directives)).not.toContain("'self' ws:");
        expect(mod.grafanaEnvironment({ ...baseSpec, urlMode: "subdomain" })).not.toHaveProperty("GF_SECURITY_CONTENT_SECURITY_POLICY");
    });

    it("points Grafana at the user's own MySQL database, password by file only", () => {
        const env = mod.grafanaEnvironment(baseSpec);
        expect(env).toMatchObject({
            GF_DATABASE_TYPE: "mysql",
            GF_DATABASE_HOST: "pug-mysql:3306",
            GF_DATABASE_NAME: "grafana_acme",
            GF_DATABASE_USER: "grafana_acme",
            GF_DATABASE_PASSWORD__FILE: "/run/secrets/grafana-db-password",
        });
        // run.sh fails when both the variable and its __FILE form are set
        for (const name of ["GF_DATABASE_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD", "GF_SECURITY_SECRET_KEY", "GF_LIVE_HA_ENGINE_PASSWORD"]) {
            expect(env).not.toHaveProperty(name);
            expect(env[`${name}__FILE`]).toMatch(/^\/run\/secrets\//);
        }
    });

    it("connects to MySQL with the TLS mode the mysql provider uses, and leaves Grafana's default without one", () => {
        for (const tls of ["true", "false", "skip-verify"] as const) expect(mod.grafanaEnvironment({ ...baseSpec, databaseTls: tls }).GF_DATABASE_SSL_MODE).toBe(tls);
        expect(mod.grafanaEnvironment(baseSpec)).not.toHaveProperty("GF_DATABASE_SSL_MODE");
    });

    it("runs Live and alerting in HA over Redis, under a prefix that differs between users", () => {
        const a = mod.grafanaEnvironment(baseSpec);
        const b = mod.grafanaEnvironment({ ...baseSpec, userId: "globex" });
        expect(a.GF_LIVE_HA_ENGINE).toBe("redis");
        expect(a.GF_LIVE_HA_ENGINE_ADDRESS).toBe("pug-live-redis:6379");
        expect(a.GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS).toBe("pug-live-redis:6379");
        expect(a.GF_LIVE_HA_PREFIX).toBeTruthy();
        expect(a.GF_LIVE_HA_PREFIX).not.toBe(b.GF_LIVE_HA_PREFIX);
        expect(a.GF_UNIFIED_ALERTING_HA_REDIS_PREFIX).not.toBe(b.GF_UNIFIED_ALERTING_HA_REDIS_PREFIX);
    });

    it("keeps prefixes apart even for ids that share a beginning", () => {
        // "a" must not be a prefix of "a-b"'s keys: Grafana appends ".gf_live", so "pug-a." vs "pug-a-b."
        const short = mod.grafanaEnvironment({ ...baseSpec, userId: "a" }).GF_LIVE_HA_PREFIX;
        const long = mod.grafanaEnvironment({ ...baseSpec, userId: "a-b" }).GF_LIVE_HA_PREFIX;
        expect(`${long}.gf_live`.startsWith(`${short}.gf_live`)).toBe(false);
    });

    it("sets the theme and the live connection limit per user", () => {
        const env = mod.grafanaEnvironment({ ...baseSpec, theme: "light", liveMaxConnections: 5000 });
        expect(env.GF_USERS_DEFAULT_THEME).toBe("light");
        expect(env.GF_LIVE_MAX_CONNECTIONS).toBe("5000");
        expect(mod.grafanaEnvironment(baseSpec)).not.toHaveProperty("GF_USERS_DEFAULT_THEME");
    });

    it("turns grafana.ini overrides into GF_ variables", () => {
        const env = mod.grafanaEnvironment({
            ...baseSpec,
            settings: { dashboards: { min_refresh_interval: "10s" }, "date-formats": { "use-browser-locale": true }, users: { viewers_can_edit: 1 } },
        });
        expect(env.GF_DASHBOARDS_MIN_REFRESH_INTERVAL).toBe("10s");
        expect(env.GF_DATE_FORMATS_USE_BROWSER_LOCALE).toBe("true");
        expect(env.GF_USERS_VIEWERS_CAN_EDIT).toBe("1");
    });
});

describe("grafanaTenantProblems", () => {
    it.each([
        [{ replicas: 0 }, "replicas must be a whole number >= 1"],
        [{ replicas: 1.5 }, "replicas must be a whole number >= 1"],
        [{ replicas: 11 }, "replicas must be at most maxReplicas (10)"],
        [{ replicas: 30, maxReplicas: 20 }, "replicas must be at most maxReplicas (20)"],
        [{ openFilesLimit: 100 }, "openFilesLimit must be a whole number >= 1024"],
        [{ memoryLimitMb: 256, memoryReservationMb: 512 }, "memoryReservationMb (512) exceeds memoryLimitMb (256)"],
        [{ memoryReservationMb: 1024 }, "memoryReservationMb (1024) exceeds memoryLimitMb (512)"],
        [{ liveMaxConnections: 5000, openFilesLimit: 4096 }, "openFilesLimit (4096) leaves too few descriptors for liveMaxConnections (5000)"],
    ])("%o", (args, message) => {
        expect(mod.grafanaTenantProblems(args)).toEqual([message]);
    });

    it("names a limit below the floor, and the default reservation it falls under", () => {
        expect(mod.grafanaTenantProblems({ memoryLimitMb: 64 })).toEqual(["memoryLimitMb must be a whole number >= 128", "memoryReservationMb (128) exceeds memoryLimitMb (64)"]);
    });

    it("accepts the defaults, and arguments beyond the service settings", () => {
        expect(mod.grafanaTenantProblems({})).toEqual([]);
        expect(mod.grafanaTenantProblems({ replicas: 10, liveMaxConnections: 0, openFilesLimit: 1024, userId: "alice" } as never)).toEqual([]);
    });
});

describe("GrafanaTenant", () => {
    const store = (id: string) => ({
        databaseName: `grafana_${id}`,
        username: `grafana_${id}`,
        password: `db-password-of-${id}`,
        secretKey: `secret-key-of-${id}`,
        adminPassword: `admin-password-of-${id}`,
    });
    let redisSecret: import("@pulumi/docker").Secret;
    beforeAll(() => {
        redisSecret = new docker.Secret("live-redis-password", { name: "pug-live-redis-password-abc", data: "eA==" });
    });
    const tenant = (id: string, extra: Partial<tenantModule.GrafanaTenantArgs> = {}) => {
        return new mod.GrafanaTenant(id, {
            userId: id,
            domain: "metrics.example.com",
            image: "grafana/grafana:12.0.2",
            store: store(id),
            databaseHost: "pug-mysql:3306",
            liveRedis: { address: "pug-live-redis:6379", passwordSecret: redisSecret },
            networkIds: ["proxy-net-id", "data-net-id"],
            ...extra,
        });
    };

    it("declares a service named after the user, with 3 replicas, on both networks by id", async () => {
        const t = tenant("acme");
        expect(t.serviceName).toBe("grafana-acme");
        expect(t.url).toBe("https://metrics.example.com/acme/grafana/");
        await settled();
        const svc = mocks.one(SERVICE, "acme").inputs;
        expect(svc.name).toBe("grafana-acme");
        expect(svc.mode.replicated.replicas).toBe(3);
        expect(svc.taskSpec.networksAdvanceds).toEqual([{ id: "proxy-net-id" }, { id: "data-net-id" }]);
        expect(svc.labels).toContainEqual({ label: "pug.user", value: "acme" });
        expect(svc.taskSpec.containerSpec.labels).toContainEqual({ label: "pug.user", value: "acme" });
    });

    it("rolls updates one replica at a time, new before old, rolling back on failure", async () => {
        tenant("roll");
        await settled();
        const svc = mocks.one(SERVICE, "roll").inputs;
        expect(svc.updateConfig).toMatchObject({ parallelism: 1, order: "start-first", failureAction: "rollback" });
        // a minute at least, written as the Swarm reports it back (else every preview plans an update)
        expect(durationMs(svc.updateConfig.monitor)).toBeGreaterThanOrEqual(60_000);
        expect(svc.updateConfig.monitor).toBe(swarmDuration(svc.updateConfig.monitor));
        expect(svc.rollbackConfig).toMatchObject({ parallelism: 1, order: "start-first" });
        expect(svc.taskSpec.restartPolicy.condition).toBe("any");
    });

    it("checks liveness on /healthz, limits memory and raises the open-files limit before the official entrypoint", async () => {
        tenant("health", { memoryLimitMb: 768, openFilesLimit: 100000 });
        await settled();
        const spec = mocks.one(SERVICE, "health").inputs.taskSpec;
        expect(spec.containerSpec.healthcheck.tests.join(" ")).toContain("http://localhost:3000/healthz");
        expect(spec.resources.limits.memoryBytes).toBe(768 * 1024 * 1024);
        expect(spec.containerSpec.commands).toEqual(["/bin/sh", "-c", "ulimit -n 100000 && exec /run.sh"]);
        expect(spec.placement.prefs).toEqual(["spread=node.labels.zone"]);
    });

    it("mounts each secret from a Docker secret readable by Grafana only, never in env", async () => {
        tenant("sec");
        await settled();
        const container = mocks.one(SERVICE, "sec").inputs.taskSpec.containerSpec;
        const files = container.secrets.map((s: any) => s.fileName).sort();
        expect(files).toEqual(["grafana-admin-password", "grafana-db-password", "grafana-secret-key", "live-redis-password"]);
        for (const s of container.secrets) expect(s).toMatchObject({ fileUid: "472", fileMode: 0o400 });
        const envText = JSON.stringify(container.env);
        for (const value of Object.values(store("sec"))) {
            if (value.includes("-of-")) expect(envText).not.toContain(value);
        }
        // the secret's data is the value, base64: present in the secret, and the name carries no value
        const dbSecret = mocks.ofType(SECRET).find((r) => r.name === "sec-grafana-db-password")!;
        expect(Buffer.from(dbSecret.inputs.data, "base64").toString()).toBe("db-password-of-sec");
        expect(dbSecret.secretPaths).toContain("data");
        expect(dbSecret.inputs.name).toMatch(/^pug-sec-db-[0-9a-f]{12}$/);
    });

    it("keeps every Docker object name of the longest possible id within Docker's 64 characters", async () => {
        const longest = `a${"b".repeat(39)}`;
        tenant(longest, {
            datasources: { list: [datasourceSchema.parse({ name: "Graphite", type: "graphite", url: "https://graphite.example.com" })] },
        });
        await settled();
        const named = mocks.resources.filter(
            (r) => (r.type === SECRET || r.type === "docker:index/serviceConfig:ServiceConfig") && r.name.startsWith(longest),
        );
        expect(named.length).toBe(4);
        for (const r of named) expect(r.inputs.name.length, r.inputs.name).toBeLessThanOrEqual(64);
    });

    it("names secrets by content, so a new password makes a new secret instead of mutating one", async () => {
        tenant("rot1", { userId: "rot", store: { ...store("rot"), password: "first" } });
        tenant("rot2", { userId: "rot", store: { ...store("rot"), password: "second" } });
        await settled();
        const nameOf = (n: string) => mocks.one(SECRET, `${n}-grafana-db-password`).inputs.name;
        expect(nameOf("rot1")).not.toBe(nameOf("rot2"));
        // unchanged content, unchanged name: no churn on every preview
        expect(mocks.one(SECRET, "rot1-grafana-secret-key").inputs.name).toBe(mocks.one(SECRET, "rot2-grafana-secret-key").inputs.name);
    });

    it("refuses bad arguments before registering anything", async () => {
        await settled();
        const before = mocks.resources.length;
        expect(() => tenant("bad", { replicas: 0 })).toThrow('GrafanaTenant bad (user "bad"): replicas must be a whole number >= 1');
        expect(() => tenant("bad2", { settings: { database: { name: "grafana_other" } } })).toThrow(
            'user "bad2": settings.database.name is refused (Grafana reads it as GF_DATABASE_NAME)',
        );
        await settled();
        expect(mocks.resources.slice(before).map((r) => `${r.type} ${r.name}`)).toEqual([]);
    });
});

describe("Grafana sign-in with the platform's JWTs", () => {
    it("accepts only tokens whose audience names this user, verified with the platform's key", () => {
        const acme = mod.grafanaEnvironment({ ...baseSpec, jwt: {} });
        const globex = mod.grafanaEnvironment({ ...baseSpec, userId: "globex", jwt: { grafanaHeader: "X-Platform-Token", roleAttributePath: "role" } });
        expect(acme).toMatchObject({
            GF_AUTH_JWT_ENABLED: "true",
            GF_AUTH_JWT_HEADER_NAME: "X-JWT-Assertion",
            GF_AUTH_JWT_KEY_FILE: mod.JWT_PUBLIC_KEY_PATH,
            GF_AUTH_JWT_USERNAME_CLAIM: "sub",
            GF_AUTH_JWT_EMAIL_CLAIM: "email",
        });
        expect(JSON.parse(acme.GF_AUTH_JWT_EXPECT_CLAIMS)).toEqual({ aud: "pug:grafana:acme" });
        expect(JSON.parse(globex.GF_AUTH_JWT_EXPECT_CLAIMS)).toEqual({ aud: "pug:grafana:globex" });
        expect(globex).toMatchObject({ GF_AUTH_JWT_HEADER_NAME: "X-Platform-Token", GF_AUTH_JWT_ROLE_ATTRIBUTE_PATH: "role" });
        expect(acme.GF_AUTH_JWT_ROLE_ATTRIBUTE_PATH).toBeUndefined();
    });

    it("leaves [auth.jwt] off without it, and a user cannot switch it on or off", () => {
        expect(Object.keys(mod.grafanaEnvironment(baseSpec)).filter((k) => k.startsWith("GF_AUTH_JWT"))).toEqual([]);
        expect(() => mod.grafanaEnvironment({ ...baseSpec, jwt: {}, settings: { "auth.jwt": { expect_claims: "{}" } } })).toThrow(
            /settings\.auth\.jwt\.expect_claims is refused \(Grafana reads it as GF_AUTH_JWT_EXPECT_CLAIMS\)/,
        );
    });

    it("mounts the platform's public key, a Docker config, where [auth.jwt] key_file points", async () => {
        const publicKey = new docker.ServiceConfig("jwt-key", { name: "pug-jwt-public-key-abc", data: "cGVt" });
        const redisSecret = new docker.Secret("jwt-redis-pw", { name: "redis-pw", data: "eA==" });
        new mod.GrafanaTenant("jwt-user", {
            userId: "acme",
            domain: "metrics.example.com",
            image: mod.DEFAULT_GRAFANA_IMAGE,
            store: { databaseName: "grafana_acme", username: "grafana_acme", password: "p", secretKey: "k", adminPassword: "a" },
            databaseHost: "pug-mysql:3306",
            liveRedis: { address: "pug-live-redis:6379", passwordSecret: redisSecret },
            networkIds: ["proxy-net-id"],
            jwtAuth: { publicKey },
        });
        await settled();
        const spec = mocks.one(SERVICE, "jwt-user").inputs.taskSpec.containerSpec;
        expect(spec.configs).toEqual([
            { configId: "jwt-key-id", configName: "pug-jwt-public-key-abc", fileName: mod.JWT_PUBLIC_KEY_PATH, fileUid: "472", fileGid: "472", fileMode: 0o444 },
        ]);
        expect(spec.env.GF_AUTH_JWT_KEY_FILE).toBe(mod.JWT_PUBLIC_KEY_PATH);
        expect(JSON.parse(spec.env.GF_AUTH_JWT_EXPECT_CLAIMS)).toEqual({ aud: "pug:grafana:acme" });
    });
});
