/**
 * The Swarm scripts against real Docker engines: two dockerd "hosts" in network namespaces of
 * their own (test/harness/realDockerHosts.ts). The first initialises a swarm, the second joins it
 * with the token read back from the first, gets its labels, then is drained, leaves and is
 * removed — and running the create scripts again leaves the engines' objects untouched (the node
 * spec's version does not move).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RealDockerHosts, realDockerUnavailable, type RealHost } from "./harness/realDockerHosts";
import { EXPORTER_METRICS } from "../components/specs/exporterMetrics";
import { drainScript, joinTokensScript, leaveScript, memberScript, nodeSettingsScript, parseJoinTokens, parseNodeId, removeNodeScript } from "../components/specs/swarmScripts";

const METRICS = "0.0.0.0:9323";
const metricNames = (text: string) => text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]);
const unavailable = realDockerUnavailable();
let engines: RealDockerHosts;
let a: RealHost;
let b: RealHost;

describe("the Swarm scripts on real Docker engines", () => {
    beforeAll(async () => {
        if (unavailable) throw new Error(`real Docker engines cannot run: ${unavailable}`);
        engines = new RealDockerHosts(["a", "b"], { metricsAddress: METRICS });
        [a, b] = await engines.start();
    }, 120_000);
    afterAll(async () => {
        await engines?.stop();
    }, 60_000);

    const member = (h: RealHost, bootstrap: boolean, claim: string) =>
        memberScript({
            role: bootstrap ? "manager" : "worker",
            bootstrap,
            advertiseAddress: h.address,
            joinAddress: `${a.address}:2377`,
            claim,
            claimFile: h.claimFile,
            metrics: { address: METRICS, daemonConfigPath: h.daemonConfig, restartCommand: "false" },
        });
    const ok = (run: { status: number; stdout: string; stderr: string }) => {
        expect(run.status, run.stderr).toBe(0);
        return run;
    };
    const specVersion = (id: string) => engines.docker(a, "node", "inspect", id, "--format", "{{.Version.Index}}");

    it("grows from one node to two, labels the new node, and changes nothing on a second run", () => {
        const managerId = parseNodeId(ok(engines.run(a, member(a, true, "claim-a"))).stdout);
        expect(engines.docker(a, "info", "--format", "{{.Swarm.ControlAvailable}}")).toBe("true");

        const { worker } = parseJoinTokens(ok(engines.run(a, joinTokensScript())).stdout);
        const workerId = parseNodeId(ok(engines.run(b, member(b, false, "claim-b"), `${worker}\n`)).stdout);
        expect(workerId).not.toBe(managerId);

        const settings = nodeSettingsScript({ nodeId: workerId, host: b.address, role: "worker", labels: { zone: "b" }, claim: "claim-b" });
        ok(engines.run(a, settings));
        const labels = JSON.parse(engines.docker(a, "node", "inspect", workerId, "--format", "{{json .Spec.Labels}}"));
        expect(labels).toEqual({ zone: "b", "pug.host": b.address, "pug.claim": "claim-b", "pug.managed-labels": "zone" });
        expect(engines.docker(a, "node", "ls", "--format", "{{.Hostname}} {{.Status}}").split("\n")).toHaveLength(2);

        const versions = [specVersion(managerId), specVersion(workerId)];
        ok(engines.run(a, member(a, true, "claim-a")));
        ok(engines.run(b, member(b, false, "claim-b"), `${worker}\n`));
        const again = ok(engines.run(a, settings));
        expect(again.stderr).toContain("already has its declared role and labels");
        expect([specVersion(managerId), specVersion(workerId)]).toEqual(versions);
    }, 120_000);

    it("the engines serve, on the metrics address the scripts set, every name the dashboard may query", () => {
        const fetchMetrics = `node -e 'fetch("http://127.0.0.1:9323/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))'`;
        const manager = new Set(metricNames(ok(engines.run(a, fetchMetrics)).stdout));
        for (const name of EXPORTER_METRICS.dockerEngine.names) expect(manager.has(name), name).toBe(true);
        // a worker publishes the node-level names, not the manager's
        const worker = new Set(metricNames(ok(engines.run(b, fetchMetrics)).stdout));
        expect(worker.has("swarm_node_manager")).toBe(true);
        expect(worker.has("engine_daemon_container_states_containers")).toBe(true);
    });

    it("shrinks back: drain on the manager, leave on the node, then removal once it is down", () => {
        const workerId = engines.docker(a, "node", "ls", "-q", "--filter", `node.label=pug.host=${b.address}`);
        ok(engines.run(a, drainScript({ nodeId: workerId, host: b.address, claim: "claim-b", drainWaitSeconds: 10 })));
        expect(engines.docker(a, "node", "inspect", workerId, "--format", "{{.Spec.Availability}}")).toBe("drain");
        ok(engines.run(b, leaveScript({ claim: "claim-b", claimFile: b.claimFile })));
        expect(engines.docker(b, "info", "--format", "{{.Swarm.LocalNodeState}}")).toBe("inactive");
        ok(engines.run(a, removeNodeScript({ host: b.address, claim: "claim-b", downWaitSeconds: 60 })));
        expect(engines.docker(a, "node", "ls", "-q")).not.toContain(workerId);
        expect(engines.docker(a, "node", "ls", "-q").split("\n")).toHaveLength(1);
    }, 120_000);
});
