/**
 * The proxies a Swarm user would reach for instead of PUG's generated nginx config, made from
 * the same spec (users, ports, idle timeout, resolver) and each set up
 * the way its own documentation says for WebSockets to a backend behind a path prefix, and each
 * routing `/<id>/grafana/...` to that user's Swarm service (`grafana-<id>:3000`, resolved through
 * Docker's DNS when a request comes, as the generated config does), 404 for anyone else, and
 * `/healthz` answering 200. Access logs go where the generated config's go (the harness's log
 * file), so all three pay for logging. Installed from Debian (bookworm: HAProxy 2.6, Caddy 2.6).
 *
 * Not carried over from the generated config (they cost little per request, and neither peer's
 * documentation asks for them): the forged identity headers it empties, the slash redirect, the
 * status server, the client body and header limits.
 */
import { tenantServiceName } from "../components/specs/naming";
import type { NginxProxySpec } from "../components/specs/nginxConfig";
import type { PeerProxy } from "../test/harness/proxyNamespace";
import { eventually } from "../test/harness/proxyNamespace";

export const PEERS = ["haproxy", "caddy"] as const;
export type PeerName = (typeof PEERS)[number];

/** The user → upstream lines, in the generated map's order (sorted ids). */
const routes = (spec: NginxProxySpec) => [...spec.userIds].sort().map((id) => [id, `${tenantServiceName(id)}:${spec.grafanaPort}`] as const);

/**
 * HAProxy (https://docs.haproxy.org/2.6/configuration.html):
 * - WebSockets need no option: HAProxy sees the Upgrade and switches the connection to tunnel
 *   mode, where `timeout tunnel` replaces the client and server timeouts ("timeout tunnel", and
 *   HAProxy's "WebSockets load balancing with HAProxy": set it for long-lived WebSockets).
 * - The user's backend is chosen by a map file (the `map` converter, HAProxy's "Introduction to
 *   HAProxy maps"): one line per user, looked up in a tree, so many users stay cheap.
 * - The service name is resolved per request: `do-resolve` into a variable and `set-dst` on a
 *   backend whose server is `0.0.0.0:0`, the manual's own example under `http-request
 *   do-resolve`, with a `resolvers` section naming Docker's DNS; `hold valid` as nginx's `valid=`.
 * - Master-worker mode (`-W`, as Debian's service runs it with `-Ws`): a reload (SIGUSR2 to the
 *   master) starts new workers and lets the old ones finish their connections ("Management
 *   Guide", section 4: stopping and restarting). `maxconn` is left to HAProxy, which derives it
 *   from the open-files limit.
 */
export function haproxyFiles(spec: NginxProxySpec, dir: string): Record<string, string> {
    const config = [
        "global",
        "    log stdout format raw local0",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option forwardfor",
        "    timeout connect 5s",
        "    timeout client 30s",
        "    timeout server 30s",
        `    timeout tunnel ${spec.limits.idleTimeoutSeconds}s`,
        "resolvers docker",
        `    nameserver dns ${spec.resolver}:53`,
        `    hold valid ${spec.resolverValidSeconds}s`,
        "frontend public",
        `    bind :${spec.listenPort}`,
        "    http-request return status 200 content-type text/plain string ok if { path /healthz }",
        `    http-request set-var(txn.upstream) path,field(2,/),map(${dir}/users.map) if { path,field(3,/) -m str grafana }`,
        "    http-request return status 404 unless { var(txn.upstream) -m found }",
        "    http-request do-resolve(txn.upstream_ip,docker,ipv4) var(txn.upstream)",
        "    default_backend grafana",
        "backend grafana",
        "    http-request return status 502 unless { var(txn.upstream_ip) -m found }",
        "    http-request set-dst var(txn.upstream_ip)",
        `    http-request set-dst-port int(${spec.grafanaPort})`,
        "    server clear 0.0.0.0:0",
        "",
    ].join("\n");
    // the map names the service; the port is set with the address
    return { "haproxy.cfg": config, "users.map": routes(spec).map(([id]) => `${id} ${tenantServiceName(id)}\n`).join("") };
}

/**
 * Caddy (https://caddyserver.com/docs/caddyfile/directives/reverse_proxy):
 * - WebSockets need no option: `reverse_proxy` passes the upgrade and streams both ways.
 * - Behind a path prefix that the backend serves itself (Grafana's `serve_from_sub_path`), the
 *   path must pass unchanged: `handle` with `reverse_proxy`, not `handle_path`, which strips it
 *   (https://caddyserver.com/docs/caddyfile/directives/handle_path).
 * - Many users: the `map` directive sets a placeholder from an input
 *   (https://caddyserver.com/docs/caddyfile/directives/map), and `reverse_proxy` dials an
 *   upstream named by a placeholder per request ("dial ... may contain placeholders" in the JSON
 *   reference): the shape of the generated config's maps. Names resolve through the system
 *   resolver, which in a Swarm task is Docker's DNS (the harness gives the namespace that
 *   resolv.conf).
 * - A reload is `caddy reload` (the admin API's /load); `--force` because the benchmark reloads
 *   the same config.
 */
export function caddyfile(spec: NginxProxySpec): string {
    return [
        "{",
        "\tadmin localhost:2019",
        "\tauto_https off",
        "}",
        `:${spec.listenPort} {`,
        "\tlog {",
        "\t\toutput stdout",
        "\t}",
        // keyed "<id>/grafana", not the bare id: a user may be called "default", the map's keyword
        "\tmap {path} {pug_route} {",
        '\t\t~^/([^/]+/grafana)(?:/|$) "${1}"',
        '\t\tdefault ""',
        "\t}",
        "\tmap {pug_route} {pug_upstream} {",
        ...routes(spec).map(([id, upstream]) => `\t\t${id}/grafana ${upstream}`),
        '\t\tdefault ""',
        "\t}",
        "\thandle /healthz {",
        '\t\trespond "ok" 200',
        "\t}",
        '\t@routed expression `{pug_upstream} != ""`',
        "\thandle @routed {",
        "\t\treverse_proxy {pug_upstream} {",
        "\t\t\ttransport http {",
        "\t\t\t\tdial_timeout 5s",
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "\thandle {",
        "\t\trespond 404",
        "\t}",
        "}",
        "",
    ].join("\n");
}

/** A peer as the proxy namespace runs it in nginx's place. */
export function peerProxy(name: PeerName, spec: NginxProxySpec): PeerProxy {
    if (name === "haproxy") {
        return {
            name,
            files: (dir) => haproxyFiles(spec, dir),
            check: (dir) => ["haproxy", ["-c", "-q", "-f", `${dir}/haproxy.cfg`]],
            run: (dir) => ["haproxy", ["-W", "-db", "-f", `${dir}/haproxy.cfg`]],
            async reload({ pid, oldWorkers, workers }) {
                process.kill(pid, "SIGUSR2");
                await eventually("a new HAProxy worker", () => workers().some((p) => !oldWorkers.includes(p)), 30_000, 2);
            },
        };
    }
    // Caddy keeps its state (certificates, autosaved config) under XDG dirs: the temp dir's, not root's.
    const env = (dir: string) => [`HOME=${dir}`, `XDG_DATA_HOME=${dir}`, `XDG_CONFIG_HOME=${dir}`];
    const caddy = (dir: string, command: string, ...more: string[]) => ["env", [...env(dir), "caddy", command, "--config", `${dir}/Caddyfile`, "--adapter", "caddyfile", ...more]] as [string, string[]];
    return {
        name,
        files: () => ({ Caddyfile: caddyfile(spec) }),
        check: (dir) => caddy(dir, "validate"),
        run: (dir) => caddy(dir, "run"),
        // `caddy reload` returns once the admin API has loaded the config
        reload: async ({ dir, exec }) => exec(caddy(dir, "reload", "--address", "localhost:2019", "--force")),
    };
}
