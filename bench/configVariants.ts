/**
 * The nginx configs the benchmarks hold the generated one against, built from plain data like
 * the generated one (nginx-conf renders them, no string templates).
 *
 * - For WebSocket capacity: the configuration Grafana's Live documentation shows ("WebSocket and
 *   proxies": the `$connection_upgrade` map, an upstream, and one location passing the upgrade
 *   headers), inside the process limits of Debian's nginx.conf as installed (`worker_processes
 *   auto`, `worker_connections 768`): what one gets by following both sets of instructions.
 * - For routing many users: a location per user, what a template looping over the user list
 *   writes. Two forms: a prefix location (`location /<id>/grafana/`), and a regex location
 *   (`location ~ ^/<id>/grafana(?:/|$)`), the form needed to also catch the path without its
 *   slash as the generated config does. Everything else (headers, timeouts, servers) is the
 *   generated config's, so only the routing differs.
 */
import { parse } from "nginx-conf";
import { tenantServiceName } from "../components/specs/naming";
import { block, directive, nginxConfigTree, quoted, routingMaps, userLocation, type NginxDirective, type NginxProxySpec } from "../components/specs/nginxConfig";

/** How the user in the path selects the upstream. */
export const ROUTING_STYLES = ["map", "prefix-locations", "regex-locations"] as const;
export type RoutingStyle = (typeof ROUTING_STYLES)[number];

/** An nginx.conf's process limits: `worker_processes` as written (a count or `auto`) and `worker_connections`. */
export interface ProcessLimits {
    workerProcesses: string;
    workerConnections: number;
}

/** nginx-conf's parse tree (its node class is not exported). */
type ParseTree = NonNullable<Parameters<Parameters<typeof parse>[1]>[1]>;

/** The process limits an nginx.conf sets, with nginx's built-in defaults for what it leaves out. */
export function processLimitsOf(nginxConf: string): ProcessLimits {
    let root: ParseTree | undefined;
    parse(nginxConf, (err, tree) => {
        if (err || !tree) throw new Error(`nginx.conf does not parse: ${JSON.stringify(err)}`);
        root = tree;
    });
    const top = root!.children ?? [];
    const events = top.find((n) => n.name === "events" && n.isBlock);
    const connections = events?.children?.find((n) => n.name === "worker_connections")?.value;
    return {
        // nginx's own defaults: one worker, 512 connections
        workerProcesses: String(top.find((n) => n.name === "worker_processes")?.value ?? "1"),
        workerConnections: connections === undefined ? 512 : Number(connections),
    };
}

/** How many workers `worker_processes` starts on a machine with `cpus` processors. */
export function workerCount(workerProcesses: string, cpus: number): number {
    if (workerProcesses === "auto") return cpus;
    const n = Number(workerProcesses);
    if (!Number.isInteger(n) || n < 1) throw new Error(`worker_processes "${workerProcesses}" is neither auto nor a count`);
    return n;
}

/**
 * Grafana Live's documented nginx config, proxying everything to one Grafana at `grafana`
 * (host:port), within `limits`. Logs go where the generated config sends them, so both pay the
 * same for logging.
 */
export function grafanaLiveDocConfig(args: { limits: ProcessLimits; listenPort: number; grafana: string }): NginxDirective[] {
    return [
        directive("worker_processes", args.limits.workerProcesses),
        directive("error_log", "stderr", "warn"),
        block("events", [], [directive("worker_connections", String(args.limits.workerConnections))]),
        block("http", [], [
            directive("access_log", "/dev/stdout"),
            block("map", ["$http_upgrade", "$connection_upgrade"], [directive("default", "upgrade"), directive(quoted(""), "close")]),
            block("upstream", ["grafana"], [directive("server", args.grafana)]),
            block("server", [], [
                directive("listen", String(args.listenPort)),
                block("location", ["/"], [
                    directive("proxy_http_version", "1.1"),
                    directive("proxy_set_header", "Upgrade", "$http_upgrade"),
                    directive("proxy_set_header", "Connection", "$connection_upgrade"),
                    directive("proxy_set_header", "Host", "$http_host"),
                    directive("proxy_pass", "http://grafana"),
                ]),
            ]),
        ]),
    ];
}

const sameDirective = (a: NginxDirective, b: NginxDirective) => a.name === b.name && a.args.join(" ") === b.args.join(" ");

/**
 * The generated config with its routing done another way: for the location styles, the routing
 * maps go, and the user location becomes one location per user (in the map's order), each
 * setting `$pug_upstream` to that user's service and proxying as the generated location does.
 */
export function routingVariantTree(spec: NginxProxySpec, style: RoutingStyle): NginxDirective[] {
    const tree = nginxConfigTree(spec);
    if (style === "map") return tree;
    const maps = routingMaps(spec);
    const generated = userLocation(spec);
    // the route decides in the location match now: no "no route" or redirect checks
    const proxying = generated.children!.filter((d) => d.name !== "if");
    const perUser = [...spec.userIds].sort().map((id) =>
        block("location", style === "prefix-locations" ? [`/${id}/grafana/`] : ["~", quoted(`^/${id}/grafana(?:/|$)`)], [
            directive("set", "$pug_upstream", `${tenantServiceName(id)}:${spec.grafanaPort}`),
            ...proxying,
        ]),
    );
    const replaceIn = (server: NginxDirective): NginxDirective => ({
        ...server,
        children: server.children!.flatMap((d) => (sameDirective(d, generated) ? perUser : [d])),
    });
    return tree.map((d) =>
        d.name !== "http"
            ? d
            : {
                  ...d,
                  children: d.children!.filter((c) => !maps.some((m) => sameDirective(m, c))).map((c) => (c.name === "server" ? replaceIn(c) : c)),
              },
    );
}
