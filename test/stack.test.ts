/**
 * The stack program (index.ts) under the mock runtime, with the dev and prod stack files as the
 * Pulumi CLI would pass them: what a `pulumi up` would declare for each.
 */
import { describe, expect, it } from "vitest";
import { lastRunResources, plainTextLeaks, runStackProgram, type StackRun } from "./harness/stackProgram";
import { loadStackFile } from "./harness/stackFiles";
import type { RegisteredResource } from "./harness/pulumiMocks";
import { swarmDuration } from "../components/dockerObjects";

const SERVICE = "docker:index/service:Service";
const label = (r: RegisteredResource, name: string) => r.inputs.labels?.find((l: any) => l.label === name)?.value;
const grafanaServices = (run: StackRun) => run.resources.filter((r) => r.type === SERVICE && label(r, "pug.role") === "grafana");
const serviceOf = (run: StackRun, id: string) => {
    const found = grafanaServices(run).filter((r) => label(r, "pug.user") === id);
    expect(found, `one Grafana service for ${id}`).toHaveLength(1);
    return found[0].inputs;
};
const envOf = (run: StackRun, id: string): Record<string, string> => serviceOf(run, id).taskSpec.containerSpec.env;

describe("dev stack (local engine, embedded MySQL and Redis)", async () => {
    const dev = loadStackFile("dev");
    const run = await runStackProgram(dev.config, dev.secretKeys);

    it("exports the users, their URLs and service names", () => {
        expect(run.outputs.tenants).toEqual(["alice", "bob"]);
        expect(run.outputs.urls).toEqual({ alice: "https://localhost/alice/grafana/", bob: "https://localhost/bob/grafana/" });
        expect(run.outputs.serviceNames).toEqual({ alice: "grafana-alice", bob: "grafana-bob" });
    });

    it("declares one Grafana service per user, with the stack default and the per-user replicas", () => {
        expect(grafanaServices(run)).toHaveLength(2);
        expect(serviceOf(run, "alice").mode.replicated.replicas).toBe(3);
        expect(serviceOf(run, "bob").mode.replicated.replicas).toBe(2);
        expect(envOf(run, "alice").GF_USERS_DEFAULT_THEME).toBe("dark");
        expect(envOf(run, "bob").GF_USERS_DEFAULT_THEME).toBe("light");
        expect(envOf(run, "bob").GF_DASHBOARDS_MIN_REFRESH_INTERVAL).toBe("10s");
        expect(envOf(run, "alice")).not.toHaveProperty("GF_DASHBOARDS_MIN_REFRESH_INTERVAL");
    });

    it("runs MySQL and Redis in the Swarm, MySQL on a retained volume, reachable from pulumi up", () => {
        const mysql = run.resources.find((r) => r.type === SERVICE && label(r, "pug.role") === "mysql")!;
        const redis = run.resources.find((r) => r.type === SERVICE && label(r, "pug.role") === "live-redis")!;
        expect(mysql.inputs.taskSpec.containerSpec.env).toEqual({ MYSQL_ROOT_PASSWORD_FILE: "/run/secrets/mysql-root-password" });
        expect(mysql.inputs.endpointSpec.ports).toEqual([{ targetPort: 3306, publishedPort: 3306, publishMode: "host", protocol: "tcp" }]);
        const volume = run.resources.find((r) => r.type === "docker:index/volume:Volume")!;
        expect(volume.options.retainOnDelete).toBe(true);
        expect(mysql.inputs.taskSpec.containerSpec.mounts[0]).toMatchObject({ type: "volume", source: volume.inputs.name, target: "/var/lib/mysql" });
        const provider = run.resources.find((r) => r.type === "pulumi:providers:mysql")!;
        expect(provider.inputs.endpoint).toBe("127.0.0.1:3306");
        expect(provider.secretPaths).toContain("password");
        expect(redis.inputs.mode.replicated.replicas).toBe(1);
        expect(envOf(run, "alice").GF_DATABASE_HOST).toBe("pug-mysql:3306");
        expect(envOf(run, "alice")).not.toHaveProperty("GF_DATABASE_SSL_MODE");
        expect(envOf(run, "alice").GF_LIVE_HA_ENGINE_ADDRESS).toBe("pug-live-redis:6379");
    });

    it("creates every user's databases through the mysql provider, and Grafana only after its grant", () => {
        const provider = run.resources.find((r) => r.type === "pulumi:providers:mysql")!;
        const dbs = run.resources.filter((r) => r.type === "mysql:index/database:Database");
        expect(dbs.map((d) => d.inputs.name).sort()).toEqual(["grafana_alice", "grafana_bob"]);
        for (const db of dbs) expect(db.provider).toContain(provider.name);
        for (const id of ["alice", "bob"]) {
            const svc = grafanaServices(run).find((r) => label(r, "pug.user") === id)!;
            const tenantComponent = run.resources.find((r) => r.urn === svc.parentUrn)!;
            // the Grafana component waits for the user's store: its database, DB user and grant
            const grant = run.resources.find((r) => r.type === "mysql:index/grant:Grant" && r.inputs.database === `grafana_${id}`)!;
            expect(tenantComponent.options.dependencies).toContain(grant.urn);
        }
    });

    it("joins every Grafana to both overlay networks by id, never by name", () => {
        const networkIds = run.resources.filter((r) => r.type === "docker:index/network:Network").map((r) => `${r.name}-id`);
        for (const svc of grafanaServices(run)) {
            expect(svc.inputs.taskSpec.networksAdvanceds.map((n: any) => n.id).sort()).toEqual(networkIds.sort());
        }
    });

    it("exports the operations Grafana's admin password only as a Pulumi secret", () => {
        expect(run.outputs.operationsGrafanaAdminPassword).toBeTruthy();
        expect(run.secretOutputPaths).toEqual(["operationsGrafanaAdminPassword"]);
    });

    it("puts no generated password in plain text anywhere", () => {
        expect(run.generatedSecrets.length).toBeGreaterThanOrEqual(8);
        expect(plainTextLeaks(run, run.generatedSecrets)).toEqual([]);
    });

    it("gives each user a Live and alerting prefix of its own", () => {
        const prefixes = ["alice", "bob"].map((id) => envOf(run, id).GF_LIVE_HA_PREFIX);
        const alerting = ["alice", "bob"].map((id) => envOf(run, id).GF_UNIFIED_ALERTING_HA_REDIS_PREFIX);
        expect(new Set(prefixes).size).toBe(2);
        expect(new Set(alerting).size).toBe(2);
    });
});

describe("prod stack (remote manager, external MySQL and Redis)", async () => {
    const prod = loadStackFile("prod");
    const run = await runStackProgram(prod.config, prod.secretKeys);

    it("talks to the remote manager over SSH and encrypts the overlay networks", () => {
        const provider = run.resources.find((r) => r.type === "pulumi:providers:docker")!;
        expect(provider.inputs.host).toBe("ssh://deploy@swarm-manager-1.example.internal");
        for (const net of run.resources.filter((r) => r.type === "docker:index/network:Network")) {
            expect(net.inputs.options).toEqual({ encrypted: "true" });
        }
    });

    it("uses the external MySQL and Redis and runs neither in the Swarm", () => {
        const roles = run.resources.filter((r) => r.type === SERVICE).map((r) => label(r, "pug.role"));
        expect(roles).not.toContain("mysql");
        expect(roles).not.toContain("live-redis");
        const provider = run.resources.find((r) => r.type === "pulumi:providers:mysql")!;
        expect(provider.inputs).toMatchObject({ endpoint: "mysql.example.internal:3306", username: "pug_admin", tls: "true" });
        expect(provider.secretPaths).toContain("password");
        expect(envOf(run, "acme").GF_DATABASE_HOST).toBe("mysql.example.internal:3306");
        // Grafana's own connection is as encrypted as the provider's
        expect(envOf(run, "acme").GF_DATABASE_SSL_MODE).toBe("true");
        expect(envOf(run, "acme").GF_LIVE_HA_ENGINE_ADDRESS).toBe("redis.example.internal:6379");
        const redisSecret = run.resources.find((r) => r.type === "docker:index/secret:Secret" && r.inputs.name.startsWith("pug-live-redis-password-"))!;
        expect(redisSecret.secretPaths).toContain("data");
    });

    it("keeps an inactive user's database and drops only its service", () => {
        expect(run.outputs.tenants).toEqual(["acme", "globex", "initech"]);
        expect(Object.keys(run.outputs.urls)).toEqual(["acme", "globex"]);
        expect(grafanaServices(run).map((r) => label(r, "pug.user")).sort()).toEqual(["acme", "globex"]);
        const initechDb = run.resources.find((r) => r.type === "mysql:index/database:Database" && r.inputs.name === "grafana_initech")!;
        expect(initechDb.options.retainOnDelete).toBe(true);
        expect(run.resources.find((r) => r.type === "mysql:index/grant:Grant" && r.inputs.database === "grafana_initech")).toBeDefined();
    });

    it("applies the stack's Grafana defaults and the per-user overrides", () => {
        expect(serviceOf(run, "acme").mode.replicated.replicas).toBe(3);
        expect(serviceOf(run, "globex").mode.replicated.replicas).toBe(4);
        expect(serviceOf(run, "acme").taskSpec.placement.maxReplicas).toBe(1);
        expect(envOf(run, "acme").GF_LIVE_MAX_CONNECTIONS).toBe("1000");
    });

    it("puts neither the configured secrets nor generated passwords in plain text", () => {
        expect(prod.secretValues).toHaveLength(2);
        expect(plainTextLeaks(run, [...prod.secretValues, ...run.generatedSecrets])).toEqual([]);
    });
});

describe("the platform's own Docker objects never take a name a user's could", async () => {
    // A user's secrets and configs are pug-<id>-<purpose>-<hash> (tenantObjectName), in the same
    // namespaces as the platform's (Docker keeps secrets and configs apart): e.g. a user
    // "ops-grafana" must not meet the operations Grafana's admin secret.
    const tenantShaped = (purposes: string) => new RegExp(`^pug-[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?-(${purposes})-[0-9a-f]{12}$`);
    const namespaces = [
        { type: "docker:index/secret:Secret", shape: tenantShaped("db|admin|key|ds") },
        // a user's only config is its datasources' provisioning
        { type: "docker:index/serviceConfig:ServiceConfig", shape: tenantShaped("ds") },
    ];
    for (const stack of ["dev", "prod"] as const) {
        it(stack, async () => {
            const file = loadStackFile(stack);
            const run = await runStackProgram(file.config, file.secretKeys);
            for (const { type, shape } of namespaces) {
                const objects = run.resources.filter((r) => r.type === type);
                const platform = objects.filter((r) => !r.name.startsWith("pug-user-"));
                expect(platform.length, type).toBeGreaterThan(0);
                for (const r of platform) expect(r.inputs.name, r.name).not.toMatch(shape);
                for (const r of objects.filter((o) => o.name.startsWith("pug-user-") && o.name.endsWith("-datasources") === (type === namespaces[1].type))) {
                    expect(r.inputs.name, r.name).toMatch(shape);
                }
            }
        });
    }
});

describe("a per-user override changes only that user", async () => {
    const dev = loadStackFile("dev");
    const users = dev.config["pug:users"] as Array<Record<string, unknown>>;
    const before = await runStackProgram(dev.config);
    const changed = users.map((u) => (u.id === "bob" ? { ...u, theme: "dark", replicas: 5, image: "grafana/grafana:12.1.0" } : u));
    const after = await runStackProgram({ ...dev.config, "pug:users": changed });

    it("changes bob's service", () => {
        expect(serviceOf(after, "bob")).not.toEqual(serviceOf(before, "bob"));
        expect(serviceOf(after, "bob").taskSpec.containerSpec.image).toBe("grafana/grafana:12.1.0");
        expect(serviceOf(after, "bob").mode.replicated.replicas).toBe(5);
    });

    it("leaves every resource of alice's untouched", () => {
        const alices = (run: StackRun) => run.resources.filter((r) => r.name.includes("alice")).map((r) => [r.type, r.name, r.inputs]);
        expect(alices(after).length).toBeGreaterThan(5);
        expect(alices(after)).toEqual(alices(before));
    });
});

describe("how services are addressed on the overlay networks", async () => {
    const dev = loadStackFile("dev");
    const modes = (run: StackRun) => run.resources.filter((r) => r.type === SERVICE).map((r) => `${label(r, "pug.role")} ${r.inputs.endpointSpec?.mode}`).sort();

    const everyRole = ["grafana", "grafana", "live-redis", "mysql", "nginx-exporter", "ops-grafana", "prometheus", "proxy"];

    it("is a virtual IP by default, for every service", async () => {
        const run = await runStackProgram(dev.config);
        expect(modes(run)).toEqual(everyRole.map((role) => `${role} vip`));
    });

    it("is DNS round robin for every service when pug:docker.endpointMode says so (nodes without IPVS)", async () => {
        const run = await runStackProgram({ ...dev.config, "pug:docker": { endpointMode: "dnsrr" } });
        expect(modes(run)).toEqual(everyRole.map((role) => `${role} dnsrr`));
        // the embedded MySQL keeps its host-mode port for the mysql provider
        const mysql = run.resources.find((r) => r.type === SERVICE && label(r, "pug.role") === "mysql")!;
        expect(mysql.inputs.endpointSpec.ports).toEqual([{ targetPort: 3306, publishedPort: 3306, publishMode: "host", protocol: "tcp" }]);
    });
});

describe("malformed settings stop the program before any resource is registered", () => {
    const dev = loadStackFile("dev");
    it.each([
        [{ "pug:mysql": { endpoint: "db.internal:3306" } }, "pug:mysql: username: is required with endpoint"],
        [{ "pug:mysql": { endpoint: "db.internal" } }, "pug:mysql: endpoint: must be host:port"],
        [{ "pug:redis": { address: "redis:6379", pasword: "x" } }, 'pug:redis: Unrecognized key: "pasword"'],
        [{ "pug:grafana": { replicas: 0 } }, "pug:grafana: replicas: must be a whole number >= 1"],
        [{ "pug:docker": { host: "tcp://m:2375" } }, 'pug:docker: host "tcp://m:2375" is TCP'],
        [{ "pug:docker": { endpointMode: "ipvs" } }, "pug:docker: endpointMode:"],
        [{ "pug:domain": undefined }, "pug:domain: is required"],
        [{ "pug:users": [{ id: "alice" }, { id: "Bob" }] }, 'pug:users: entry 2 (id "Bob"): id must be a lowercase letter'],
        [{ "pug:users": [{ id: "alice", settings: { database: { host: "other:3306" } } }] }, 'pug:users: entry 1 (id "alice"): settings.database.host is refused (Grafana reads it as GF_DATABASE_HOST)'],
    ])("%o", async (override, message) => {
        const config: Record<string, unknown> = { ...dev.config, ...override };
        for (const [k, v] of Object.entries(config)) if (v === undefined) delete config[k];
        await expect(runStackProgram(config)).rejects.toThrow(message);
        expect(await lastRunResources()).toEqual([]);
    });

    it("reports the problems of every key in one run", async () => {
        const config = { ...dev.config, "pug:grafana": { replicas: 0 }, "pug:redis": { address: "nohost" } };
        await expect(runStackProgram(config)).rejects.toThrow(/pug:redis: address: must be host:port[\s\S]*pug:grafana: replicas/);
    });
});

/**
 * The docker provider reads a service back from the Swarm and compares it with what the program
 * declares: a value the Swarm reports differently ("60s" comes back as "1m"; a restart policy
 * without a window comes back with "0s") would plan an update of the service on every preview.
 */
describe("every service is declared the way the Swarm reports it back", async () => {
    const stacks = await Promise.all(
        (["dev", "prod"] as const).map(async (name) => {
            const file = loadStackFile(name);
            return { name, run: await runStackProgram(file.config, file.secretKeys) };
        }),
    );
    const durations = (svc: any): Array<[string, string | undefined]> => [
        ["healthcheck.interval", svc.taskSpec.containerSpec.healthcheck?.interval],
        ["healthcheck.timeout", svc.taskSpec.containerSpec.healthcheck?.timeout],
        ["healthcheck.startPeriod", svc.taskSpec.containerSpec.healthcheck?.startPeriod],
        ["stopGracePeriod", svc.taskSpec.containerSpec.stopGracePeriod],
        ["restartPolicy.delay", svc.taskSpec.restartPolicy?.delay],
        ["restartPolicy.window", svc.taskSpec.restartPolicy?.window],
        ["updateConfig.delay", svc.updateConfig?.delay],
        ["updateConfig.monitor", svc.updateConfig?.monitor],
        ["rollbackConfig.delay", svc.rollbackConfig?.delay],
        ["rollbackConfig.monitor", svc.rollbackConfig?.monitor],
    ];

    it("writes every duration in the provider's canonical form, and every restart policy's window", () => {
        for (const { name, run } of stacks) {
            const services = run.resources.filter((r) => r.type === SERVICE);
            expect(services.length, name).toBeGreaterThan(3);
            for (const svc of services) {
                for (const [field, value] of durations(svc.inputs)) {
                    if (value !== undefined) expect(value, `${name}: ${svc.inputs.name} ${field}`).toBe(swarmDuration(value));
                }
                expect(svc.inputs.taskSpec.restartPolicy?.window, `${name}: ${svc.inputs.name} restartPolicy.window`).toBeDefined();
            }
        }
    });

    it("formats durations as Go's time.Duration does, less a trailing zero unit", () => {
        const cases: Record<string, string> = { "0s": "0s", "500ms": "500ms", "1.5s": "1.5s", "10s": "10s", "60s": "1m", "90s": "1m30s", "2m": "2m", "3600s": "1h", "5400s": "1h30m", "3661s": "1h1m1s", "1h0m30s": "1h0m30s" };
        for (const [given, read] of Object.entries(cases)) expect(swarmDuration(given), given).toBe(read);
        expect(() => swarmDuration("1 minute")).toThrow(/not a duration/);
    });
});
