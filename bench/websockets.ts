/**
 * Benchmark 1: how many Grafana Live WebSockets one proxy task holds, what each costs nginx in
 * memory, and what the proxy adds to an echo's round trip, for the generated config and for
 * Grafana's documented config within Debian's default limits, each in its own run of the proxy
 * namespace (real nginx, dnsmasq, stub Grafanas; clients inside the namespace).
 *
 * Per config: a ramp of concurrent WebSockets through nginx, each step checked by an echo on every
 * open socket, stopping at the first step with an error; then, with those closed, echo round trips
 * at a fixed number of connections exchanging messages, directly against the stubs and through
 * nginx. Both sets stay open and take turns in short segments (direct, proxied, proxied, direct,
 * ...), so the load others put on the shared machine weighs on both alike.
 */
import { readFileSync } from "fs";
import * as os from "os";
import { frontProxySpec } from "../components/frontProxy";
import { tenantServiceName } from "../components/specs/naming";
import { renderNginxConfig } from "../components/specs/nginxConfig";
import type { NginxProxySpec } from "../components/specs/nginxConfig";
import { generatedRun, runOption, serviceRecords, startProxyNamespace, type ProxyNamespace, type ProxyRun } from "../test/harness/proxyNamespace";
import { peerProxy, type PeerName } from "./peerConfigs";
import { combined, startClients, type ClientPool } from "./clients";
import { grafanaLiveDocConfig, processLimitsOf, workerCount, type ProcessLimits } from "./configVariants";
import { rssKiB } from "./memory";
import { ratio, summarize, type LatencySummary } from "./report";

export interface WebSocketBenchOptions {
    /** Concurrent WebSockets tried, in order; the ramp stops at the first step with an error. */
    steps: number[];
    /** Connections exchanging messages while round trips are timed, at each of these levels a proxy held. */
    latencyConnections: number[];
    /** Timed segments per set (direct, proxied), taking turns. */
    segments: number;
    /** Length of each segment, ms. */
    segmentMs: number;
    /** Each connection sends a message this often, ms. */
    intervalMs: number;
    /** Client processes (each from its own source address). */
    clients: number;
    /** WebSockets open through the proxy while it reloads (at most the ramp's `held`). */
    reloadConnections: number;
}

export const DEFAULT_WEBSOCKET_OPTIONS: WebSocketBenchOptions = {
    steps: [250, 500, 750, 1_000, 2_000, 4_000, 6_000, 8_000, 9_000, 10_000, 11_000, 12_000],
    latencyConnections: [500, 1_000],
    segments: 8,
    segmentMs: 2_000,
    intervalMs: 1_000,
    clients: 4,
    reloadConnections: 1_000,
};

/** PUG's generated config, Grafana's documented nginx config, or a peer proxy (bench/peerConfigs.ts). */
export type ProxyConfigName = "generated" | "grafana-docs" | PeerName;

export interface RampStep {
    connections: number;
    ok: boolean;
    /** RSS of nginx's master and workers with these open, KiB. */
    nginxRssKiB: number;
}

export interface ProxyWebSocketResult {
    config: ProxyConfigName;
    /** The most concurrent WebSockets held with no error (0 if the first step failed). */
    held: number;
    /** The step that failed, if one did before the ramp's end. */
    failedAt?: number;
    /** What the clients saw fail there. */
    failures: string[];
    /** What nginx logged at warn level or worse, with counts. */
    nginxProblems: { message: string; count: number }[];
    steps: RampStep[];
    /** nginx's RSS before any connection, KiB. */
    nginxRssIdleKiB: number;
    /** nginx's RSS growth per WebSocket at `held`, KiB. */
    perWebSocketKiB?: number;
    /** At each level of `latencyConnections` up to `held`. */
    latency: EchoLatency[];
    /** A reload onto the same config with the ramp's WebSockets open. */
    reload: ReloadKeeps;
}

/** Whether a reload keeps open WebSockets: how many answered an echo before it, and after it. */
export interface ReloadKeeps {
    before: number;
    after: number;
    reloadMs: number;
}

export interface EchoLatency {
    connections: number;
    direct: LatencySummary;
    proxied: LatencySummary;
    /** proxied ÷ direct */
    p50Ratio: number;
    p99Ratio: number;
    failures: string[];
}

/** The users whose stub Grafanas take the connections, one per client in turn. */
const USERS = ["bench-a", "bench-b", "bench-c", "bench-d"];

/** Client `i`'s share of `total`, spread as evenly as whole numbers allow. */
export function share(total: number, clients: number, i: number): number {
    return Math.floor(total / clients) + (i < total % clients ? 1 : 0);
}

/**
 * nginx's own complaints (warn and worse: it warns when it runs out of worker_connections) in its
 * log, without time, pid and per-connection details, most frequent first.
 */
export function nginxProblems(log: string): { message: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const m of log.matchAll(/\[(warn|error|crit|alert|emerg)\] \d+#\d+: (?:\*\d+ )?([^\n]*?)(?:, client: [^\n]*)?$/gm)) {
        const message = `[${m[1]}] ${m[2]}`;
        counts.set(message, (counts.get(message) ?? 0) + 1);
    }
    return [...counts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
}

interface Target {
    /** The WebSocket URL client `i` opens through nginx. */
    proxied: (i: number) => string;
    /** The stub that URL reaches, directly. */
    direct: (i: number) => string;
}

function targets(config: ProxyConfigName, listenPort: number, grafanaPort: number): Target {
    const dns = serviceRecords(USERS);
    const userOf = (i: number) => USERS[i % USERS.length];
    const stubOf = (user: string) => `${dns[tenantServiceName(user)]}:${grafanaPort}`;
    return config !== "grafana-docs"
        ? {
              proxied: (i) => `ws://127.0.0.1:${listenPort}/${userOf(i)}/grafana/api/live/ws`,
              direct: (i) => `ws://${stubOf(userOf(i))}/${userOf(i)}/grafana/api/live/ws`,
          }
        : // the documented config serves one Grafana: every client reaches the first user's stub
          { proxied: () => `ws://127.0.0.1:${listenPort}/api/live/ws`, direct: () => `ws://${stubOf(USERS[0])}/api/live/ws` };
}

async function ramp(ns: ProxyNamespace, pool: ClientPool, url: (i: number) => string, steps: number[]) {
    const result = { held: 0, failedAt: undefined as number | undefined, failures: [] as string[], steps: [] as RampStep[] };
    let current = 0;
    for (const step of steps) {
        const opened = combined(
            await pool.each((i) => ({ cmd: "open", group: "ramp", url: url(i), count: share(step, pool.size, i) - share(current, pool.size, i), concurrency: 100, timeoutMs: 15_000 })),
        );
        const swept = combined(await pool.each(() => ({ cmd: "sweep", timeoutMs: 15_000 })));
        const ok = opened.failed === 0 && opened.droppedSinceLast === 0 && swept.failed === 0 && swept.droppedSinceLast === 0 && swept.open === step;
        result.steps.push({ connections: step, ok, nginxRssKiB: rssKiB(ns.nginxProcesses()) });
        if (!ok) {
            result.failedAt = step;
            result.failures = [...new Set([...opened.errors, ...swept.errors, `${swept.open} of ${step} open after the step`])];
            break;
        }
        result.held = current = step;
    }
    return result;
}

async function echoLatency(pool: ClientPool, target: Target, connections: number, opts: WebSocketBenchOptions): Promise<EchoLatency> {
    const kinds = ["direct", "proxied"] as const;
    const failures = new Set<string>();
    const note = (kind: string, errors: string[]) => errors.forEach((e) => failures.add(`${kind}: ${e}`));
    for (const kind of kinds) {
        const opened = combined(await pool.each((i) => ({ cmd: "open", group: kind, url: target[kind](i), count: share(connections, pool.size, i), concurrency: 100, timeoutMs: 15_000 })));
        note(kind, opened.errors);
    }
    const echo = async (kind: (typeof kinds)[number]) => {
        const echoed = combined(await pool.each(() => ({ cmd: "echo", group: kind, durationMs: opts.segmentMs, intervalMs: opts.intervalMs })));
        note(kind, echoed.errors);
        return echoed.samplesUs.flat();
    };
    // warm-up (JIT, buffers), not counted
    for (const kind of kinds) await echo(kind);
    const samples = { direct: [] as number[], proxied: [] as number[] };
    for (let i = 0; i < opts.segments; i++) {
        for (const kind of i % 2 ? [...kinds].reverse() : kinds) samples[kind].push(...(await echo(kind)));
    }
    await pool.each(() => ({ cmd: "close" }));
    for (const kind of kinds) if (!samples[kind].length) throw new Error(`no ${kind} echo came back at ${connections} connections: ${[...failures].join("; ")}`);
    const direct = summarize(samples.direct);
    const proxied = summarize(samples.proxied);
    return { connections, direct, proxied, p50Ratio: ratio(proxied.p50, direct.p50), p99Ratio: ratio(proxied.p99, direct.p99), failures: [...failures] };
}

/** `run` on each item in turn (measurements must not overlap). */
async function sequentially<T, R>(items: T[], run: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    for (const item of items) results.push(await run(item));
    return results;
}

/** The limits of Debian's nginx.conf as installed here. */
export function installedLimits(): ProcessLimits {
    return processLimitsOf(readFileSync("/etc/nginx/nginx.conf", "utf8"));
}

/** How many of the open WebSockets answer an echo. */
async function answering(pool: ClientPool): Promise<number> {
    const swept = combined(await pool.each(() => ({ cmd: "sweep", timeoutMs: 5_000 })));
    return swept.open - swept.failed;
}

/**
 * A reload onto the same config with `count` WebSockets open through the proxy; those still
 * answering 2 s later were kept. Not at the ramp's end: a proxy out of file descriptors there
 * might not even take the reload command.
 */
async function reloadKeeps(ns: ProxyNamespace, pool: ClientPool, url: (i: number) => string, count: number, run: ProxyRun): Promise<ReloadKeeps> {
    await pool.each((i) => ({ cmd: "open", group: "reload", url: url(i), count: share(count, pool.size, i), concurrency: 100, timeoutMs: 15_000 }));
    const before = await answering(pool);
    const { reloadMs } = await ns.reload(run);
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await answering(pool);
    await pool.each(() => ({ cmd: "close" }));
    return { before, after, reloadMs };
}

/** What the proxy namespace runs for a config. */
function proxyRun(config: ProxyConfigName, spec: NginxProxySpec): ProxyRun {
    if (config === "generated") return generatedRun(spec);
    if (config !== "grafana-docs") return peerProxy(config, spec);
    const limits = installedLimits();
    const grafana = `${serviceRecords(USERS)[tenantServiceName(USERS[0])]}:${spec.grafanaPort}`;
    return { config: renderNginxConfig(grafanaLiveDocConfig({ limits, listenPort: spec.listenPort, grafana })), workerProcesses: workerCount(limits.workerProcesses, os.cpus().length) };
}

export async function measureWebSockets(config: ProxyConfigName, opts: WebSocketBenchOptions): Promise<ProxyWebSocketResult> {
    const spec = frontProxySpec({ userIds: USERS });
    const run = proxyRun(config, spec);
    const ns = await startProxyNamespace({ spec, ...runOption(run), dns: serviceRecords(USERS), running: USERS });
    try {
        const pool = await startClients(ns, opts.clients);
        const target = targets(config, spec.listenPort, spec.grafanaPort);
        const nginxRssIdleKiB = rssKiB(ns.nginxProcesses());
        const capacity = await ramp(ns, pool, target.proxied, opts.steps);
        const problems = nginxProblems(ns.nginxLog(Infinity));
        await pool.each(() => ({ cmd: "close" }));
        const reload = await reloadKeeps(ns, pool, target.proxied, Math.min(opts.reloadConnections, capacity.held), run);
        const heldStep = capacity.steps.find((s) => s.connections === capacity.held);
        return {
            config,
            ...capacity,
            nginxProblems: problems,
            nginxRssIdleKiB,
            perWebSocketKiB: heldStep ? (heldStep.nginxRssKiB - nginxRssIdleKiB) / capacity.held : undefined,
            latency: await sequentially(opts.latencyConnections.filter((n) => n <= capacity.held), (n) => echoLatency(pool, target, n, opts)),
            reload,
        };
    } finally {
        await ns.stop();
    }
}

export interface WebSocketResults {
    options: WebSocketBenchOptions;
    debianLimits: ProcessLimits;
    generated: ProxyWebSocketResult;
    grafanaDocs: ProxyWebSocketResult;
}

export async function websocketBenchmark(opts: WebSocketBenchOptions = DEFAULT_WEBSOCKET_OPTIONS): Promise<WebSocketResults> {
    const generated = await measureWebSockets("generated", opts);
    const grafanaDocs = await measureWebSockets("grafana-docs", opts);
    return { options: opts, debianLimits: installedLimits(), generated, grafanaDocs };
}
