/**
 * A stack that imports PUG, previewed through the real Pulumi engine (`npm run test:e2e` runs it
 * beside platform.e2e.ts, one file at a time, each with a Docker engine of its own): the consumer
 * project of test/consumer.test.ts (harness/consumerProject.ts: made like `pulumi new typescript`
 * makes it, PUG installed from the packed tarball, PugPlatform with its defaults and a user source
 * of its own), its docker provider pointed at a Docker engine in Swarm mode that this test starts
 * (the provider pings it when configured), then `pulumi preview --json` in the consumer's own
 * directory, with the consumer's own node_modules.
 *
 * Its stack config declares two release channels but no registry: the docker provider built here
 * has no `docker:index/image:Image` (README, "The real engine"), so a channel built into a
 * registry cannot be previewed on this engine; test/consumer.test.ts covers that under the mocks.
 */
import { randomBytes } from "crypto";
import { mkdtempSync, rmSync } from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantDatabaseName, tenantServiceName } from "../../components/specs/naming";
import { consumerProject, CONSUMER_PROJECT, packWorkTree } from "../harness/consumerProject";
import { ensureDebianPackages, startSwarmHost, type SwarmHost } from "./dockerd";
import { provideEngine, PulumiStack, type CommandResult, type PlanStep } from "./pulumiStack";
import { stopwatch } from "./stopwatch";

/** The users of the consumer's own source (CONSUMER_PROGRAM). */
const USERS = ["payments", "search"];
/** payments' Graphite key: a secret of the consumer's stack config, unique to the run so a search for it finds only a leak. */
const GRAPHITE_KEY = `graphite-${randomBytes(16).toString("hex")}`;

const { timed, report } = stopwatch("consumer e2e timings");

let workDir: string;
let host: SwarmHost;
let preview: { steps: PlanStep[]; result: CommandResult };

beforeAll(async () => {
    ensureDebianPackages({ dockerd: "docker.io", ip: "iproute2" });
    workDir = mkdtempSync("/tmp/pug-e2e-consumer-");
    const engine = await timed("engine: built, or found in the cache", () => provideEngine(workDir));
    const consumerDir = await timed("npm pack, and npm install of the tarball into the consumer", () =>
        consumerProject(path.join(workDir, "consumer"), packWorkTree(workDir).tarball),
    );
    host = await timed("dockerd start and swarm init", () => startSwarmHost());
    const stack = new PulumiStack("consumer", path.join(workDir, "stack"), engine, undefined, consumerDir);
    await stack.init();
    await stack.setConfig(
        {
            // the test's engine; no IPVS on this machine, so services are addressed by DNS round robin
            [`${CONSUMER_PROJECT}:swarm`]: { host: `unix://${host.socketPath}`, endpointMode: "dnsrr" },
            // channels run the official image at their version: no registry (see the top of this file)
            [`${CONSUMER_PROJECT}:grafana`]: { channels: { canary: { version: "12.1.0", wave: 0 }, stable: { version: "12.0.2", wave: 1 } }, defaultChannel: "stable" },
            [`${CONSUMER_PROJECT}:graphiteKey`]: GRAPHITE_KEY,
        },
        [`${CONSUMER_PROJECT}:graphiteKey`],
    );
    preview = await timed("pulumi preview", () => stack.preview());
}, 20 * 60_000);

afterAll(() => {
    host?.teardown();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    report();
}, 5 * 60_000);

/** The `name` input of what the plan creates of one type (a Docker service's name, a database's). */
const createdNames = (type: string) => preview.steps.filter((s) => s.op === "create" && s.type === type).map((s) => s.inputs.name as string);

describe("a stack that imports PUG from its tarball, previewed through the real Pulumi engine", () => {
    it("previews without error", () => {
        expect(preview.result.code, `${preview.result.stdout.slice(-4000)}\n${preview.result.stderr}`).toBe(0);
    });

    it("configures the docker provider with the consumer's Swarm: the engine this test started", () => {
        const [provider] = preview.steps.filter((s) => s.type === "pulumi:providers:docker");
        expect(provider.inputs.host).toBe(`unix://${host.socketPath}`);
    });

    it("creates each user of the consumer's source: a GrafanaTenant, its Swarm service and its database", () => {
        const tenants = preview.steps.filter((s) => s.op === "create" && s.type === "pug:grafana:GrafanaTenant").map((s) => s.name);
        expect(tenants.sort()).toEqual(USERS.map((id) => `pug-user-${id}`));
        expect(createdNames("docker:index/service:Service")).toEqual(expect.arrayContaining(USERS.map(tenantServiceName)));
        expect(createdNames("mysql:index/database:Database").sort()).toEqual(USERS.map(tenantDatabaseName));
    });

    it("creates the monitoring's services (on by default): Prometheus, the proxy's exporter, the operations Grafana", () => {
        expect(createdNames("docker:index/service:Service")).toEqual(expect.arrayContaining(["pug-prometheus", "pug-nginx-exporter", "pug-ops-grafana"]));
    });

    it("replaces and deletes nothing: a new stack's plan only creates", () => {
        expect(preview.steps.length).toBeGreaterThan(0);
        expect([...new Set(preview.steps.map((s) => s.op))]).toEqual(["create"]);
    });

    it("shows no secret in plain text: payments' Graphite key goes into a Docker secret the plan shows as [secret]", () => {
        // the file of payments' datasources, which holds the key, is a Docker secret; `preview
        // --json --show-secrets` still masks it in this engine, so its content cannot be checked here
        const datasources = preview.steps.filter((s) => s.type === "docker:index/secret:Secret" && String(s.inputs.name).startsWith("pug-payments-ds-"));
        expect(datasources.map((s) => s.inputs.data)).toEqual(["[secret]"]);
        // and the key is nowhere in what the preview printed, nor in any value base64-encoded there
        // (Docker configs and secrets carry their file so)
        const printed = `${preview.result.stdout}\n${preview.result.stderr}`;
        const decoded = [...printed.matchAll(/"([A-Za-z0-9+/]{16,}={0,2})"/g)].map((m) => Buffer.from(m[1], "base64").toString("utf8"));
        for (const text of [printed, ...decoded]) expect(text.includes(GRAPHITE_KEY)).toBe(false);
    });
});
