/**
 * Benchmark 2: what routing costs as the user list grows, for the generated config (a hashed map
 * from user id to upstream) and for a location per user (prefix, and regex), each in its own run
 * of the proxy namespace. Per size, ascending: `nginx -t` time, reload time (SIGHUP until the new
 * workers run), nginx's memory once the old workers left, and the latency of a request to the
 * first and to the last user of the list, alternating over one keep-alive connection from a
 * client inside the namespace. Only those users' stubs run: nginx resolves a name only when asked.
 */
import { frontProxySpec, PROXY_LISTEN_PORT } from "../components/frontProxy";
import { renderNginxConfig, workerSizing } from "../components/specs/nginxConfig";
import { eventually, runOption, serviceRecords, startProxyNamespace, type NginxRun, type ProxyRun } from "../test/harness/proxyNamespace";
import { PEERS, peerProxy, type PeerName } from "./peerConfigs";
import { startClients } from "./clients";
import { ROUTING_STYLES, routingVariantTree, type RoutingStyle } from "./configVariants";
import { pssKiB, rssKiB } from "./memory";
import { ratio, summarize, type LatencySummary } from "./report";
import { nginxProblems } from "./websockets";

export interface RoutingBenchOptions {
    /** Numbers of users, ascending. */
    sizes: number[];
    /** Timed requests to each of the two users. */
    rounds: number;
    warmup: number;
}

export const DEFAULT_ROUTING_OPTIONS: RoutingBenchOptions = { sizes: [10, 1_000, 10_000], rounds: 2_000, warmup: 200 };

export interface RoutingResult {
    /** An nginx routing style, or a peer proxy with its own routing (bench/peerConfigs.ts). */
    style: RoutingStyle | PeerName;
    users: number;
    checkMs: number;
    reloadMs: number;
    /** PSS of nginx's master and workers, KiB: shared pages (the parsed config) counted once. */
    nginxPssKiB: number;
    /** RSS of the same, KiB: the config counted again in every worker. */
    nginxRssKiB: number;
    first: LatencySummary;
    last: LatencySummary;
    /** last ÷ first, p50 */
    lastToFirstP50: number;
    /** What nginx warned about for this config (e.g. a map hash it could not size optimally). */
    warnings: string[];
}

/** User ids in the order the configs list them (sorted): u00000, u00001, ... */
export function benchUserIds(count: number): string[] {
    return Array.from({ length: count }, (_, i) => `u${String(i).padStart(5, "0")}`);
}

/** The config of a routing style for the first `users` of the list. */
export function routingRun(style: RoutingStyle, userIds: string[]): NginxRun {
    const spec = frontProxySpec({ userIds });
    return { config: renderNginxConfig(routingVariantTree(spec, style)), workerProcesses: workerSizing(spec.limits).workerProcesses };
}

/** What runs as the proxy for these users: an nginx routing style's config, or a peer's. */
function runFor(style: RoutingStyle | PeerName, userIds: string[]): ProxyRun {
    return (PEERS as readonly string[]).includes(style) ? peerProxy(style as PeerName, frontProxySpec({ userIds })) : routingRun(style as RoutingStyle, userIds);
}

/** Per size, ascending: the proxy reloaded onto the config of that many users, then measured. */
export async function measureRouting(style: RoutingStyle | PeerName, opts: RoutingBenchOptions): Promise<RoutingResult[]> {
    const ids = benchUserIds(Math.max(...opts.sizes));
    const measured = [...new Set([ids[0], ...opts.sizes.map((n) => ids[n - 1])])];
    const dns = serviceRecords(measured);
    const first = opts.sizes[0];
    const ns = await startProxyNamespace({ spec: frontProxySpec({ userIds: ids.slice(0, first) }), ...runOption(runFor(style, ids.slice(0, first))), dns, running: measured });
    const results: RoutingResult[] = [];
    try {
        const client = await startClients(ns, 1);
        for (const users of opts.sizes) {
            const logBefore = ns.nginxLog(Infinity).length;
            const reload = await ns.reload(runFor(style, ids.slice(0, users)));
            await eventually("old workers exit", () => !ns.nginxWorkers().some((p) => reload.oldWorkers.includes(p)), 30_000);
            const warnings = nginxProblems(ns.nginxLog(Infinity).slice(logBefore)).map((p) => p.message);
            const pids = ns.nginxProcesses();
            const memory = { nginxPssKiB: pssKiB(pids), nginxRssKiB: rssKiB(pids) };
            const url = (id: string) => `http://127.0.0.1:${PROXY_LISTEN_PORT}/${id}/grafana/api/health`;
            const [reply] = await client.each(() => ({
                cmd: "http",
                targets: [ids[0], ids[users - 1]].map((id) => ({ url: url(id), servedBy: id })),
                rounds: opts.rounds,
                warmup: opts.warmup,
            }));
            if (reply.failed) throw new Error(`routing ${style} with ${users} users: ${reply.errors.join("; ")}`);
            const [firstUs, lastUs] = reply.samplesUs!;
            const firstSummary = summarize(firstUs);
            const lastSummary = summarize(lastUs);
            results.push({
                style,
                users,
                checkMs: reload.checkMs,
                reloadMs: reload.reloadMs,
                ...memory,
                first: firstSummary,
                last: lastSummary,
                lastToFirstP50: ratio(lastSummary.p50, firstSummary.p50),
                warnings,
            });
        }
    } finally {
        await ns.stop();
    }
    return results;
}

export async function routingBenchmark(opts: RoutingBenchOptions = DEFAULT_ROUTING_OPTIONS): Promise<{ options: RoutingBenchOptions; results: RoutingResult[] }> {
    const results: RoutingResult[] = [];
    for (const style of ROUTING_STYLES) results.push(...(await measureRouting(style, opts)));
    return { options: opts, results };
}
