/**
 * The generated nginx.conf in subdomain mode, unmodified, in real nginx: each user is served at
 * https://<id>.<domain>/, an origin of their own, routed by the Host the browser sent; the path
 * goes to Grafana unchanged. See test/harness/proxyNamespace.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frontProxySpec } from "../../components/frontProxy";
import { namespacesForbiddenReason, serviceRecords, startProxyNamespace, type ProxyNamespace, type ReceivedRequest } from "../harness/proxyNamespace";

const forbidden = namespacesForbiddenReason();
if (forbidden) console.warn(`SKIPPED: real-nginx proxy tests (subdomains): ${forbidden}`);

const DOMAIN = "grafana.pug.test";

describe.skipIf(forbidden)("front proxy in real nginx, subdomain mode", () => {
    let proxy: ProxyNamespace;

    beforeAll(async () => {
        proxy = await startProxyNamespace({
            spec: frontProxySpec({ userIds: ["alice", "bob", "default"], urls: { mode: "subdomain", domain: `${DOMAIN}:8443` } }),
            dns: serviceRecords(["alice", "bob", "default"]),
            running: ["alice", "bob", "default"],
        });
    });
    afterAll(async () => {
        await proxy?.stop();
    });

    const get = (host: string, path = "/api/user") => proxy.request(path, { headers: { Host: host } });

    it("sends each user's host to their own Grafana, the path unchanged, a port in Host or not", async () => {
        for (const user of ["alice", "bob", "default"]) {
            for (const host of [`${user}.${DOMAIN}`, `${user}.${DOMAIN}:8443`, `${user.toUpperCase()}.${DOMAIN}`]) {
                const res = await get(host, "/d/x?orgId=1");
                expect(res.status, host).toBe(200);
                const got = JSON.parse(res.body) as ReceivedRequest;
                expect([got.servedBy, got.url, got.headers.host]).toEqual([user, "/d/x?orgId=1", host]);
            }
        }
    });

    it("carries Grafana Live's WebSocket to the host's user", async () => {
        const { socket, greeting } = await proxy.websocket("/api/live/ws", { headers: { Host: `bob.${DOMAIN}` }, origin: `https://bob.${DOMAIN}` });
        socket.close();
        expect([greeting.servedBy, greeting.url]).toEqual(["bob", "/api/live/ws"]);
    });

    it("answers 404 to any other host, reaching no Grafana", async () => {
        await proxy.clearLog();
        for (const host of [DOMAIN, `eve.${DOMAIN}`, `x.alice.${DOMAIN}`, `alice.${DOMAIN}.evil.test`, `alice-${DOMAIN}`, "alice", `alice.${DOMAIN.replace(/\./g, "x")}`, `.${DOMAIN}`]) {
            expect((await get(host)).status, host).toBe(404);
        }
        await expect(proxy.websocket("/api/live/ws", { headers: { Host: `eve.${DOMAIN}` } })).rejects.toMatchObject({ status: 404 });
        expect(await proxy.received()).toEqual([]);
    });

    it("takes the host, not the path, as the user: a path naming another user stays with the host's", async () => {
        const got = JSON.parse((await get(`alice.${DOMAIN}`, "/bob/grafana/api/user")).body) as ReceivedRequest;
        expect(got.servedBy).toBe("alice");
    });

    it("still answers its own health check on any host", async () => {
        expect((await get("10.0.0.5:8080", "/healthz")).status).toBe(200);
    });
});
