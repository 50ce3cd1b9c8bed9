/**
 * PugPlatform driven directly, as a team importing PUG drives it (no stack config in between):
 * what it registers per user, what it keeps, and what it refuses before registering anything.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { settled, setupPulumiMocks, type MockSetup } from "../test/harness/pulumiMocks";
import type * as platformModule from "./pugPlatform";
import type { GrafanaSettings } from "./specs/tenantSettings";
import type { UserRecord } from "./users/users";

let mocks: MockSetup;
let p: typeof platformModule;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    p = await import("./pugPlatform");
});
beforeEach(() => mocks.reset());

const user = (id: string, extra: Partial<UserRecord> = {}): UserRecord => ({ id, active: true, ...extra });
const platform = (name: string, users: UserRecord[], extra: Partial<platformModule.PugPlatformArgs> = {}) =>
    new p.PugPlatform(name, { domain: "metrics.example.org", users, monitoring: { enabled: false }, ...extra });

describe("PugPlatform", () => {
    it("gives each active user a Grafana service and a database of its own, at the user's URL", async () => {
        const pug = platform("pug", [user("alice"), user("bob", { replicas: 2 })]);
        await settled();
        expect(pug.urls).toEqual({ alice: "https://metrics.example.org/alice/grafana/", bob: "https://metrics.example.org/bob/grafana/" });
        const services = mocks.ofType("docker:index/service:Service").filter((s) => s.inputs.labels.some((l: { value: string }) => l.value === "grafana"));
        expect(services.map((s) => [s.inputs.name, s.inputs.mode.replicated.replicas]).sort()).toEqual([
            ["grafana-alice", 3],
            ["grafana-bob", 2],
        ]);
        const databases = mocks.ofType("mysql:index/database:Database");
        expect(databases.map((d) => d.inputs.name).sort()).toEqual(["grafana_alice", "grafana_bob"]);
        // a database outlives its user's removal from the list, and the stack
        for (const d of databases) expect(d.options.retainOnDelete, d.name).toBe(true);
    });

    it("keeps an inactive user's database and declares no Grafana for it", async () => {
        const pug = platform("pug", [user("alice"), user("bob", { active: false })]);
        await settled();
        expect(pug.activeTenants).toEqual(["alice"]);
        expect(mocks.ofType("docker:index/service:Service").map((s) => s.inputs.name)).not.toContain("grafana-bob");
        expect(mocks.ofType("mysql:index/database:Database").map((d) => d.inputs.name).sort()).toEqual(["grafana_alice", "grafana_bob"]);
    });

    it("refuses a bad user record, naming the user and the field, before registering anything", async () => {
        expect(() => platform("pug", [user("alice"), user("bob", { replicas: 0 })])).toThrow(/bob.*replicas/);
        expect(() => platform("pug", [user("alice"), user("alice")])).toThrow(/alice/);
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("refuses a setting that would open a user's Grafana, in any spelling Grafana reads", async () => {
        const spellings: GrafanaSettings[] = [{ "auth.proxy": { enabled: true } }, { auth: { "proxy.enabled": true } }, { AUTH_PROXY: { ENABLED: true } }];
        for (const settings of spellings) {
            expect(() => platform("pug", [user("mallory", { settings })]), JSON.stringify(settings)).toThrow(/mallory/);
        }
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("keeps an external server's password secret even when a caller passes it as a plain string", async () => {
        platform("pug", [user("alice")], {
            mysql: { mode: "external", endpoint: "mysql.internal:3306", username: "pug_admin", password: "plain-mysql-pw" },
            redis: { mode: "external", address: "redis.internal:6379", password: "plain-redis-pw" },
        });
        await settled();
        const [provider] = mocks.ofType("pulumi:providers:mysql");
        expect(provider.inputs.password).toBe("plain-mysql-pw");
        expect(provider.secretPaths).toContain("password");
        const redisSecret = mocks.ofType("docker:index/secret:Secret").find((r) => r.name.endsWith("live-redis-password"))!;
        expect(redisSecret.secretPaths).toContain("data");
    });

    it("passes pug:proxy's settings to the front proxy as they are, and the JWT's header and claims to every user's Grafana", async () => {
        const publicKey = (await import("crypto")).generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();
        platform("pug", [user("alice")], {
            proxy: { auth: "jwt", jwt: { endpoint: "http://auth.internal/check", publicKey, grafanaHeader: "X-Platform-Jwt", roleAttributePath: "role" }, webSockets: 500, replicas: 3 },
        });
        await settled();
        const conf = Buffer.from(mocks.ofType("docker:index/serviceConfig:ServiceConfig").find((c) => c.inputs.name.startsWith("pug-proxy-nginx-conf"))!.inputs.data, "base64").toString();
        expect(conf).toContain("proxy_set_header X-Platform-Jwt $pug_jwt;");
        expect(conf).toContain("auth_request /_pug/auth;");
        const services = mocks.ofType("docker:index/service:Service");
        expect(services.find((s) => s.inputs.name === "pug-proxy")!.inputs.mode.replicated.replicas).toBe(3);
        const env: Record<string, string> = services.find((s) => s.inputs.name === "grafana-alice")!.inputs.taskSpec.containerSpec.env;
        expect(Object.entries(env)).toEqual(expect.arrayContaining([["GF_AUTH_JWT_HEADER_NAME", "X-Platform-Jwt"], ["GF_AUTH_JWT_ROLE_ATTRIBUTE_PATH", "role"]]));
    });

    it("checks its proxy argument with pug:proxy's schema: a library caller gets the stack's messages", async () => {
        expect(() => platform("pug", [user("alice")], { proxy: { auth: "jwt" } })).toThrow('PugPlatform pug: proxy.jwt is required when auth is "jwt"');
        expect(() => platform("pug", [user("alice")], { proxy: { auth: "jwt", jwt: { endpoint: "http://a/", publicKey: "-----BEGIN PRIVATE KEY-----" } } })).toThrow(/proxy\.jwt\.publicKey is a private key/);
        expect(() => platform("pug", [user("alice")], { proxy: { idleTimeoutSeconds: 5 } })).toThrow(/proxy\.idleTimeoutSeconds must be a whole number above Live's ping interval/);
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("checks its mysql and redis arguments with the schemas pug:mysql and pug:redis are read with", async () => {
        expect(() => platform("pug", [user("alice")], { mysql: { mode: "embedded", memoryLimitMb: 10 } })).toThrow("PugPlatform pug: mysql.memoryLimitMb must be a whole number >= 256");
        expect(() => platform("pug", [user("alice")], { mysql: { mode: "external", endpoint: "db:3306", username: "pug", password: "", tls: "preferred" as never } })).toThrow(
            /mysql\.tls must be true, false or skip-verify[\s\S]*mysql\.password is required/,
        );
        expect(() => platform("pug", [user("alice")], { redis: { mode: "external", address: "redis", password: "pw" } })).toThrow("PugPlatform pug: redis.address must be host:port");
        expect(() => platform("pug", [user("alice")], { redis: { mode: "embedded", image: "Not An Image" } })).toThrow(/redis\.image /);
        // the monitoring is declared last, after every user: its settings are checked first all the same
        expect(() => platform("pug", [user("alice")], { monitoring: { retention: "forever" } })).toThrow("PugPlatform pug: monitoring.retention must be a duration such as 15s, 5m or 15d");
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("checks its domain, URL mode and user secrets as pug:domain, pug:urlMode and pug:userSecrets are", async () => {
        const bad = (extra: Partial<platformModule.PugPlatformArgs>) => () => platform("pug", [user("alice")], extra);
        expect(bad({ domain: "metrics.example.org/evil" })).toThrow("PugPlatform pug: domain must be a host name (letters, digits, dots, dashes), optionally with :port");
        expect(bad({ urlMode: "query" as never })).toThrow('PugPlatform pug: urlMode must be "path"');
        expect(bad({ userSecrets: { alice: { "db pass": "x" } } })).toThrow("PugPlatform pug: userSecrets.alice.db pass a secret name is letters, digits, '_' or '-'");
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("refuses a release channel with neither version nor image, as pug:grafana does (the service would get no image)", async () => {
        expect(() => platform("pug", [user("alice", { channel: "canary" })], { grafana: { replicas: 3, maxReplicas: 10, channels: { canary: {} as never } } })).toThrow(
            "PugPlatform pug: grafana.channels.canary.version a channel needs a version (or a ready-made image)",
        );
        await settled();
        expect(mocks.resources).toEqual([]);
    });
});
