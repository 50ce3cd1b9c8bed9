/**
 * The stack program (index.ts) under the mock runtime with release channels, a registry and
 * datasources: which image each user's service runs, in what order one `pulumi up` moves them,
 * what an upgrade changes, and where the credentials go.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { RegisteredResource } from "./harness/pulumiMocks";
import { loadStackFile } from "./harness/stackFiles";
import { lastRunResources, plainTextLeaks, runStackProgram, type StackRun } from "./harness/stackProgram";

const SERVICE = "docker:index/service:Service";
const IMAGE = "docker:index/image:Image";
const TENANT = "pug:grafana:GrafanaTenant";
const PROVISIONING_FILE = "/etc/grafana/provisioning/datasources/pug.yaml";

const dev = loadStackFile("dev");
const registry = { repository: "registry.example.com/pug/grafana", username: "pug-ci", password: "registry-password-0f3c9a" };
const graphiteKey = "graphite-key-of-carol-7d1e42";
const channels = {
    canary: { version: "12.1.0", plugins: ["grafana-clock-panel@2.1.8", "yesoreyeram-infinity-datasource@3.3.0"], wave: 0 },
    stable: { version: "12.0.2", plugins: ["grafana-clock-panel@2.1.8"] },
};
const users = [
    { id: "alice", channel: "canary" },
    { id: "bob", datasources: [{ name: "Prometheus", type: "prometheus", url: "https://prom.example.com/bob", isDefault: true }] },
    {
        id: "carol",
        channel: "stable",
        datasources: [
            {
                name: "Graphite",
                type: "graphite",
                url: "https://graphite.example.com/carol",
                basicAuth: true,
                basicAuthUser: "carol",
                jsonData: { graphiteVersion: "1.1" },
                secureJsonData: { basicAuthPassword: { secret: "graphite" } },
            },
        ],
    },
    { id: "dave", image: "grafana/grafana:11.6.0" },
];
const config = {
    ...dev.config,
    "pug:grafana": { replicas: 3, channels, defaultChannel: "stable" },
    "pug:registry": registry,
    "pug:userSecrets": { carol: { graphite: graphiteKey } },
    "pug:users": users,
};
const secretKeys = ["pug:registry", "pug:userSecrets"];

const label = (r: RegisteredResource, name: string) => r.inputs.labels?.find((l: any) => l.label === name)?.value;
const serviceOf = (run: StackRun, id: string) => run.resources.find((r) => r.type === SERVICE && label(r, "pug.role") === "grafana" && label(r, "pug.user") === id)!;
const tenantOf = (run: StackRun, id: string) => run.resources.find((r) => r.type === TENANT && r.name === `pug-user-${id}`)!;
const buildOf = (run: StackRun, channel: string) => run.resources.find((r) => r.type === IMAGE && r.name === `pug-grafana-${channel}`)!;
const imageOf = (run: StackRun, id: string): string => serviceOf(run, id).inputs.taskSpec.containerSpec.image;
const decoded = (r: RegisteredResource) => Buffer.from(r.inputs.data, "base64").toString("utf8");

describe("a stack with canary and stable channels and a registry", async () => {
    const run = await runStackProgram(config, secretKeys);

    it("builds one image per channel, passing the channel's version and plugins to the Dockerfile", () => {
        expect(run.resources.filter((r) => r.type === IMAGE).map((r) => r.name).sort()).toEqual(["pug-grafana-canary", "pug-grafana-stable"]);
        expect(buildOf(run, "canary").inputs.build.args).toEqual({
            GRAFANA_VERSION: "12.1.0",
            GRAFANA_PLUGINS: "grafana-clock-panel@2.1.8 yesoreyeram-infinity-datasource@3.3.0",
        });
        expect(buildOf(run, "stable").inputs.build.args).toEqual({ GRAFANA_VERSION: "12.0.2", GRAFANA_PLUGINS: "grafana-clock-panel@2.1.8" });
        for (const channel of ["canary", "stable"]) {
            expect(buildOf(run, channel).inputs.build.context).toBe("images/grafana");
            expect(buildOf(run, channel).inputs.imageName.startsWith(`${registry.repository}:`)).toBe(true);
        }
    });

    it("runs each user's service by the digest of its channel's build; a pinned user runs its pin", () => {
        expect(imageOf(run, "alice")).toBe(buildOf(run, "canary").state.repoDigest);
        expect(imageOf(run, "alice")).toMatch(/^registry\.example\.com\/pug\/grafana@sha256:[0-9a-f]{64}$/);
        // bob names no channel: the default one
        expect(imageOf(run, "bob")).toBe(buildOf(run, "stable").state.repoDigest);
        expect(imageOf(run, "carol")).toBe(buildOf(run, "stable").state.repoDigest);
        expect(imageOf(run, "dave")).toBe("grafana/grafana:11.6.0");
        expect(run.outputs.images).toEqual({ alice: imageOf(run, "alice"), bob: imageOf(run, "bob"), carol: imageOf(run, "carol"), dave: "grafana/grafana:11.6.0" });
    });

    it("makes the Swarm pull PUG's builds with the registry credentials, the password as a secret", () => {
        for (const id of ["alice", "bob", "carol"]) {
            const svc = serviceOf(run, id);
            expect(svc.inputs.auth).toEqual({ serverAddress: "registry.example.com", username: "pug-ci", password: registry.password });
            expect(svc.secretPaths.some((p) => p === "auth" || p === "auth.password")).toBe(true);
        }
        expect(serviceOf(run, "dave").inputs.auth).toBeUndefined();
    });

    it("updates the stable users' services only after the canary users' services", () => {
        const canaryService = serviceOf(run, "alice").urn;
        for (const id of ["bob", "carol"]) expect(tenantOf(run, id).options.dependencies, id).toContain(canaryService);
        // the canary and the pinned user wait for no other user's service
        const services = new Set(["alice", "bob", "carol", "dave"].map((id) => serviceOf(run, id).urn));
        for (const id of ["alice", "dave"]) expect(tenantOf(run, id).options.dependencies.filter((d) => services.has(d)), id).toEqual([]);
    });

    it("waits for each service to converge, long enough for a rollout and a rollback one replica at a time", () => {
        for (const id of ["alice", "bob", "carol", "dave"]) {
            const svc = serviceOf(run, id).inputs;
            const replicas = svc.mode.replicated.replicas;
            const perReplica = 90 + Number.parseInt(svc.updateConfig.monitor) + Number.parseInt(svc.updateConfig.delay);
            expect(Number.parseInt(svc.convergeConfig.timeout)).toBeGreaterThanOrEqual(2 * replicas * perReplica);
            expect(svc.updateConfig).toMatchObject({ parallelism: 1, order: "start-first", failureAction: "rollback" });
        }
    });

    it("provisions each user's datasources into its own Grafana: a config without credentials, a secret with them", () => {
        const mounts = (id: string) => serviceOf(run, id).inputs.taskSpec.containerSpec;
        const bobConfig = run.resources.find((r) => r.type === "docker:index/serviceConfig:ServiceConfig" && r.inputs.name === mounts("bob").configs[0].configName)!;
        expect(mounts("bob").configs).toEqual([expect.objectContaining({ fileName: PROVISIONING_FILE, fileUid: "472" })]);
        expect(parse(decoded(bobConfig))).toMatchObject({ apiVersion: 1, datasources: [{ name: "Prometheus", url: "https://prom.example.com/bob", isDefault: true }] });

        const carolMount = mounts("carol").secrets.find((s: any) => s.fileName === PROVISIONING_FILE);
        expect(mounts("carol").configs).toBeUndefined();
        const carolSecret = run.resources.find((r) => r.type === "docker:index/secret:Secret" && r.inputs.name === carolMount.secretName)!;
        expect(carolSecret.secretPaths).toContain("data");
        expect(parse(decoded(carolSecret)).datasources[0]).toMatchObject({ name: "Graphite", basicAuthUser: "carol", secureJsonData: { basicAuthPassword: graphiteKey } });

        for (const id of ["alice", "dave"]) {
            expect(mounts(id).configs).toBeUndefined();
            expect(mounts(id).secrets.map((s: any) => s.fileName)).not.toContain(PROVISIONING_FILE);
        }
    });

    it("puts neither the datasource credential nor the registry password in plain text anywhere", () => {
        expect(plainTextLeaks(run, [graphiteKey, registry.password, ...run.generatedSecrets])).toEqual([]);
    });
});

describe("upgrading the canary channel", async () => {
    const before = await runStackProgram(config, secretKeys);
    const after = await runStackProgram(
        { ...config, "pug:grafana": { replicas: 3, channels: { ...channels, canary: { ...channels.canary, version: "12.1.1" } }, defaultChannel: "stable" } },
        secretKeys,
    );

    it("rebuilds the canary image and moves the canary users' services to its new digest", () => {
        expect(buildOf(after, "canary").inputs.build.args.GRAFANA_VERSION).toBe("12.1.1");
        expect(imageOf(after, "alice")).not.toBe(imageOf(before, "alice"));
        expect(imageOf(after, "alice")).toBe(buildOf(after, "canary").state.repoDigest);
    });

    it("leaves the stable build and every other user's service as they were", () => {
        expect(buildOf(after, "stable").inputs).toEqual(buildOf(before, "stable").inputs);
        for (const id of ["bob", "carol", "dave"]) expect(serviceOf(after, id).inputs, id).toEqual(serviceOf(before, id).inputs);
    });
});

describe("channels without a registry", async () => {
    const run = await runStackProgram({
        ...config,
        "pug:grafana": { channels: { canary: { version: "12.1.0", wave: 0 }, stable: { version: "12.0.2" } }, defaultChannel: "stable" },
        "pug:registry": undefined,
    });

    it("runs the official image at each channel's version and builds nothing", () => {
        expect(run.resources.filter((r) => r.type === IMAGE)).toEqual([]);
        expect(imageOf(run, "alice")).toBe("grafana/grafana:12.1.0");
        expect(imageOf(run, "bob")).toBe("grafana/grafana:12.0.2");
        expect(serviceOf(run, "alice").inputs.auth).toBeUndefined();
    });
});

describe("bad channel, registry and datasource settings stop the program before any resource is registered", () => {
    const withUsers = (...changed: Array<Record<string, unknown>>) => ({ ...config, "pug:users": changed });
    it.each([
        [withUsers({ id: "alice", channel: "beta" }), 'user "alice": channel: "beta" is not one of pug:grafana\'s channels (canary, stable)'],
        [withUsers({ id: "alice", channel: "canary", image: "grafana/grafana:12.1.0" }), 'pug:users: entry 1 (id "alice"): image conflicts with channel "canary"'],
        [{ ...config, "pug:registry": undefined }, "pug:grafana: channels.canary.plugins: baking plugins into an image needs a registry"],
        [{ ...config, "pug:userSecrets": {} }, 'user "carol": datasources.0.secureJsonData.basicAuthPassword (datasource "Graphite"): secret "graphite" is not set'],
        [{ ...config, "pug:registry": { repository: "pug/grafana" } }, "pug:registry: repository: must be a fully qualified repository"],
        [{ ...config, "pug:userSecrets": { Carol: { graphite: "x" } } }, "pug:userSecrets: Carol: is not a user id"],
        [{ ...config, "pug:grafana": { image: "grafana/grafana:12.0.2", channels } }, "pug:grafana: image: conflicts with channels"],
        [withUsers({ id: "bob", datasources: [{ name: "G", type: "graphite", secureJsonData: { basicAuthPassword: "plain" } }] }), 'pug:users: entry 1 (id "bob"): datasources.0.secureJsonData.basicAuthPassword must be a reference'],
    ])("%#: %s", async (bad, message) => {
        const clean = Object.fromEntries(Object.entries(bad).filter(([, v]) => v !== undefined));
        await expect(runStackProgram(clean, secretKeys)).rejects.toThrow(message);
        expect(await lastRunResources()).toEqual([]);
    });
});
