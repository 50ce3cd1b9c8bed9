import fc from "fast-check";
import { parse } from "nginx-conf";
import { describe, expect, it } from "vitest";
import { frontProxyProblems, frontProxySpec } from "../frontProxy";
import {
    block,
    directive,
    LIVE_PING_INTERVAL_SECONDS,
    nginxConfig,
    nginxConfigTree,
    quoted,
    renderNginxConfig,
    UPSTREAM_CONNECT_TIMEOUT_SECONDS,
    workerSizing,
    type NginxDirective,
    type NginxProxySpec,
} from "./nginxConfig";

/** The text parsed back by nginx-conf's own parser, as directives (arguments joined by spaces). */
function parsed(text: string): { name: string; value: string; children?: ReturnType<typeof parsed> }[] {
    let tree: any;
    parse(text, (err, t) => {
        if (err) throw new Error(JSON.stringify(err));
        tree = t;
    });
    const walk = (nodes: any[]): ReturnType<typeof parsed> =>
        nodes.map((n) => ({ name: n.name, value: n.value, ...(n.isBlock ? { children: walk(n.children) } : {}) }));
    return walk(tree.children);
}

const flat = (ds: NginxDirective[]): ReturnType<typeof parsed> =>
    ds.map((d) => ({ name: d.name, value: d.args.join(" "), ...(d.children ? { children: flat(d.children) } : {}) }));

/** Every directive of the tree with the names of the blocks it sits in. */
function* walk(ds: NginxDirective[], path: string[] = []): Generator<{ d: NginxDirective; path: string[] }> {
    for (const d of ds) {
        yield { d, path };
        if (d.children) yield* walk(d.children, [...path, [d.name, ...d.args].join(" ")]);
    }
}
const find = (ds: NginxDirective[], pred: (d: NginxDirective) => boolean) => [...walk(ds)].filter((x) => pred(x.d)).map((x) => x.d);
const userLocation = (ds: NginxDirective[]) => find(ds, (d) => d.name === "location" && d.children!.some((c) => c.name === "proxy_pass" && c.args[0] === "http://$pug_upstream"))[0];
const header = (loc: NginxDirective, name: string) =>
    loc.children!.filter((c) => c.name === "proxy_set_header" && c.args[0].toLowerCase() === name.toLowerCase()).map((c) => c.args[1]);

const jwtSpec = (grafanaHeader = "X-JWT-Assertion"): NginxProxySpec =>
    frontProxySpec({ userIds: ["alice"], auth: "jwt", jwt: { endpoint: "http://auth.internal:8080/check", grafanaHeader } });

describe("renderNginxConfig", () => {
    it("writes what the tree says: nginx-conf parses the text back to the same directives", () => {
        for (const spec of [frontProxySpec({ userIds: ["alice", "bob"] }), jwtSpec(), frontProxySpec({ userIds: ["a"], trustedProxies: ["10.0.0.0/8"] })]) {
            const tree = nginxConfigTree(spec);
            expect(parsed(renderNginxConfig(tree))).toEqual(flat(tree));
        }
    });

    it("quotes so nginx reads the string back: quotes and backslashes escaped", () => {
        expect(quoted(`a "b" \\c`)).toBe(`"a \\"b\\" \\\\c"`);
        expect(renderNginxConfig([directive("return", "200", quoted("a;b {c}"))])).toBe(`return 200 "a;b {c}";\n`);
    });

    it("refuses an argument that would split or end the directive unless quoted", () => {
        for (const bad of ["a b", "a;", "{", `"open`, "x#y", ""]) {
            expect(() => renderNginxConfig([directive("set", "$x", bad)])).toThrow(/must be quoted/);
        }
    });

    it("refuses directives of one name that are not adjacent, which nginx-conf would reorder", () => {
        expect(() => renderNginxConfig([block("http", [], [directive("a", "1"), directive("b", "2"), directive("a", "3")])])).toThrow(
            /in main > http, "a" directives must be adjacent/,
        );
    });
});

describe("routing", () => {
    it("names each user's service only in the user map; proxy_pass takes nothing else", () => {
        const tree = nginxConfigTree(frontProxySpec({ userIds: ["bob", "alice"] }));
        const upstreamMap = find(tree, (d) => d.name === "map" && d.args[1] === "$pug_upstream")[0];
        expect(upstreamMap.children!.map((c) => [c.name, ...c.args])).toEqual([
            [`"alice"`, "grafana-alice:3000"],
            [`"bob"`, "grafana-bob:3000"],
            ["default", `""`],
        ]);
        expect(find(tree, (d) => d.name === "proxy_pass").map((d) => d.args)).toEqual([["http://$pug_upstream"]]);
        // the user comes from the path as sent, never from nginx's decoded $uri
        const userMap = find(tree, (d) => d.name === "map" && d.args[1] === "$pug_user")[0];
        expect(userMap.args[0]).toBe("$request_uri");
    });

    it("escapes user ids that are map keywords, so `default` cannot become every path's user", () => {
        const text = nginxConfig(frontProxySpec({ userIds: ["default", "include", "hostnames", "volatile", "constructor"] }));
        for (const id of ["default", "include", "hostnames", "volatile"]) expect(text).toContain(`"\\\\${id}" grafana-${id}:3000;`);
        expect(text).toContain(`"constructor" grafana-constructor:3000;`);
        expect(text).toMatch(/map \$pug_user \$pug_upstream \{[^}]*\n\s*default "";/);
    });

    it("carries WebSocket upgrades on the whole user location, over HTTP/1.1, with the Host as sent", () => {
        const loc = userLocation(nginxConfigTree(frontProxySpec({ userIds: ["alice"] })));
        expect(loc.children!.find((c) => c.name === "proxy_http_version")!.args).toEqual(["1.1"]);
        expect(header(loc, "Upgrade")).toEqual(["$http_upgrade"]);
        expect(header(loc, "Connection")).toEqual(["$connection_upgrade"]);
        expect(header(loc, "Host")).toEqual(["$pug_forwarded_host"]);
    });

    it("waits longer than Live's ping before dropping a silent connection, and refuses a shorter wait", () => {
        const spec = frontProxySpec({ userIds: ["alice"] });
        const loc = userLocation(nginxConfigTree(spec));
        for (const name of ["proxy_read_timeout", "proxy_send_timeout"]) {
            expect(parseInt(loc.children!.find((c) => c.name === name)!.args[0], 10)).toBeGreaterThan(LIVE_PING_INTERVAL_SECONDS);
        }
        expect(frontProxyProblems({ userIds: ["alice"], networkIds: [], idleTimeoutSeconds: 20 })).toEqual(["idleTimeoutSeconds must be a whole number above Live's ping interval of 25s"]);
    });

    it("gives up on a task that accepts nothing within seconds and tries the user's next task", () => {
        const loc = userLocation(nginxConfigTree(frontProxySpec({ userIds: ["alice"] })));
        const args = (name: string) => loc.children!.filter((c) => c.name === name).map((c) => c.args);
        // a vanished task still in the DNS cache costs this wait, not a failed request (test/proxy)
        expect(args("proxy_connect_timeout")).toEqual([[`${UPSTREAM_CONNECT_TIMEOUT_SECONDS}s`]]);
        // long enough for a lost SYN to be sent again (the kernel waits 1 s before it does)
        expect(UPSTREAM_CONNECT_TIMEOUT_SECONDS).toBeGreaterThan(1);
        const nextUpstream = args("proxy_next_upstream");
        expect(nextUpstream).toHaveLength(1);
        expect(nextUpstream[0]).toEqual(expect.arrayContaining(["error", "timeout"]));
        expect(nextUpstream[0]).not.toContain("off");
    });

    it("resolves through the configured DNS server at request time, following moved tasks", () => {
        const tree = nginxConfigTree(frontProxySpec({ userIds: ["alice"] }));
        expect(find(tree, (d) => d.name === "resolver")[0].args).toEqual(["127.0.0.11", "valid=10s", "ipv6=off"]);
        expect(find(tree, (d) => d.name === "upstream")).toEqual([]);
    });
});

describe("identity headers", () => {
    it("grafana mode: empties X-WEBAUTH-USER and X-JWT-Assertion (nginx then drops them), passes Authorization", () => {
        const loc = userLocation(nginxConfigTree(frontProxySpec({ userIds: ["alice"] })));
        expect(header(loc, "X-WEBAUTH-USER")).toEqual([`""`]);
        expect(header(loc, "X-JWT-Assertion")).toEqual([`""`]);
        expect(header(loc, "Authorization")).toEqual([]);
        expect(find([loc], (d) => d.name.startsWith("auth_request"))).toEqual([]);
    });

    it("jwt mode: Grafana's header carries only the auth endpoint's token; the default names are still emptied", () => {
        const loc = userLocation(nginxConfigTree(jwtSpec("X-Platform-Token")));
        expect(header(loc, "X-Platform-Token")).toEqual(["$pug_jwt"]);
        expect(header(loc, "X-JWT-Assertion")).toEqual([`""`]);
        expect(header(loc, "X-WEBAUTH-USER")).toEqual([`""`]);
        expect(header(loc, "Authorization")).toEqual([`""`]);
        expect(header(loc, "X-Forwarded-User")).toEqual([`""`]);
        expect(loc.children!.find((c) => c.name === "auth_request_set")!.args).toEqual(["$pug_jwt", "$upstream_http_x_pug_token"]);
        // a header named like a default one, in another case, is set once, to the token
        expect(header(userLocation(nginxConfigTree(jwtSpec("x-jwt-assertion"))), "X-JWT-Assertion")).toEqual(["$pug_jwt"]);
    });

    it("jwt mode: asks the endpoint through an internal location, resolved when asked", () => {
        const auth = find(nginxConfigTree(jwtSpec()), (d) => d.name === "location" && d.args[0] === "=" && d.args[1] === "/_pug/auth")[0];
        const names = auth.children!.map((c) => c.name);
        expect(names).toContain("internal");
        expect(auth.children!.find((c) => c.name === "set")!.args).toEqual(["$pug_auth_endpoint", `"http://auth.internal:8080/check"`]);
        expect(auth.children!.find((c) => c.name === "proxy_pass")!.args).toEqual(["$pug_auth_endpoint"]);
        expect(auth.children!.find((c) => c.name === "proxy_pass_request_body")!.args).toEqual(["off"]);
    });
});

describe("workerSizing", () => {
    it("holds the default 10,000 WebSockets (20,000 connections) with every worker under 20,000 open files", () => {
        const s = workerSizing(frontProxySpec({ userIds: [] }).limits);
        expect(s.workerRlimitNofile).toBeLessThanOrEqual(20_000);
        expect(s.workerConnections).toBeLessThan(s.workerRlimitNofile);
        expect(s.workerProcesses * s.workerConnections).toBeGreaterThanOrEqual(2 * 2 * 10_000);
    });

    it("for any load and open-files limit: twice the needed connections, within the limit, at least two workers", () => {
        fc.assert(
            fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 2048, max: 1_048_576 }), (webSockets, openFiles) => {
                const s = workerSizing({ webSockets, openFilesPerWorker: openFiles, idleTimeoutSeconds: 90, clientMaxBodyMb: 1 });
                expect(s.workerRlimitNofile).toBe(openFiles);
                expect(s.workerConnections).toBeLessThan(openFiles);
                expect(s.workerProcesses).toBeGreaterThanOrEqual(2);
                expect(s.workerProcesses * s.workerConnections).toBeGreaterThanOrEqual(2 * 2 * webSockets);
            }),
        );
    });
});
