/**
 * The tables `npm run bench` prints, from the results alone (pure: tested in test/bench.test.ts).
 */
import { fixed, markdownTable, ratio, times } from "./report";
import type { EngineResults, OneUserChange } from "./engineRuns";
import type { RenderingResult } from "./rendering";
import type { RoutingResult } from "./routing";
import type { EchoLatency, ProxyWebSocketResult, WebSocketResults } from "./websockets";
import { PEER_PROXIES, type PeersResults } from "./peers";
import { PEERS } from "./peerConfigs";

/** The figure a target asks for: at least or at most. */
export interface Target {
    bound: "at least" | "at most";
    value: number;
}

/** "met", or how far off: "missed by 23%" (a decimal below 10%, so a near miss never reads "0%"). */
export function verdict(value: number | undefined, target: Target): string {
    if (value === undefined || !Number.isFinite(value)) return "not measured";
    const met = target.bound === "at least" ? value >= target.value : value <= target.value;
    if (met) return "met";
    const percent = (Math.abs(value - target.value) / target.value) * 100;
    return `missed by ${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%`;
}

export const TARGETS = {
    webSocketsHeld: { bound: "at least", value: 10_000 },
    renderRatio: { bound: "at most", value: 1.25 },
} as const satisfies Record<string, Target>;

/** Within this fraction of each other, two figures tie: the shared machine moves them that much between runs. */
export const TIE_TOLERANCE = 0.1;

/**
 * Where our figure stands against a peer's, `better` saying which way is better: "leads",
 * "ties" (within TIE_TOLERANCE) or "trails", with ours ÷ the peer's.
 */
export function standing(ours: number | undefined, peer: number | undefined, better: "higher" | "lower"): string {
    if (ours === undefined || peer === undefined || !Number.isFinite(ours) || !Number.isFinite(peer)) return "not measured";
    if (ours === peer) return "ties (1.00×)";
    if (peer === 0) return better === "higher" ? "leads (peer 0)" : "trails (peer 0)";
    const r = ours / peer;
    const word = Math.abs(r - 1) <= TIE_TOLERANCE ? "ties" : (r > 1) === (better === "higher") ? "leads" : "trails";
    return `${word} (${times(r)})`;
}

const count = (n: number) => n.toLocaleString("en-US");
const mib = (kib: number) => fixed(kib / 1024, 1);

function heldCell(r: ProxyWebSocketResult, tried: number): string {
    if (r.failedAt === undefined) return `${count(r.held)} (all tried)`;
    const opened = r.failures.find((f) => /open after the step/.test(f));
    return `${count(r.held)} (failed at ${count(r.failedAt)}${opened ? `: ${opened.replace(/ after the step$/, "")}` : ""}; ${count(tried)} tried)`;
}

function echoCell(l: EchoLatency | undefined, which: "p50" | "p99", held: number): string {
    if (!l) return `— (holds ${count(held)})`;
    return `${times(ratioOf(l, which))} (${fixed(l.proxied[which])} vs ${fixed(l.direct[which])} µs)`;
}

const ratioOf = (l: EchoLatency, which: "p50" | "p99") => (which === "p50" ? l.p50Ratio : l.p99Ratio);

export function websocketTable(r: WebSocketResults): string {
    const { generated: ours, grafanaDocs: docs } = r;
    const tried = Math.max(...r.options.steps);
    const relative = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? times(ratio(a, b)) : "—");
    return markdownTable(
        ["WebSockets through one nginx", "generated config", `Grafana docs config (Debian: ${r.debianLimits.workerProcesses} workers × ${r.debianLimits.workerConnections} connections)`, "generated ÷ docs", "target (generated)"],
        [
            ["held open without errors", heldCell(ours, tried), heldCell(docs, tried), relative(ours.held, docs.held), `≥ ${count(TARGETS.webSocketsHeld.value)}: ${verdict(ours.held, TARGETS.webSocketsHeld)}`],
            ["nginx RSS per WebSocket, KiB", fixed(ours.perWebSocketKiB, 1), fixed(docs.perWebSocketKiB, 1), relative(ours.perWebSocketKiB, docs.perWebSocketKiB), "—"],
            ["nginx RSS with none open, MiB", mib(ours.nginxRssIdleKiB), mib(docs.nginxRssIdleKiB), relative(ours.nginxRssIdleKiB, docs.nginxRssIdleKiB), "—"],
            [`answering after a reload (${count(r.options.reloadConnections)} open)`, `${count(ours.reload.after)} of ${count(ours.reload.before)}`, `${count(docs.reload.after)} of ${count(docs.reload.before)}`, "—", "—"],
            ...r.options.latencyConnections.flatMap((connections) => {
                const at = (p: ProxyWebSocketResult) => p.latency.find((l) => l.connections === connections);
                return (["p50", "p99"] as const).map((which) => {
                    const [o, d] = [at(ours), at(docs)];
                    return [
                        `echo ${which}, proxied ÷ direct, ${count(connections)} conns`,
                        echoCell(o, which, ours.held),
                        echoCell(d, which, docs.held),
                        o && d ? relative(ratioOf(o, which), ratioOf(d, which)) : "—",
                        "—",
                    ];
                });
            }),
        ],
    );
}

export function routingTable(results: RoutingResult[]): string {
    const mapAt = (users: number) => results.find((r) => r.style === "map" && r.users === users);
    return markdownTable(
        ["users", "routing", "nginx -t, ms", "reload, ms", "nginx PSS, MiB", "p50 first user, µs", "p50 last user, µs", "last ÷ first", "reload ÷ map", "PSS ÷ map"],
        results.map((r) => {
            const map = mapAt(r.users);
            return [
                count(r.users),
                r.style,
                fixed(r.checkMs),
                fixed(r.reloadMs),
                mib(r.nginxPssKiB),
                fixed(r.first.p50),
                fixed(r.last.p50),
                times(r.lastToFirstP50),
                map ? times(ratio(r.reloadMs, map.reloadMs)) : "—",
                map ? times(ratio(r.nginxPssKiB, map.nginxPssKiB)) : "—",
            ];
        }),
    );
}

export function renderingTable(results: RenderingResult[]): string {
    return markdownTable(
        ["users", "resources", "stack, s", "SDK baseline, s", "stack ÷ baseline", "stack peak RSS, MiB", "baseline peak RSS, MiB", "peak ÷ baseline", "stack ms per user", `target ≤ ${TARGETS.renderRatio.value}×`],
        results.map((r) => [
            count(r.users),
            count(r.resources),
            fixed(r.stack.ms / 1000, 2),
            fixed(r.baseline.ms / 1000, 2),
            times(r.timeRatio),
            mib(r.stack.peakRssKiB),
            mib(r.baseline.peakRssKiB),
            times(r.peakRssRatio),
            fixed(r.msPerUser, 1),
            verdict(r.timeRatio, TARGETS.renderRatio),
        ]),
    );
}

const PEER_TITLES = { generated: "generated nginx", haproxy: "HAProxy", caddy: "Caddy" } as const;

export function peersTable(r: PeersResults): string {
    const tried = Math.max(...r.options.websockets.steps);
    const connections = r.options.websockets.latencyConnections[0];
    const largest = Math.max(...r.options.routing.sizes);
    const ws = r.websockets;
    const at = (p: ProxyWebSocketResult) => p.latency.find((l) => l.connections === connections);
    const routed = (proxy: (typeof PEER_PROXIES)[number]) => r.routing[proxy].find((x) => x.users === largest);
    /** A row: label, each proxy's figure and its cell, and which way is better. */
    const row = (label: string, better: "higher" | "lower", figure: (proxy: (typeof PEER_PROXIES)[number]) => number | undefined, cell: (proxy: (typeof PEER_PROXIES)[number]) => string) => [
        label,
        ...PEER_PROXIES.map(cell),
        ...PEERS.map((peer) => standing(figure("generated"), figure(peer), better)),
    ];
    const kept = (p: ProxyWebSocketResult) => (p.reload.before ? p.reload.after / p.reload.before : undefined);
    return markdownTable(
        ["one proxy task", ...PEER_PROXIES.map((p) => PEER_TITLES[p]), ...PEERS.map((p) => `generated vs ${PEER_TITLES[p]}`)],
        [
            row("WebSockets held without errors", "higher", (p) => ws[p].held, (p) => heldCell(ws[p], tried)),
            row("RSS per WebSocket, KiB", "lower", (p) => ws[p].perWebSocketKiB, (p) => fixed(ws[p].perWebSocketKiB, 1)),
            row("RSS with none open, MiB", "lower", (p) => ws[p].nginxRssIdleKiB, (p) => mib(ws[p].nginxRssIdleKiB)),
            ...(["p50", "p99"] as const).map((which) =>
                row(`echo ${which}, proxied ÷ direct, ${count(connections)} conns`, "lower", (p) => { const l = at(ws[p]); return l && ratioOf(l, which); }, (p) => echoCell(at(ws[p]), which, ws[p].held)),
            ),
            row("WebSockets answering after a reload", "higher", (p) => kept(ws[p]), (p) => `${count(ws[p].reload.after)} of ${count(ws[p].reload.before)}`),
            row("reload with them open, ms", "lower", (p) => ws[p].reload.reloadMs, (p) => fixed(ws[p].reload.reloadMs)),
            row(`config check, ${count(largest)} users, ms`, "lower", (p) => routed(p)?.checkMs, (p) => fixed(routed(p)?.checkMs)),
            row(`reload to ${count(largest)} users, ms`, "lower", (p) => routed(p)?.reloadMs, (p) => fixed(routed(p)?.reloadMs)),
            row(`PSS with ${count(largest)} users, MiB`, "lower", (p) => routed(p)?.nginxPssKiB, (p) => { const x = routed(p); return x ? mib(x.nginxPssKiB) : "—"; }),
            row(`p50 to the last of ${count(largest)} users, µs`, "lower", (p) => routed(p)?.last.p50, (p) => fixed(routed(p)?.last.p50)),
            row(`last ÷ first user, ${count(largest)} users`, "lower", (p) => routed(p)?.lastToFirstP50, (p) => times(routed(p)?.lastToFirstP50)),
        ],
    );
}

/** The steps a one-user change touches: how many are the user's own, and every other one by name (the blast radius). */
export function touchedCell(c: Pick<OneUserChange, "touched" | "userId">): string {
    const others = c.touched.filter((step) => !step.includes(c.userId));
    return `${c.touched.length} (${c.touched.length - others.length} the user's own${others.length ? `; beyond: ${others.join(", ")}` : ""})`;
}

/** The engine benchmark's four tables: previews from empty, the deployed sizes, one-user changes, fleet upgrades. */
export function engineTables(r: EngineResults): string {
    const s = (seconds: number) => fixed(seconds, 1);
    const previews = markdownTable(
        ["users", "resources planned", "PUG preview, s", "flat preview, s", "PUG ÷ flat", "PUG peak RSS, MiB", "flat peak RSS, MiB", "RSS ÷ flat"],
        r.previews.map((p) => [count(p.users), count(p.planned), s(p.pug.seconds), s(p.flat.seconds), times(p.timeRatio), fixed(p.pug.peakRssMiB), fixed(p.flat.peakRssMiB), times(p.rssRatio)]),
    );
    const deployed = markdownTable(
        ["users × replicas", "resources", "per user", "state per user, KiB", "up that grew it, s", "no-change preview, s", "steps it touched", "no-change up, s", "no-change up peak RSS, MiB"],
        r.deployed.map((d) => [
            `${count(d.users)} × ${d.replicas} (from ${count(d.growUp.fromUsers)} users)`,
            count(d.resources),
            fixed(d.resourcesPerUser, 1),
            fixed(d.stateBytesPerUser / 1024, 1),
            s(d.growUp.seconds),
            s(d.noChangePreview.seconds),
            count(d.noChangePreview.touched),
            s(d.noChangeUp.seconds),
            fixed(d.noChangeUp.peakRssMiB),
        ]),
    );
    const small = Math.min(...r.changes.map((c) => c.users));
    const changes = markdownTable(
        ["users", "change", "steps the plan touches", "preview, s", "up, s", `preview ÷ same change at ${count(small)}`, `up ÷ same change at ${count(small)}`],
        r.changes.map((c) => {
            const base = r.changes.find((b) => b.users === small && b.change === c.change);
            return [count(c.users), c.change, touchedCell(c), s(c.preview.seconds), s(c.up.seconds), base ? times(ratio(c.preview.seconds, base.preview.seconds)) : "—", base ? times(ratio(c.up.seconds, base.up.seconds)) : "—"];
        }),
    );
    const fleet = markdownTable(
        ["fleet upgrade", "users × replicas", "up, s", "until every rollout completed, s", "predicted, s", "measured ÷ predicted", "requests", "failed", "longest outage, s", "next wave after canary, s"],
        r.fleet.map((f) => [
            f.how,
            `${f.users} × ${f.replicas}`,
            s(f.upSeconds),
            s(f.rolloutSeconds),
            s(f.predictedSeconds),
            times(ratio(f.rolloutSeconds, f.predictedSeconds)),
            count(f.requests),
            count(f.failedRequests),
            s(f.longestOutageSeconds),
            f.nextWaveStartedAfterCanarySeconds === undefined ? "—" : s(f.nextWaveStartedAfterCanarySeconds),
        ]),
    );
    const update = r.swarmUpdate;
    return [
        `Preview of a new stack (time ∝ users^k: PUG k = ${fixed(r.previewGrowth.pug, 2)}, flat k = ${fixed(r.previewGrowth.flat, 2)})\n\n${previews}`,
        `Deployed stacks\n\n${deployed}`,
        `One-user changes\n\n${changes}`,
        `Fleet upgrades (Swarm: health check every ${update.healthIntervalSeconds} s, ${update.delaySeconds} s between replicas, ${update.monitorSeconds} s monitor; \`pulumi up --parallel\` default ${r.parallelDefault})\n\n${fleet}`,
    ].join("\n\n");
}
