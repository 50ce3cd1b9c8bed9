/**
 * The generated nginx.conf in jwt mode, unmodified, in real nginx, with a stub of the platform's
 * auth endpoint: a session cookie `pug_session=<user>` may open that user's Grafana only; the stub
 * answers 401 without a session, 403 for another user's Grafana, and otherwise 200 with a token
 * naming the requested Grafana's user (its audience) in X-Pug-Token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frontProxySpec } from "../../components/frontProxy";
import { AUTH_USER_HEADER, DEFAULT_TOKEN_HEADER, nginxConfig } from "../../components/specs/nginxConfig";
import { SESSION_COOKIE, stubToken } from "../harness/netnsAgent";
import { eventually, FORGED_IDENTITY_HEADERS, namespacesForbiddenReason, nginxRefuses, serviceRecords, startProxyNamespace, type ProxyNamespace, type ReceivedRequest } from "../harness/proxyNamespace";

const forbidden = namespacesForbiddenReason();
if (forbidden) console.warn(`SKIPPED: real-nginx proxy tests (jwt): ${forbidden}`);

const AUTH = { host: "platform-auth", address: "127.0.9.1", port: 9000 };
const dns = { ...serviceRecords(["alice", "bob"]), [AUTH.host]: AUTH.address };
const session = (user: string) => ({ Cookie: `theme=dark; ${SESSION_COOKIE}=${user}` });

describe.skipIf(forbidden)("front proxy in real nginx, jwt mode", () => {
    let proxy: ProxyNamespace;

    const specWithEndpoint = (endpoint: string) =>
        frontProxySpec({
            userIds: ["alice", "bob"],
            auth: "jwt",
            jwt: { endpoint },
            // the test client stands for the TLS terminator in front
            trustedProxies: ["127.0.0.1"],
            // the monitoring's overlay pool only: the test client (127.0.0.1) is not in it
            statusAllow: ["10.0.0.0/8"],
        });

    beforeAll(async () => {
        const spec = specWithEndpoint(`http://${AUTH.host}:${AUTH.port}/authorize`);
        proxy = await startProxyNamespace({ spec, dns, running: ["alice", "bob"], auth: { address: AUTH.address, port: AUTH.port } });
    });
    afterAll(async () => {
        await proxy?.stop();
    });

    const upstreamRequests = async () => (await proxy.received()).filter((r) => r.kind !== "auth");
    const authRequests = async () => (await proxy.received()).filter((r) => r.kind === "auth");

    it("refuses a request the auth endpoint refuses, and no Grafana sees it", async () => {
        await proxy.clearLog();
        expect((await proxy.request("/alice/grafana/api/user")).status).toBe(401);
        expect((await proxy.request("/bob/grafana/api/user", { headers: session("alice") })).status).toBe(403);
        await expect(proxy.websocket("/alice/grafana/api/live/ws")).rejects.toMatchObject({ status: 401 });
        await expect(proxy.websocket("/bob/grafana/api/live/ws", { headers: session("alice") })).rejects.toMatchObject({ status: 403 });
        expect(await upstreamRequests()).toEqual([]);
        expect((await authRequests()).length).toBe(4);
    });

    it("passes the issued token to the user it was issued for, replacing one the client sent", async () => {
        await proxy.clearLog();
        const forged = { ...Object.fromEntries(FORGED_IDENTITY_HEADERS.map((h) => [h, "admin"])), "X-JWT-Assertion": stubToken("alice", "bob"), Authorization: "Basic YWRtaW46YWRtaW4=" };
        const res = await proxy.request("/alice/grafana/api/user", { headers: { ...session("alice"), ...forged } });
        expect(res.status).toBe(200);
        const got = JSON.parse(res.body) as ReceivedRequest;
        expect(got.servedBy).toBe("alice");
        expect(got.headers["x-jwt-assertion"]).toBe(stubToken("alice", "alice"));
        // Grafana learns who is signed in from the token only: no identity header, no credentials
        // of its own (basic auth or an API token) that could name someone else
        for (const h of [...FORGED_IDENTITY_HEADERS.filter((h) => h !== "X-JWT-Assertion"), "Authorization"]) expect(got.headers[h.toLowerCase()], h).toBeUndefined();
        // the auth endpoint still gets the client's Authorization, to decide with
        const [asked] = await authRequests();
        expect(asked.headers.authorization).toBe("Basic YWRtaW46YWRtaW4=");
        // the token travels to Grafana only, never back to the browser
        expect(res.headers[DEFAULT_TOKEN_HEADER.toLowerCase()]).toBeUndefined();

        const bob = JSON.parse((await proxy.request("/bob/grafana/", { headers: session("bob") })).body) as ReceivedRequest;
        expect([bob.servedBy, bob.headers["x-jwt-assertion"]]).toEqual(["bob", stubToken("bob", "bob")]);

        // every token a Grafana received names that Grafana's user as its audience
        for (const r of await upstreamRequests()) expect(r.headers["x-jwt-assertion"]).toBe(stubToken(r.servedBy, r.servedBy));
    });

    it("tells the auth endpoint whose Grafana is asked for and the original request, without the body", async () => {
        await proxy.clearLog();
        await proxy.request("/alice/grafana/api/dashboards/db", { method: "POST", headers: { ...session("alice"), "Content-Type": "application/json" }, body: "{}" });
        const [asked] = await authRequests();
        expect(asked.headers[AUTH_USER_HEADER.toLowerCase()]).toBe("alice");
        expect(asked.headers["x-original-uri"]).toBe("/alice/grafana/api/dashboards/db");
        expect(asked.headers["x-original-method"]).toBe("POST");
        expect(asked.headers["content-length"]).toBeUndefined();
        expect(asked.headers.cookie).toContain(`${SESSION_COOKIE}=alice`);
    });

    it("authorises Live's WebSocket and hands its token to that user's Grafana", async () => {
        const { socket, greeting } = await proxy.websocket("/bob/grafana/api/live/ws", { headers: session("bob"), origin: "https://pug.test" });
        socket.close();
        expect(greeting.servedBy).toBe("bob");
        expect(greeting.headers["x-jwt-assertion"]).toBe(stubToken("bob", "bob"));
    });

    it("answers unknown users 404 without asking the auth endpoint", async () => {
        await proxy.clearLog();
        expect((await proxy.request("/eve/grafana/", { headers: session("eve") })).status).toBe(404);
        expect((await proxy.request("/ALICE/grafana/", { headers: session("alice") })).status).toBe(404);
        expect(await proxy.received()).toEqual([]);
    });

    it("believes X-Forwarded-For and -Proto from the trusted proxy in front", async () => {
        const res = await proxy.request("/alice/grafana/", { headers: { ...session("alice"), "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https" } });
        const got = JSON.parse(res.body) as ReceivedRequest;
        expect(got.headers["x-forwarded-for"]).toBe("198.51.100.7");
        expect(got.headers["x-forwarded-proto"]).toBe("https");
    });

    it("refuses stub_status to an address statusAllow does not name", async () => {
        expect((await proxy.statusRequest("/stub_status")).status).toBe(403);
    });

    // last: it moves the proxy onto an endpoint nobody answers at
    it("fails closed when the auth endpoint cannot be reached", async () => {
        const old = (await proxy.reload(specWithEndpoint(`http://${AUTH.address}:${AUTH.port + 1}/authorize`))).oldWorkers;
        // the old workers, which still ask the old endpoint, leave once idle
        await eventually("old workers exit", () => !proxy.nginxWorkers().some((p) => old.includes(p)));
        await proxy.clearLog();
        const res = await proxy.request("/alice/grafana/api/user", { headers: session("alice") });
        expect(res.status).toBe(500);
        expect(await proxy.received()).toEqual([]);
    });

    it("verifies an https endpoint's certificate against the system's CAs, in a config nginx accepts", () => {
        const config = nginxConfig(specWithEndpoint("https://auth.example.test/authorize"));
        expect(config).toContain("proxy_ssl_verify on;");
        expect(nginxRefuses(config)).toBeUndefined();
    });
});
