/**
 * The generated nginx.conf (grafana auth mode), unmodified, in real nginx: routing, isolation,
 * WebSockets, header hygiene, failure of one user's upstream. See test/harness/proxyNamespace.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frontProxySpec } from "../../components/frontProxy";
import { tenantServiceName } from "../../components/specs/naming";
import { nginxConfig, UPSTREAM_CONNECT_TIMEOUT_SECONDS } from "../../components/specs/nginxConfig";
import { FORGED_IDENTITY_HEADERS, namespacesForbiddenReason, nginxCheck, serviceRecords, startProxyNamespace, VANISHED_TASK_ADDRESS, type ProxyNamespace, type ReceivedRequest } from "../harness/proxyNamespace";

const forbidden = namespacesForbiddenReason();
if (forbidden) console.warn(`SKIPPED: real-nginx proxy tests: ${forbidden}`);

// alice, bob and "default" (a word nginx's map reserves) run; carol's service exists but nothing
// answers; dave's service does not exist yet (no DNS record); frank runs, and DNS still names a
// task of his that vanished; eve is no user.
const USERS = ["alice", "bob", "default", "carol", "dave", "frank"];
const dns = serviceRecords(["alice", "bob", "default", "carol", "frank"]);

describe.skipIf(forbidden)("front proxy in real nginx, grafana mode", () => {
    let proxy: ProxyNamespace;

    beforeAll(async () => {
        proxy = await startProxyNamespace({
            spec: frontProxySpec({ userIds: USERS }),
            dns,
            running: ["alice", "bob", "default", "frank"],
            vanished: [tenantServiceName("frank")],
        });
    });
    afterAll(async () => {
        await proxy?.stop();
    });

    const servedBy = (body: string) => (JSON.parse(body) as ReceivedRequest).servedBy;

    it("sends each user to their own Grafana, the path unchanged", async () => {
        for (const user of ["alice", "bob", "default"]) {
            const res = await proxy.request(`/${user}/grafana/api/dashboards/uid/x?orgId=1`);
            expect(res.status).toBe(200);
            const got = JSON.parse(res.body) as ReceivedRequest;
            expect(got.servedBy).toBe(user);
            expect(got.url).toBe(`/${user}/grafana/api/dashboards/uid/x?orgId=1`);
        }
    });

    it("carries Grafana Live's WebSocket to its own user only, both ways", async () => {
        for (const user of ["alice", "bob"]) {
            const { socket, greeting } = await proxy.websocket(`/${user}/grafana/api/live/ws`);
            try {
                expect(greeting.servedBy).toBe(user);
                expect(greeting.url).toBe(`/${user}/grafana/api/live/ws`);
                expect(greeting.headers.upgrade).toBe("websocket");
                const echo = new Promise<string>((resolve) => socket.once("message", (d) => resolve(d.toString())));
                socket.send("ping");
                expect(await echo).toBe(`${user}:ping`);
            } finally {
                socket.close();
            }
        }
    });

    it("answers 404 to users not on the list, over HTTP and WebSocket, reaching no Grafana", async () => {
        await proxy.clearLog();
        expect((await proxy.request("/eve/grafana/")).status).toBe(404);
        expect((await proxy.request("/eve/grafana/api/live/ws")).status).toBe(404);
        await expect(proxy.websocket("/eve/grafana/api/live/ws")).rejects.toMatchObject({ status: 404 });
        expect((await proxy.request("/")).status).toBe(404);
        expect(await proxy.received()).toEqual([]);
    });

    it("redirects /<id>/grafana to /<id>/grafana/ (query kept), for users only", async () => {
        const plain = await proxy.request("/alice/grafana");
        expect(plain.status).toBe(301);
        expect(plain.headers.location).toBe("/alice/grafana/");
        expect((await proxy.request("/alice/grafana?orgId=1")).headers.location).toBe("/alice/grafana/?orgId=1");
        expect((await proxy.request("/eve/grafana")).status).toBe(404);
    });

    // Each path as a client could send it, and whose Grafana may see it: the user the path's first
    // segment names exactly as sent (whose cookies a browser attaches), or nobody (404): a path
    // is proxied only if nginx's decoded, normalised form is a user path too.
    const NOBODY = "nobody";
    const tricks: [string, string][] = [
        ["/alice/grafana/../../bob/grafana/api/user", "alice"],
        ["/alice/grafana/%2e%2e/%2e%2e/bob/grafana/api/user", "alice"],
        ["/alice/grafana/..%2F..%2Fbob/grafana/api/user", "alice"],
        ["/alice/grafana/..%2f..%2fbob/grafana/api/user", "alice"],
        ["/alice/grafana/%2E%2E%2F%2E%2E%2Fbob/grafana/", "alice"],
        ["/alice/grafana/;/../../bob/grafana/", NOBODY],
        ["/bob/..%2Falice/grafana/", NOBODY],
        ["/bob/%2e%2e/alice/grafana/", NOBODY],
        ["/bob/../alice/grafana/", NOBODY],
        ["/%2e%2e/alice/grafana/", NOBODY],
        ["/./alice/grafana/", NOBODY],
        ["//alice/grafana/", NOBODY],
        ["/alice//grafana/", NOBODY],
        ["/alice/grafana%2F../bob/grafana/", NOBODY],
        ["/alice%2Fgrafana/", NOBODY],
        ["/%61lice/grafana/", NOBODY],
        ["/ALICE/grafana/", NOBODY],
        ["/Alice/grafana/", NOBODY],
        ["/alice/GRAFANA/", NOBODY],
        ["/alice.bob/grafana/", NOBODY],
        ["/alice./grafana/", NOBODY],
        ["/.alice/grafana/", NOBODY],
        ["/alice%00/grafana/", NOBODY],
        ["/alice/grafanax/", NOBODY],
        ["/healthz/../alice/grafana/", NOBODY],
        ["/alice/grafana/..", NOBODY],
    ];
    it.each(tricks)("%s reaches %s's Grafana and no other", async (path, user) => {
        await proxy.clearLog();
        const res = await proxy.request(path);
        const received = await proxy.received();
        if (user !== NOBODY) {
            expect(res.status).toBe(200);
            expect(servedBy(res.body)).toBe(user);
            expect(received.map((r) => r.servedBy)).toEqual([user]);
            expect(received[0].url).toBe(path);
        } else {
            expect([400, 404]).toContain(res.status);
            expect(received).toEqual([]);
        }
    });

    it("never resolves a name it built from a path: only the listed users' service names", () => {
        const asked = new Set(proxy.dnsQueries());
        expect(asked.size).toBeGreaterThan(0);
        for (const name of asked) expect(USERS.map(tenantServiceName)).toContain(name);
    });

    it("strips every client-sent identity header any Grafana auth mode could read, in any spelling, over HTTP and WebSocket", async () => {
        const forged = {
            ...Object.fromEntries(FORGED_IDENTITY_HEADERS.map((h) => [h, "admin"])),
            "x-webauth-user": "admin",
            "X-Jwt-Assertion": "forged.token.value",
        };
        const res = await proxy.request("/alice/grafana/api/user", { headers: forged });
        const { socket, greeting } = await proxy.websocket("/alice/grafana/api/live/ws", { headers: forged });
        socket.close();
        // nginx drops headers with underscores (an alias some servers fold into dashes)
        const underscored = await proxy.request("/alice/grafana/api/user", { headers: { X_WEBAUTH_USER: "admin", X_FORWARDED_USER: "admin" } });
        for (const got of [JSON.parse(res.body) as ReceivedRequest, greeting, JSON.parse(underscored.body) as ReceivedRequest]) {
            const names = Object.keys(got.headers).map((h) => h.toLowerCase().replace(/_/g, "-"));
            for (const h of FORGED_IDENTITY_HEADERS) expect(names, h).not.toContain(h.toLowerCase());
        }
    });

    it("passes Authorization on in grafana mode: Grafana's own API tokens and basic auth sign in there", async () => {
        const res = await proxy.request("/alice/grafana/api/user", { headers: { Authorization: "Bearer glsa_example" } });
        expect((JSON.parse(res.body) as ReceivedRequest).headers.authorization).toBe("Bearer glsa_example");
    });

    it("passes the Host and Origin Grafana Live checks as the browser sent them", async () => {
        const host = "grafana.example.test:8443";
        const origin = `https://${host}`;
        const { socket, greeting } = await proxy.websocket("/bob/grafana/api/live/ws", { headers: { Host: host }, origin });
        socket.close();
        expect(greeting.headers.host).toBe(host);
        expect(greeting.headers.origin).toBe(origin);
        const res = await proxy.request("/bob/grafana/", { headers: { Host: host, Origin: origin } });
        expect((JSON.parse(res.body) as ReceivedRequest).headers).toMatchObject({ host, origin });
    });

    it("replaces a client's X-Forwarded-For and -Proto when no trusted proxy is in front", async () => {
        const res = await proxy.request("/alice/grafana/", { headers: { "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", "X-Real-IP": "198.51.100.7" } });
        const got = JSON.parse(res.body) as ReceivedRequest;
        expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
        expect(got.headers["x-real-ip"]).toBe("127.0.0.1");
        expect(got.headers["x-forwarded-proto"]).toBe("http");
    });

    it("answers 502 for a user whose Grafana is down or not created yet, and serves the others meanwhile", async () => {
        const [carol, dave, alice, bob] = await Promise.all([
            proxy.request("/carol/grafana/"),
            proxy.request("/dave/grafana/"),
            proxy.request("/alice/grafana/"),
            proxy.request("/bob/grafana/"),
        ]);
        expect(carol.status).toBe(502);
        expect(dave.status).toBe(502);
        expect([alice.status, servedBy(alice.body)]).toEqual([200, "alice"]);
        expect([bob.status, servedBy(bob.body)]).toEqual([200, "bob"]);
        await expect(proxy.websocket("/carol/grafana/api/live/ws")).rejects.toMatchObject({ status: 502 });
    });

    it("passes over a vanished task that DNS still names to the user's live one, before the client gives up", async () => {
        // nothing answers at the vanished task's address: each attempt there costs the connect timeout
        const clientPatienceMs = (UPSTREAM_CONNECT_TIMEOUT_SECONDS + 2) * 1000;
        for (let i = 0; i < 3; i++) {
            const res = await proxy.request("/frank/grafana/api/health", { timeoutMs: clientPatienceMs });
            expect([res.status, servedBy(res.body)]).toEqual([200, "frank"]);
        }
        const { socket, greeting } = await proxy.websocket("/frank/grafana/api/live/ws");
        socket.close();
        expect(greeting.servedBy).toBe("frank");
        // nginx did try the vanished task (the first address of a fresh answer) and gave up on it
        expect(proxy.nginxLog()).toMatch(new RegExp(`upstream timed out .* while connecting to upstream.*${VANISHED_TASK_ADDRESS.replace(/\./g, "\\.")}`));
    });

    it("takes 10,000 users with ids of the longest allowed length without a warning (the map stays a proper hash)", () => {
        const ids = Array.from({ length: 10_000 }, (_, i) => `u${String(i).padStart(5, "0")}`.padEnd(40, "x"));
        expect(nginxCheck(nginxConfig(frontProxySpec({ userIds: ids })))).toEqual({ accepted: true, log: "" });
    });

    it("answers /healthz itself, and stub_status only on the monitoring port", async () => {
        const health = await proxy.request("/healthz");
        expect([health.status, health.body]).toEqual([200, "ok"]);
        const status = await proxy.statusRequest("/stub_status");
        expect(status.status).toBe(200);
        expect(status.body).toMatch(/^Active connections: \d+/);
        expect((await proxy.request("/stub_status")).status).toBe(404);
    });
});
