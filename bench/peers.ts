/**
 * Benchmark 4: the generated nginx config against the proxies a Swarm user would reach for
 * instead, HAProxy and Caddy (bench/peerConfigs.ts), on the harness of benchmarks 1 and 2: per
 * proxy, the WebSocket ramp, memory per WebSocket, echo round trips at 1,000 connections against
 * the same stubs directly, and a reload with the ramp's WebSockets open (bench/websockets.ts);
 * then the routing cost as the user list grows to 10,000 (bench/routing.ts). The generated config
 * is measured again in this run, so every comparison is within one run.
 */
import { PEERS, type PeerName } from "./peerConfigs";
import { DEFAULT_ROUTING_OPTIONS, measureRouting, type RoutingBenchOptions, type RoutingResult } from "./routing";
import { DEFAULT_WEBSOCKET_OPTIONS, measureWebSockets, type ProxyWebSocketResult, type WebSocketBenchOptions } from "./websockets";

export const PEER_PROXIES = ["generated", ...PEERS] as const;
export type PeerProxyName = (typeof PEER_PROXIES)[number];

export interface PeersBenchOptions {
    websockets: WebSocketBenchOptions;
    routing: RoutingBenchOptions;
}

export const DEFAULT_PEERS_OPTIONS: PeersBenchOptions = {
    // echo latency at the level the comparison is asked for only
    websockets: { ...DEFAULT_WEBSOCKET_OPTIONS, latencyConnections: [1_000] },
    routing: { ...DEFAULT_ROUTING_OPTIONS, sizes: [10, 10_000] },
};

export interface PeersResults {
    options: PeersBenchOptions;
    websockets: Record<PeerProxyName, ProxyWebSocketResult>;
    /** The generated config's routing is its map. */
    routing: Record<PeerProxyName, RoutingResult[]>;
}

export async function peersBenchmark(opts: PeersBenchOptions = DEFAULT_PEERS_OPTIONS): Promise<PeersResults> {
    const websockets = {} as Record<PeerProxyName, ProxyWebSocketResult>;
    const routing = {} as Record<PeerProxyName, RoutingResult[]>;
    for (const proxy of PEER_PROXIES) {
        websockets[proxy] = await measureWebSockets(proxy, opts.websockets);
        routing[proxy] = await measureRouting(proxy === "generated" ? "map" : (proxy as PeerName), opts.routing);
    }
    return { options: opts, websockets, routing };
}
