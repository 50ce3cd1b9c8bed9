/**
 * A reload onto a changed config (a user added, one removed) in real nginx: established Live
 * WebSockets stay open and keep working through the old workers, which exit once the last of
 * them closes; new requests follow the new config.
 */
import type WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frontProxySpec } from "../../components/frontProxy";
import { workerSizing } from "../../components/specs/nginxConfig";
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
