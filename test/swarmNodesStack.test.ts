/**
 * The stack program (index.ts) under mocks with `pug:docker.nodes` and `pug:monitoring`: the
 * settings are validated with errors naming key and field before anything is registered, the
 * swarm is declared from the nodes, their keys stay secret, and Prometheus scrapes every active
 * user of the configuration.
 */
import type * as pulumiType from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { plainTextPaths, promiseOf, settled, setConfig, setupPulumiMocks, type MockSetup } from "./harness/pulumiMocks";
import { loadStackFile } from "./harness/stackFiles";
import { COMMAND_TYPE, fakeCommandOutputs, WORKER_TOKEN } from "./harness/swarmCommands";

let mocks: MockSetup;
let pulumi: typeof pulumiType;
let main: () => Promise<Record<string, any>>;

const KEYS = ["m1", "m2", "m3", "w1"].map((h) => `-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-of-${h}\n-----END OPENSSH PRIVATE KEY-----`);
const NODES = [
    { host: "10.1.0.1", user: "deploy", privateKey: KEYS[0], role: "manager", labels: { zone: "a" } },
    { host: "10.1.0.2", user: "deploy", privateKey: KEYS[1], role: "manager", labels: { zone: "b" } },
    { host: "10.1.0.3", user: "deploy", privateKey: KEYS[2], role: "manager", labels: { zone: "c" } },
    { host: "10.1.0.4", user: "deploy", privateKey: KEYS[3], role: "worker", labels: { zone: "a" } },
];

beforeAll(async () => {
    mocks = await setupPulumiMocks({ stack: "prod", computed: fakeCommandOutputs });
    pulumi = await import("@pulumi/pulumi");
    main = (await import("../index")).default;
});
beforeEach(() => mocks.reset());

/** The dev stack's configuration with these keys changed; pug:docker travels as a secret (its keys are). */
function configure(changes: Record<string, unknown>): void {
    const dev = loadStackFile("dev");
    setConfig({ ...dev.config, ...changes }, [...dev.secretKeys, "pug:docker"]);
}

async function failure(run: () => Promise<unknown>): Promise<string> {
    try {
        await run();
    } catch (err) {
        return (err as Error).message;
    }
    throw new Error("expected the program to fail");
}

describe("pug:docker.nodes and pug:monitoring are validated before anything is registered", () => {
    it.each([
        [{ "pug:docker": { nodes: [{ ...NODES[0], role: "boss" }] } }, "pug:docker: nodes.0.role: must be manager or worker"],
        [{ "pug:docker": { nodes: [{ ...NODES[0], host: "m1:22" }] } }, "pug:docker: nodes.0.host: must be a host name or IP address (no port: give port)"],
        [{ "pug:docker": { host: "ssh://deploy@m1", nodes: NODES } }, "pug:docker: host and nodes exclude each other"],
        [{ "pug:docker": { nodes: [NODES[3]] } }, "pug:docker: nodes: at least one node must be a manager"],
        [{ "pug:docker": { nodes: [{ ...NODES[0], labels: { "pug.host": "x" } }] } }, 'pug:docker: nodes.0.labels: 10.1.0.1: label "pug.host" uses the prefix "pug."'],
        [{ "pug:docker": { nodes: [{ ...NODES[0], advertiseAddress: "m1.example" }] } }, "pug:docker: nodes.0.advertiseAddress: must be an IP address"],
        [{ "pug:docker": { nodeSetup: { engineMetricsPort: 9323 } } }, "pug:docker: nodeSetup: applies to declared nodes only"],
        [{ "pug:monitoring": { scrapeInterval: "often" } }, "pug:monitoring: scrapeInterval: must be a duration such as 15s"],
        [{ "pug:monitoring": { proxyStatusUrl: "pug-proxy:8081" } }, "pug:monitoring: proxyStatusUrl: must be an http(s) URL with a path"],
        [{ "pug:docker": { nodes: NODES }, "pug:monitoring": { engineTargets: { x: "10.0.0.9:9323" } } }, "pug:monitoring: engineTargets: PUG scrapes the engines of pug:docker.nodes itself"],
    ])("%#: %j", async (changes, message) => {
        configure(changes);
        expect(await failure(main)).toContain(message);
        await settled();
        expect(mocks.resources).toEqual([]);
    });
});

describe("the stack with nodes", () => {
    it("makes the swarm from the nodes and points the docker provider at the first manager", async () => {
        configure({ "pug:docker": { nodes: NODES, sshOpts: ["-o", "StrictHostKeyChecking=yes"] } });
        const outputs = await main();
        await settled();
        const provider = mocks.one("pulumi:providers:docker", "pug-swarm-manager");
        expect(provider.inputs.host).toBe("ssh://deploy@10.1.0.1");
        const members = mocks.ofType(COMMAND_TYPE).filter((c) => c.name.endsWith("-member")).map((c) => c.name).sort();
        expect(members).toEqual(NODES.map((n) => `pug-swarm-nodes-${n.host}-member`).sort());
        expect(Object.keys(await promiseOf(outputs.swarmNodeIds))).toEqual(NODES.map((n) => n.host));
        // every Swarm object waits for the nodes: the networks use the provider, which depends on their settings
        const settings = mocks.ofType(COMMAND_TYPE).filter((c) => c.name.endsWith("-settings")).map((c) => c.urn);
        expect(provider.options.dependencies).toEqual(expect.arrayContaining(settings));
    });

    it("never has an SSH key or a join token in plain text, in any input or output", async () => {
        configure({ "pug:docker": { nodes: NODES } });
        const outputs = await main();
        await settled();
        for (const r of mocks.resources) {
            for (const secret of [...KEYS, WORKER_TOKEN]) expect(plainTextPaths(r.rawInputs, secret), `${r.type} ${r.name}`).toEqual([]);
        }
        for (const [name, value] of Object.entries(outputs)) {
            if (value === undefined || !pulumi.Output.isInstance(value)) continue;
            if (await pulumi.isSecret(value)) continue;
            const text = JSON.stringify(await promiseOf(value));
            for (const secret of [...KEYS, WORKER_TOKEN]) expect(text.includes(secret), name).toBe(false);
        }
        expect(await pulumi.isSecret(outputs.operationsGrafanaAdminPassword)).toBe(true);
    });

    it("scrapes every node's engine, the proxy, and every active user's Grafana — not an inactive one", async () => {
        const users = [{ id: "acme" }, { id: "globex", replicas: 2 }, { id: "initech", active: false }];
        configure({ "pug:docker": { nodes: NODES }, "pug:users": users, "pug:monitoring": { proxyStatusUrl: "http://front-proxy:8081/stub_status" } });
        await main();
        await settled();
        const config = mocks.resources.find((r) => r.name === "pug-monitoring-prometheus-config")!;
        const jobs = (parse(Buffer.from(config.inputs.data, "base64").toString("utf8")) as { scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[] }).scrape_configs;
        expect(jobs.map((j) => j.job_name).filter((n) => n.startsWith("grafana-"))).toEqual(["grafana-acme", "grafana-globex"]);
        expect(jobs.find((j) => j.job_name === "docker-engine")!.static_configs!.flatMap((s) => s.targets)).toEqual(NODES.map((n) => `${n.host}:9323`));
        expect(jobs.find((j) => j.job_name === "nginx")).toBeDefined();
        expect(mocks.one("docker:index/service:Service", "pug-monitoring-nginx-exporter").inputs.taskSpec.containerSpec.args).toEqual(["--nginx.scrape-uri=http://front-proxy:8081/stub_status"]);
    });
});

describe("the dev stack as it is (an existing local swarm)", () => {
    it("declares no node commands, and monitoring covers the sample users", async () => {
        configure({});
        await main();
        await settled();
        expect(mocks.ofType(COMMAND_TYPE)).toEqual([]);
        const config = mocks.resources.find((r) => r.name === "pug-monitoring-prometheus-config")!;
        const text = Buffer.from(config.inputs.data, "base64").toString("utf8");
        expect(text).toContain("tasks.grafana-alice");
        expect(text).toContain("tasks.grafana-bob");
    });

    it("leaves monitoring out when disabled", async () => {
        configure({ "pug:monitoring": { enabled: false } });
        await main();
        await settled();
        expect(mocks.resources.filter((r) => r.name.startsWith("pug-monitoring"))).toEqual([]);
    });
});
