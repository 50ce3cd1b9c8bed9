/**
 * The Swarm scripts, run by real `sh` against a fake `docker` (test/harness/fake-docker): what
 * they change on a bare host, and that a second run, or a run after a replacement, changes nothing.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { bareHosts, FakeDockerHost, isMutating, type FakeSwarmState } from "../../test/harness/fakeDocker";
import {
    drainScript,
    joinTokensScript,
    leaveScript,
    memberScript,
    nodeSettingsScript,
    parseJoinTokens,
    parseNodeId,
    removeNodeScript,
    shellQuote,
    type MemberScriptSpec,
} from "./swarmScripts";

const hosts: FakeDockerHost[] = [];
function host(state: FakeSwarmState): FakeDockerHost {
    const h = new FakeDockerHost(state);
    hosts.push(h);
    return h;
}
afterEach(() => hosts.splice(0).forEach((h) => h.cleanup()));

function member(h: FakeDockerHost, over: Partial<MemberScriptSpec> = {}): string {
    return memberScript({
        role: "manager",
        bootstrap: true,
        advertiseAddress: "10.0.0.1",
        joinAddress: "10.0.0.1:2377",
        claim: "claim-1",
        claimFile: h.claimFile,
        metrics: { address: "0.0.0.0:9323", daemonConfigPath: h.daemonConfig, restartCommand: "systemctl restart docker" },
        ...over,
    });
}
const mutations = (calls: string[][]) => calls.filter(isMutating);

describe("the first manager's member script", () => {
    it("initialises the swarm on a bare host, enables engine metrics, and prints the node id", () => {
        const h = host(bareHosts("a"));
        const run = h.run(member(h));
        expect(run.status, run.stderr).toBe(0);
        expect(mutations(run.dockerCalls)).toEqual([["swarm", "init", "--advertise-addr", "10.0.0.1"]]);
        expect(JSON.parse(h.readDaemonConfig()!)).toEqual({ "metrics-addr": "0.0.0.0:9323" });
        expect(run.systemctlCalls).toEqual(["systemctl restart docker"]);
        expect(parseNodeId(run.stdout)).toBe(h.state.engines.a.self);
        expect(h.readClaim()).toBe("claim-1");
    });

    it("changes nothing when run again: no init, no daemon.json write, no engine restart", () => {
        const h = host(bareHosts("a"));
        const first = h.run(member(h));
        const config = h.readDaemonConfig();
        const again = h.run(member(h));
        expect(again.status, again.stderr).toBe(0);
        expect(mutations(again.dockerCalls)).toEqual([]);
        expect(again.systemctlCalls).toEqual([]);
        expect(h.readDaemonConfig()).toBe(config);
        expect(parseNodeId(again.stdout)).toBe(parseNodeId(first.stdout));
        expect(again.stderr).toContain("already in a swarm");
    });

    it("does not re-initialise a host that is already in a swarm (an adopted node)", () => {
        const h = host({ nodes: { abcdefghijklmnopqrstuvwxy: { role: "manager", availability: "active", state: "ready", labels: {}, tasks: 3 } }, engines: { a: { localNodeState: "active", self: "abcdefghijklmnopqrstuvwxy" } } });
        const run = h.run(member(h));
        expect(run.status, run.stderr).toBe(0);
        expect(mutations(run.dockerCalls)).toEqual([]);
        expect(parseNodeId(run.stdout)).toBe("abcdefghijklmnopqrstuvwxy");
    });

    it("stops on a swarm state it cannot resolve (pending, locked, error) instead of initialising over it", () => {
        for (const localNodeState of ["pending", "locked", "error"] as const) {
            const h = host({ nodes: {}, engines: { a: { localNodeState, self: null } } });
            const run = h.run(member(h));
            expect(run.status).not.toBe(0);
            expect(run.stderr).toContain(`swarm state is '${localNodeState}'`);
            expect(mutations(run.dockerCalls)).toEqual([]);
        }
    });

    it("leaves --advertise-addr out when none is given (Docker picks the host's only address)", () => {
        const h = host(bareHosts("a"));
        const run = h.run(member(h, { advertiseAddress: undefined }));
        expect(mutations(run.dockerCalls)).toEqual([["swarm", "init"]]);
    });
});

describe("engine metrics in daemon.json", () => {
    it("keeps every existing setting and adds metrics-addr, for any existing configuration", () => {
        const settingKey = fc.stringMatching(/^[a-z][a-z-]{0,11}$/).filter((k) => k !== "metrics-addr");
        const settingValue = fc.oneof(fc.string({ maxLength: 12 }).filter((s) => !s.includes("{")), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }));
        fc.assert(
            fc.property(fc.dictionary(settingKey, settingValue, { maxKeys: 4 }), fc.boolean(), (existing, compact) => {
                const h = host({ nodes: {}, engines: { a: { localNodeState: "active", self: null } } });
                // an existing node in a swarm: only the metrics part acts
                h.state = { nodes: { abcdefghijklmnopqrstuvwxy: { role: "worker", availability: "active", state: "ready", labels: {}, tasks: 0 } }, engines: { a: { localNodeState: "active", self: "abcdefghijklmnopqrstuvwxy" } } };
                const run0 = h.run(`mkdir -p ${shellQuote(h.daemonConfig.replace(/\/[^/]+$/, ""))} && printf '%s' ${shellQuote(JSON.stringify(existing, null, compact ? 0 : 2))} > ${shellQuote(h.daemonConfig)}`);
                expect(run0.status).toBe(0);
                const run = h.run(member(h));
                expect(run.status, run.stderr).toBe(0);
                expect(JSON.parse(h.readDaemonConfig()!)).toEqual({ ...existing, "metrics-addr": "0.0.0.0:9323" });
                expect(run.systemctlCalls).toEqual(["systemctl restart docker"]);
                h.cleanup();
            }),
            { numRuns: 8 },
        );
    });

    it("replaces another metrics address, and restarts only then", () => {
        const h = host({ nodes: { abcdefghijklmnopqrstuvwxy: { role: "worker", availability: "active", state: "ready", labels: {}, tasks: 0 } }, engines: { a: { localNodeState: "active", self: "abcdefghijklmnopqrstuvwxy" } } });
        h.run(`mkdir -p ${shellQuote(h.daemonConfig.replace(/\/[^/]+$/, ""))} && echo '{ "debug": true, "metrics-addr" : "127.0.0.1:9323" }' > ${shellQuote(h.daemonConfig)}`);
        const run = h.run(member(h));
        expect(run.status, run.stderr).toBe(0);
        expect(JSON.parse(h.readDaemonConfig()!)).toEqual({ debug: true, "metrics-addr": "0.0.0.0:9323" });
        expect(run.systemctlCalls).toHaveLength(1);
    });

    it("leaves a daemon.json it cannot merge into valid JSON untouched, and fails", () => {
        const h = host(bareHosts("a"));
        const broken = '{ "debug": true, "hosts": ["unix:///var/run/docker.sock" ';
        h.run(`mkdir -p ${shellQuote(h.daemonConfig.replace(/\/[^/]+$/, ""))} && printf '%s' ${shellQuote(broken)} > ${shellQuote(h.daemonConfig)}`);
        const run = h.run(member(h));
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("is not valid; left unchanged");
        expect(h.readDaemonConfig()).toBe(broken);
        expect(run.systemctlCalls).toEqual([]);
        expect(mutations(run.dockerCalls)).toEqual([]);
    });

    it("fails when the engine does not come back after the restart", () => {
        const h = host({ nodes: {}, engines: { a: { localNodeState: "inactive", self: null } } });
        // the restart "command" takes the fake engine down for good
        const script = member(h).replace("$SUDO systemctl restart docker >&2", `node -e 'const f=process.env.FAKE_DOCKER_STATE,s=JSON.parse(require("fs").readFileSync(f));s.engines.a.daemonUp=false;require("fs").writeFileSync(f,JSON.stringify(s))'`);
        const run = h.run(script.replace("-ge 60", "-ge 2"));
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("did not come back");
    });
});

describe("joining, settings, draining, leaving and removal, in the order the component runs them", () => {
    it("grows a swarm from the first manager to a worker, then shrinks it back, idempotently", () => {
        const h = host(bareHosts("a", "b"));
        const init = h.run(member(h), { engine: "a" });
        const managerId = parseNodeId(init.stdout);

        const tokens = h.run(joinTokensScript(), { engine: "a" });
        const { worker } = parseJoinTokens(tokens.stdout);

        const join = member(h, { role: "worker", bootstrap: false, advertiseAddress: "10.0.0.2", claim: "claim-b" });
        const joined = h.run(join, { engine: "b", stdin: `${worker}\n` });
        expect(joined.status, joined.stderr).toBe(0);
        expect(mutations(joined.dockerCalls)).toEqual([["swarm", "join", "--token", worker, "--advertise-addr", "10.0.0.2", "10.0.0.1:2377"]]);
        // the token travels on stdin, never in the script's text
        expect(join).not.toContain(worker);
        const workerId = parseNodeId(joined.stdout);
        expect(workerId).not.toBe(managerId);
        expect(h.state.nodes[workerId].role).toBe("worker");

        const settings = nodeSettingsScript({ nodeId: workerId, host: "10.0.0.2", role: "worker", labels: { zone: "b" }, claim: "claim-b" });
        const labelled = h.run(settings, { engine: "a" });
        expect(labelled.status, labelled.stderr).toBe(0);
        expect(h.state.nodes[workerId].labels).toEqual({ zone: "b", "pug.host": "10.0.0.2", "pug.claim": "claim-b", "pug.managed-labels": "zone" });

        // everything again: nothing changes
        expect(mutations(h.run(join, { engine: "b", stdin: `${worker}\n` }).dockerCalls)).toEqual([]);
        expect(mutations(h.run(settings, { engine: "a" }).dockerCalls)).toEqual([]);

        // the worker leaves the declaration: drain (manager), leave (node), remove (manager)
        h.state = { ...h.state, nodes: { ...h.state.nodes, [workerId]: { ...h.state.nodes[workerId], tasks: 2 } } };
        const drained = h.run(drainScript({ nodeId: workerId, host: "10.0.0.2", claim: "claim-b", drainWaitSeconds: 5 }), { engine: "a" });
        expect(drained.status, drained.stderr).toBe(0);
        expect(mutations(drained.dockerCalls)).toEqual([["node", "update", "--availability", "drain", workerId]]);
        expect(h.state.nodes[workerId].tasks).toBe(0);

        const left = h.run(leaveScript({ claim: "claim-b", claimFile: h.claimFile }), { engine: "b" });
        expect(left.status, left.stderr).toBe(0);
        expect(mutations(left.dockerCalls)).toEqual([["swarm", "leave"]]);

        const removed = h.run(removeNodeScript({ host: "10.0.0.2", claim: "claim-b", downWaitSeconds: 5 }), { engine: "a" });
        expect(removed.status, removed.stderr).toBe(0);
        expect(mutations(removed.dockerCalls)).toEqual([["node", "rm", workerId]]);
        expect(Object.keys(h.state.nodes)).toEqual([managerId]);
    });

    it("joins a manager with the manager token, and demotes it before it leaves", () => {
        const h = host(bareHosts("a", "b"));
        h.run(member(h), { engine: "a" });
        const { manager } = parseJoinTokens(h.run(joinTokensScript(), { engine: "a" }).stdout);
        const joined = h.run(member(h, { role: "manager", bootstrap: false, claim: "claim-b" }), { engine: "b", stdin: manager });
        const id = parseNodeId(joined.stdout);
        expect(h.state.nodes[id].role).toBe("manager");
        h.run(nodeSettingsScript({ nodeId: id, host: "b.example", role: "manager", labels: {}, claim: "claim-b" }), { engine: "a" });

        // leaving while still a manager among others is refused
        const early = h.run(leaveScript({ claim: "claim-b", claimFile: h.claimFile }), { engine: "b" });
        expect(early.status).not.toBe(0);
        expect(early.stderr).toContain("demote it first");

        const drained = h.run(drainScript({ nodeId: id, host: "b.example", claim: "claim-b", drainWaitSeconds: 5 }), { engine: "a" });
        expect(mutations(drained.dockerCalls)).toEqual([["node", "update", "--availability", "drain", id], ["node", "demote", id]]);
        const left = h.run(leaveScript({ claim: "claim-b", claimFile: h.claimFile }), { engine: "b" });
        expect(left.status, left.stderr).toBe(0);
        expect(mutations(left.dockerCalls)).toEqual([["swarm", "leave"]]);
    });

    it("refuses to join without a token on stdin", () => {
        const h = host(bareHosts("a", "b"));
        h.run(member(h), { engine: "a" });
        const run = h.run(member(h, { role: "worker", bootstrap: false }), { engine: "b", stdin: "" });
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("no join token");
        expect(mutations(run.dockerCalls)).toEqual([]);
    });

    it("the last manager leaves with --force, which ends the swarm (the stack's destroy)", () => {
        const h = host(bareHosts("a"));
        h.run(member(h));
        const run = h.run(leaveScript({ claim: "claim-1", claimFile: h.claimFile }));
        expect(run.status, run.stderr).toBe(0);
        expect(mutations(run.dockerCalls)).toEqual([["swarm", "leave", "--force"]]);
        expect(h.readClaim()).toBeUndefined();
    });
});

describe("node settings", () => {
    function labelledWorker(labels: Record<string, string>): { h: FakeDockerHost; id: string } {
        const id = "wwwwwwwwwwwwwwwwwwwwwwwww";
        const h = host({
            nodes: {
                mmmmmmmmmmmmmmmmmmmmmmmmm: { role: "manager", availability: "active", state: "ready", labels: {}, tasks: 0 },
                [id]: { role: "worker", availability: "active", state: "ready", labels, tasks: 1 },
            },
            engines: { a: { localNodeState: "active", self: "mmmmmmmmmmmmmmmmmmmmmmmmm" } },
        });
        return { h, id };
    }

    it("removes a label PUG set and no longer declares, keeps one set by hand, and changes a value", () => {
        const { h, id } = labelledWorker({ zone: "a", rack: "r1", "pug.managed-labels": "rack,zone", "pug.host": "w", "pug.claim": "c", "ops.note": "by hand" });
        const run = h.run(nodeSettingsScript({ nodeId: id, host: "w", role: "worker", labels: { zone: "b" }, claim: "c" }));
        expect(run.status, run.stderr).toBe(0);
        expect(h.state.nodes[id].labels).toEqual({ zone: "b", "pug.managed-labels": "zone", "pug.host": "w", "pug.claim": "c", "ops.note": "by hand" });
        expect(mutations(run.dockerCalls)).toHaveLength(1);
    });

    it("does not try to remove a managed label that someone already removed by hand", () => {
        const { h, id } = labelledWorker({ "pug.managed-labels": "rack", "pug.host": "w", "pug.claim": "c" });
        const run = h.run(nodeSettingsScript({ nodeId: id, host: "w", role: "worker", labels: {}, claim: "c" }));
        expect(run.status, run.stderr).toBe(0);
        expect(h.state.nodes[id].labels["pug.managed-labels"]).toBe("");
    });

    it("promotes a worker declared as a manager", () => {
        const { h, id } = labelledWorker({});
        const run = h.run(nodeSettingsScript({ nodeId: id, host: "w", role: "manager", labels: {}, claim: "c" }));
        expect(run.status, run.stderr).toBe(0);
        expect(mutations(run.dockerCalls)[0]).toEqual(["node", "promote", id]);
        expect(h.state.nodes[id].role).toBe("manager");
    });

    it("quotes label values, so a value is data and never shell", () => {
        const { h, id } = labelledWorker({});
        const value = `it's $(touch pwned) "quoted"`;
        const run = h.run(nodeSettingsScript({ nodeId: id, host: "w", role: "worker", labels: { note: value }, claim: "c" }));
        expect(run.status, run.stderr).toBe(0);
        expect(h.state.nodes[id].labels.note).toBe(value);
    });

    it("fails clearly when the node is not in this swarm (e.g. it is in another one)", () => {
        const { h } = labelledWorker({});
        const run = h.run(nodeSettingsScript({ nodeId: "zzzzzzzzzzzzzzzzzzzzzzzzz", host: "elsewhere", role: "worker", labels: {}, claim: "c" }));
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("not in this swarm");
    });
});

describe("a replaced command (new SSH key, another first manager) does not drain, leave or remove its node", () => {
    it("drain, leave and remove do nothing while the node carries a newer claim", () => {
        const h = host(bareHosts("a", "b"));
        h.run(member(h), { engine: "a" });
        const { worker } = parseJoinTokens(h.run(joinTokensScript(), { engine: "a" }).stdout);
        const id = parseNodeId(h.run(member(h, { role: "worker", bootstrap: false, claim: "old" }), { engine: "b", stdin: worker }).stdout);
        h.run(nodeSettingsScript({ nodeId: id, host: "b", role: "worker", labels: {}, claim: "old" }), { engine: "a" });
        // the replacement's creates run first and claim the node anew
        h.run(member(h, { role: "worker", bootstrap: false, claim: "new" }), { engine: "b", stdin: worker });
        h.run(nodeSettingsScript({ nodeId: id, host: "b", role: "worker", labels: {}, claim: "new" }), { engine: "a" });
        // then the old commands' deletes run
        const drained = h.run(drainScript({ nodeId: id, host: "b", claim: "old", drainWaitSeconds: 1 }), { engine: "a" });
        const left = h.run(leaveScript({ claim: "old", claimFile: h.claimFile }), { engine: "b" });
        const removed = h.run(removeNodeScript({ host: "b", claim: "old", downWaitSeconds: 1 }), { engine: "a" });
        for (const run of [drained, left, removed]) {
            expect(run.status, run.stderr).toBe(0);
            expect(mutations(run.dockerCalls)).toEqual([]);
        }
        expect(h.state.nodes[id]).toMatchObject({ availability: "active", state: "ready" });
        expect(h.state.engines.b.localNodeState).toBe("active");
    });

    it("removal never removes a node that is still up: it waits, then fails", () => {
        const h = host({
            nodes: {
                mmmmmmmmmmmmmmmmmmmmmmmmm: { role: "manager", availability: "active", state: "ready", labels: {}, tasks: 0 },
                wwwwwwwwwwwwwwwwwwwwwwwww: { role: "worker", availability: "drain", state: "ready", labels: { "pug.host": "w", "pug.claim": "c" }, tasks: 0 },
            },
            engines: { a: { localNodeState: "active", self: "mmmmmmmmmmmmmmmmmmmmmmmmm" } },
        });
        const run = h.run(removeNodeScript({ host: "w", claim: "c", downWaitSeconds: 1 }));
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain("still up");
        expect(mutations(run.dockerCalls)).toEqual([]);
    });
});

describe("parsing what the scripts print", () => {
    it("reads the two join tokens, and refuses anything else", () => {
        expect(parseJoinTokens("SWMTKN-1-w\nSWMTKN-1-m\n")).toEqual({ worker: "SWMTKN-1-w", manager: "SWMTKN-1-m" });
        expect(() => parseJoinTokens("Error: not a manager")).toThrow(/two join tokens/);
    });
    it("reads the node id from the last line", () => {
        expect(parseNodeId("some noise\nabcdefghijklmnopqrstuvwxy\n")).toBe("abcdefghijklmnopqrstuvwxy");
        expect(() => parseNodeId("")).toThrow(/node id/);
    });
});
