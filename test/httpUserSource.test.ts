/**
 * The HTTP user source against a real HTTP server on 127.0.0.1, started and stopped here: status
 * codes, redirects, timeouts, slow and garbage bodies, the token sent and never leaked.
 */
import fc from "fast-check";
import * as http from "http";
import type { AddressInfo } from "net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpUserSource, loadUsers, USER_LIST_MAX_BYTES, UserSourceError, type HttpUserSourceArgs } from "../components/users/userSources";
import { InvalidInputError } from "../components/validation";
import { json, reply, startLoopbackServer, type Handler, type LoopbackServer } from "./harness/loopbackServer";

let server: LoopbackServer;
let base: string;

beforeAll(async () => {
    server = await startLoopbackServer();
    base = server.base;
});
afterAll(() => server.close());
beforeEach(() => {
    server.requests.length = 0;
});

const requests = () => server.requests;

const TOKEN = "tok-3f9a.secret_VALUE~42";
const LIST = [{ id: "acme" }, { id: "globex", replicas: 2 }];

/** A source on this server with short timeouts and delays, recording what it logs. */
function source(pathname: string, args: Partial<HttpUserSourceArgs> = {}) {
    const logs: string[] = [];
    const src = new HttpUserSource({ url: `${base}${pathname}`, token: TOKEN, timeoutMs: 500, retries: 2, retryDelayMs: 10, log: (m) => logs.push(m), ...args });
    return { src, logs };
}

/** The error `load()` rejects with (fails the test when it resolves). */
async function failure(src: HttpUserSource): Promise<UserSourceError> {
    const err = await src.load().then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserSourceError);
    return err as UserSourceError;
}

describe("HttpUserSource against a local server", () => {
    it("sends the bearer token and asks for JSON, and returns the list", async () => {
        server.handler = json(200, LIST);
        const { src } = source("/api/users");
        await expect(src.load()).resolves.toEqual(LIST);
        expect(requests()).toHaveLength(1);
        expect(requests()[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
        expect(requests()[0].headers.accept).toBe("application/json");
    });

    it("sends no Authorization header without a token", async () => {
        server.handler = json(200, LIST);
        await expect(source("/api/users", { token: undefined }).src.load()).resolves.toEqual(LIST);
        expect(requests()[0].headers.authorization).toBeUndefined();
    });

    it("validates what it loads, naming the URL without its query string", async () => {
        server.handler = json(200, [{ id: "acme" }, { id: "ac-me", replicas: 0 }]);
        const { src } = source("/api/users?key=abc");
        await expect(loadUsers(src)).rejects.toThrow(new InvalidInputError([`${base}/api/users: entry 2 (id "ac-me"): replicas must be a whole number >= 1`]));
    });

    it.each([
        [401, `answered 401 Unauthorized: the token was refused`],
        [403, `answered 403 Forbidden: the token was refused`],
        [404, `answered 404 Not Found: check the URL`],
        [410, `answered 410 Gone: check the URL`],
    ])("refuses %i at once, without retrying", async (status, reason) => {
        server.handler = json(status, { error: "no" });
        const err = await failure(source("/api/users").src);
        expect(err.message).toBe(`${base}/api/users: ${reason}`);
        expect(requests()).toHaveLength(1);
    });

    it("says so when a 401 comes without a token configured", async () => {
        server.handler = json(401, {});
        expect((await failure(source("/api/users", { token: undefined }).src)).message).toBe(
            `${base}/api/users: answered 401 Unauthorized: no token is configured (set token as a secret)`,
        );
    });

    it("refuses a redirect without following it, so the token goes nowhere else", async () => {
        server.handler = (req, res) => {
            if (req.url === "/elsewhere") return json(200, LIST)(req, res);
            res.writeHead(302, { location: `/elsewhere?token=${TOKEN}` });
            res.end();
        };
        const err = await failure(source("/api/users").src);
        expect(err.message).toBe(
            `${base}/api/users: answered 302 Found, a redirect to ${base}/elsewhere; redirects are not followed (the token would go with them): use the final URL`,
        );
        expect(requests().map((r) => r.url)).toEqual(["/api/users"]);
    });

    it("retries a 5xx with backoff and succeeds when the server recovers", async () => {
        let calls = 0;
        server.handler = (req, res) => (++calls < 3 ? json(503, { error: "starting" }) : json(200, LIST))(req, res);
        const { src, logs } = source("/api/users");
        await expect(src.load()).resolves.toEqual(LIST);
        expect(requests()).toHaveLength(3);
        expect(logs).toEqual([
            `${base}/api/users: attempt 1 of 3 failed (answered 503 Service Unavailable); retrying in 10 ms`,
            `${base}/api/users: attempt 2 of 3 failed (answered 503 Service Unavailable); retrying in 20 ms`,
        ]);
    });

    it("gives up after the bounded number of attempts", async () => {
        server.handler = json(500, {});
        const err = await failure(source("/api/users", { retries: 1 }).src);
        expect(err.message).toBe(`${base}/api/users: no usable answer after 2 attempts; the last: answered 500 Internal Server Error`);
        expect(requests()).toHaveLength(2);
    });

    it("times out a server that never answers, and retries", async () => {
        server.handler = () => {}; // holds the request
        const started = Date.now();
        const err = await failure(source("/api/users", { timeoutMs: 200, retries: 1 }).src);
        expect(err.message).toBe(`${base}/api/users: no usable answer after 2 attempts; the last: no complete answer within 200 ms`);
        expect(requests()).toHaveLength(2);
        expect(Date.now() - started).toBeLessThan(5_000);
    });

    it("times out a body that trickles in past the deadline", async () => {
        const timers: NodeJS.Timeout[] = [];
        server.handler = (_req, res) => {
            res.writeHead(200, { "content-type": "application/json" });
            res.write("[");
            timers.push(setTimeout(() => res.end("]"), 2_000));
        };
        const err = await failure(source("/api/users", { timeoutMs: 200, retries: 0 }).src);
        timers.forEach(clearTimeout);
        expect(err.message).toBe(`${base}/api/users: no usable answer after 1 attempts; the last: no complete answer within 200 ms`);
    });

    it("retries a connection cut in the middle of the body", async () => {
        let calls = 0;
        server.handler = (req, res) => {
            if (++calls > 1) return json(200, LIST)(req, res);
            res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
            res.write("[{");
            res.socket?.destroy();
        };
        await expect(source("/api/users").src.load()).resolves.toEqual(LIST);
        expect(requests()).toHaveLength(2);
    });

    it("retries when nothing listens, then names the network error", async () => {
        const closed = http.createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as AddressInfo).port;
        await new Promise((resolve) => closed.close(resolve));
        const { src, logs } = source("", { url: `http://127.0.0.1:${port}/users`, retries: 1 });
        const err = await failure(src);
        expect(err.message).toBe(`http://127.0.0.1:${port}/users: no usable answer after 2 attempts; the last: the request failed (ECONNREFUSED)`);
        expect(logs).toHaveLength(1);
    });

    it.each<[string, Handler, string]>([
        [
            "an HTML sign-in page",
            reply(200, "text/html; charset=utf-8", "<!doctype html><title>Sign in</title><form>...</form>"),
            "answered with an HTML page instead of JSON (a sign-in page?): check the URL and the token",
        ],
        ["HTML labelled as JSON", reply(200, "application/json", "  <html><body>Please log in</body></html>"), "answered with an HTML page instead of JSON (a sign-in page?): check the URL and the token"],
        ["a body that is not JSON", reply(200, "text/plain", "acme\nglobex\n"), "answered with a body that is not JSON (content-type text/plain, 12 bytes)"],
        ["truncated JSON", reply(200, "application/json", '[{"id": "acme"'), "answered with a body that is not JSON (content-type application/json, 14 bytes)"],
        ["an empty 200", reply(200, undefined), "answered with a body that is not JSON (content-type missing, 0 bytes)"],
        ["a 204", reply(204, undefined), "answered with a body that is not JSON (content-type missing, 0 bytes)"],
        [
            "an object wrapping the list",
            json(200, { users: LIST, total: 2 }),
            'answered with JSON that is not a list of user records (got an object); the list may be under "users": point the URL at an endpoint answering the list itself',
        ],
        ["a JSON string", json(200, "acme"), "answered with JSON that is not a list of user records (got a string)"],
        ["null", json(200, null), "answered with JSON that is not a list of user records (got null)"],
    ])("refuses %s without retrying", async (_, h, reason) => {
        server.handler = h;
        expect((await failure(source("/api/users").src)).message).toBe(`${base}/api/users: ${reason}`);
        expect(requests()).toHaveLength(1);
    });

    it("refuses a key given twice in one object, naming it and where", async () => {
        server.handler = reply(200, "application/json", '[{"id": "acme"},\n {"id": "globex", "replicas": 2, "replicas": 20}]');
        expect((await failure(source("/api/users").src)).message).toBe(
            `${base}/api/users: answered with JSON that gives "replicas" twice in one object (line 2, column 34): which one counts would be left to the parser`,
        );
    });

    it("takes the same size limit as a file by default", async () => {
        server.handler = reply(200, "application/json", `[${" ".repeat(USER_LIST_MAX_BYTES)}]`);
        expect((await failure(source("/api/users", { timeoutMs: 5000 }).src)).message).toBe(`${base}/api/users: answered with a body larger than ${USER_LIST_MAX_BYTES} bytes`);
    });

    it("refuses a list that echoes the token in a field, without printing it: validation errors never see it", async () => {
        const token = fc.stringMatching(/^[\x21-\x7e]{8,40}$/);
        const where = fc.constantFrom(
            (t: string) => [{ id: "acme" }, { id: t }],
            (t: string) => [{ id: "acme" }, { id: "globex", theme: t }],
            (t: string) => [{ id: "acme" }, { id: "globex", image: `registry.example/${t}` }],
            (t: string) => [{ id: "acme" }, { id: "globex", [t]: 1 }],
        );
        await fc.assert(
            fc.asyncProperty(token, where, async (tok, list) => {
                server.handler = json(200, list(tok));
                const err = await loadUsers(source("/api/users", { token: tok }).src).then(
                    () => undefined,
                    (e: unknown) => e as Error,
                );
                expect(err?.message).toMatch(new RegExp(`^${base.replace(/[.]/g, "\\.")}/api/users: entry 2: \\S+ holds the token this source is read with: a list that echoes its credentials is refused$`));
                for (const text of [err?.message, String(err?.stack)]) {
                    expect(text).not.toContain(tok);
                    expect(text).not.toContain(JSON.stringify(tok).slice(1, -1));
                }
            }),
            { numRuns: 60 },
        );
    });

    it("refuses a body larger than the limit without reading it all", async () => {
        server.handler = json(200, Array.from({ length: 5_000 }, (_, i) => ({ id: `user-${i}` })));
        const err = await failure(source("/api/users", { maxBytes: 10_000 }).src);
        expect(err.message).toBe(`${base}/api/users: answered with a body larger than 10000 bytes`);
    });

    it("never puts the token in a message or a log line, whatever the server echoes", async () => {
        // Each failure mode echoes the Authorization header back where a careless client would print it.
        const echo = (mode: number): Handler => (req, res) => {
            const auth = String(req.headers.authorization);
            if (mode === 0) res.writeHead(302, { location: `${base}/x/${encodeURIComponent(auth)}?t=${auth}` }).end();
            else if (mode === 1) res.writeHead(200, { "content-type": "text/plain" }).end(`you sent ${auth}`);
            else if (mode === 2) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ [auth]: [1] }));
            else if (mode === 3) res.writeHead(503, `Unavailable for ${auth}`).end();
            else res.writeHead(401, `Bad token ${auth}`).end(auth);
        };
        const token = fc.stringMatching(/^[\x21-\x7e]{8,40}$/);
        await fc.assert(
            fc.asyncProperty(token, fc.integer({ min: 0, max: 4 }), async (tok, mode) => {
                server.handler = echo(mode);
                const { src, logs } = source("/api/users", { token: tok, retries: 1, retryDelayMs: 1 });
                const err = await failure(src);
                for (const text of [err.message, String(err.stack), ...logs]) {
                    expect(text).not.toContain(tok);
                    expect(text).not.toContain(encodeURIComponent(tok));
                }
            }),
            { numRuns: 40 },
        );
    });
});

describe("HttpUserSource arguments", () => {
    it.each<[string, Partial<HttpUserSourceArgs>, string]>([
        ["a token over plain http to another host", { url: "http://users.example.internal/api" }, "http://users.example.internal/api: the token would travel in plain text; use https:// (http:// is accepted for loopback addresses only)"],
        ["credentials in the URL", { url: "https://bob:hunter2@users.example/api", token: undefined }, "https://users.example/api: url must not carry credentials; put the token in the token field (a secret)"],
        ["a token with a line break", { url: "https://users.example/api", token: "abc\n" }, "https://users.example/api: token must be printable ASCII without spaces or line breaks (it is sent in an HTTP header)"],
        ["another scheme", { url: "ftp://users.example/api", token: undefined }, "ftp://users.example/api: url must be an http:// or https:// URL"],
    ])("refuses %s before any request", (_, args, message) => {
        expect(() => new HttpUserSource({ url: "", token: TOKEN, ...args })).toThrow(new InvalidInputError([message]));
    });

    it("accepts plain http with a token on loopback, and https anywhere", () => {
        expect(new HttpUserSource({ url: "http://localhost:8080/users", token: TOKEN }).describe()).toBe("http://localhost:8080/users");
        expect(new HttpUserSource({ url: "https://users.example/api?key=k", token: TOKEN }).describe()).toBe("https://users.example/api");
    });
});
