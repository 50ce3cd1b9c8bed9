/**
 * A reload onto a changed config (a user added, one removed) in real nginx: established Live
 * WebSockets stay open and keep working through the old workers, which exit once the last of
 * them closes; new requests follow the new config. And a stop as Swarm stops a task (SIGQUIT):
 * nginx lets go of open WebSockets after its shutdown timeout instead of holding them until
 * Swarm kills it, which with stop-first updates is how long the node's port refuses users.
 */
import type WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frontProxySpec, proxyShutdownTimeoutSeconds, type FrontProxyArgs } from "../../components/frontProxy";
import { workerSizing } from "../../components/specs/nginxConfig";
import { alive } from "../e2e/dockerd";
import { eventually, namespacesForbiddenReason, serviceRecords, startProxyNamespace, type ProxyNamespace } from "../harness/proxyNamespace";

const forbidden = namespacesForbiddenReason();
if (forbidden) console.warn(`SKIPPED: real-nginx proxy tests (reload): ${forbidden}`);

const dns = serviceRecords(["alice", "bob", "erin"]);
const workers = workerSizing(frontProxySpec({ userIds: [] }).limits).workerProcesses;

function echo(socket: WebSocket, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
        socket.once("message", (d) => resolve(d.toString()));
        socket.send(text, (err) => err && reject(err));
    });
}


describe.skipIf(forbidden)("front proxy in real nginx, reload", () => {
    let proxy: ProxyNamespace;

    beforeAll(async () => {
        proxy = await startProxyNamespace({ spec: frontProxySpec({ userIds: ["alice", "bob"] }), dns, running: ["alice", "bob", "erin"] });
    });
    afterAll(async () => {
        await proxy?.stop();
    });

    it("keeps established WebSockets open across a reload onto a changed config", async () => {
        expect((await proxy.request("/erin/grafana/")).status).toBe(404);
        const alice = await proxy.websocket("/alice/grafana/api/live/ws");
        const bob = await proxy.websocket("/bob/grafana/api/live/ws");
        let old: number[] = [];
        try {
            expect(proxy.nginxWorkers()).toHaveLength(workers);

            // erin joins, bob leaves
            old = (await proxy.reload(frontProxySpec({ userIds: ["alice", "erin"] }))).oldWorkers;
            await eventually(
                "the new config serves erin and refuses bob",
                async () => (await proxy.request("/erin/grafana/")).status === 200 && (await proxy.request("/bob/grafana/")).status === 404,
            );

            // old workers still hold the open sockets, which still carry Live's traffic
            expect(proxy.nginxWorkers().filter((p) => old.includes(p)).length).toBeGreaterThan(0);
            expect(await echo(alice.socket, "after reload")).toBe("alice:after reload");
            expect(await echo(bob.socket, "after reload")).toBe("bob:after reload");
        } finally {
            alice.socket.close();
            bob.socket.close();
        }
        // and leave once the last of them has closed
        await eventually("old workers exit", () => !proxy.nginxWorkers().some((p) => old.includes(p)));
    });
});

describe.skipIf(forbidden)("front proxy in real nginx, stopped as Swarm stops a task", () => {
    // the dev stack's proxy: one task, replaced stop-first, its default shutdown timeout
    const settings: Omit<FrontProxyArgs, "networkIds"> = { userIds: ["alice"], updateOrder: "stop-first", replicas: 1 };
    const shutdownMs = proxyShutdownTimeoutSeconds(settings) * 1000;
    let proxy: ProxyNamespace;

    beforeAll(async () => {
        proxy = await startProxyNamespace({ spec: frontProxySpec(settings), dns, running: ["alice"] });
    });
    afterAll(async () => {
        await proxy?.stop();
    });

    it("closes open Live WebSockets and exits after its shutdown timeout, refusing new connections meanwhile", async () => {
        const alice = await proxy.websocket("/alice/grafana/api/live/ws");
        const closed = new Promise<number>((resolve) => alice.socket.once("close", () => resolve(Date.now())));
        const processes = proxy.nginxProcesses();
        const stoppedAt = Date.now();
        process.kill(processes[0], "SIGQUIT");
        // what Swarm's stop starts: no new connection is taken from then on
        await eventually("nginx refuses new connections", async () => !(await proxy.request("/alice/grafana/", { timeoutMs: 1_000 }).then(() => true, () => false)), 2_000);
        // the socket open before is let go by nginx itself, within a second of the timeout
        const closedAt = await Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), shutdownMs + 5_000))]);
        expect(closedAt, "nginx still held the WebSocket 5 s after its shutdown timeout").toBeDefined();
        const closedAfterMs = closedAt! - stoppedAt;
        expect(closedAfterMs).toBeLessThan(shutdownMs + 1_000);
        await eventually("every nginx process exits", () => processes.every((pid) => !alive(pid)), 2_000);
        console.log(`nginx stopped with a WebSocket open: socket closed after ${closedAfterMs} ms, shutdown timeout ${shutdownMs} ms`);
    }, 30_000);
});
