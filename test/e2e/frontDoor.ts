/**
 * How the end-to-end test reaches users' Grafanas from the host, the way a browser reaches
 * https://DOMAIN/<id>/grafana/: a FrontDoor gives the URL of a path under a user's public path and
 * the headers a browser sends to the public domain. The checks are written against this interface
 * only.
 *
 * The door is the stack's own front proxy: the port its nginx task publishes on the node (host
 * mode), one for all users, with the user's path in the URL and the domain in the Host header. So
 * every request and WebSocket of the test goes through PUG's generated nginx.conf, its routing
 * maps and Docker's DNS, as a browser's would behind the TLS terminator.
 *
 * Below the door: the clients the checks (and drills) use through it, and the proxy's own account
 * of a failed request.
 */
import * as http from "http";
import WebSocket from "ws";
import { DEFAULT_PROXY_SERVICE_NAME } from "../../components/frontProxy";
import { tenantPath } from "../../components/specs/naming";
import { demultiplexLogs, eventually, runningTasks, type Engine } from "./engine";

export interface FrontDoor {
    /** The URL of `path` under the user's public path, e.g. url("alice", "api/health"). */
    url(userId: string, path: string, scheme?: "http" | "ws"): string;
    /** What a browser sends to https://DOMAIN/…: the Host (the proxy and Live's origin check read it) and Origin. */
    headers: { Host: string; Origin: string };
}

/** The front proxy's port published on the node at `address` (this machine by default), serving `domain`. */
export function frontProxyDoor(publishedPort: number, domain: string, address = "127.0.0.1"): FrontDoor {
    return {
        url: (userId, path, scheme = "http") => `${scheme}://${address}:${publishedPort}${tenantPath(userId)}${path}`,
        headers: { Host: domain, Origin: `https://${domain}` },
    };
}

export interface Answer {
    status: number;
    headers: http.IncomingHttpHeaders;
    /** The body, parsed when it is JSON. */
    body: any;
}

/**
 * GET of a path under a user's public path, a new connection each time (no keep-alive to hide a
 * failure); no answer within `patienceMs` is a failure.
 */
export function get(door: FrontDoor, userId: string, path: string, patienceMs = 5_000): Promise<Answer> {
    const url = door.url(userId, path);
    return new Promise((resolve, reject) => {
        const req = http.get(url, { headers: door.headers, agent: false, timeout: patienceMs }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c));
            res.on("end", () => {
                let body: unknown = text;
                try {
                    body = JSON.parse(text);
                } catch {
                    // not JSON: keep the text
                }
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
            });
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url}: timeout`)));
        req.on("error", reject);
    });
}

/** What a polling client saw: how many requests, which failed, the slowest, the longest run of failures. */
export interface Polled {
    requests: number;
    failures: string[];
    slowestMs: number;
    /** From the first failed request of a run sent to the last one's end. */
    longestOutageMs: number;
    /** When the last failed request ended (ms), if any failed. */
    lastFailureAt?: number;
}

/** A client requesting a user's /api/health every `everyMs` (100 ms: as a browser would), until stopped. */
export function pollHealth(door: FrontDoor, userId: string, patienceMs?: number, everyMs = 100): { stop(): Promise<Polled> } {
    const polled: Polled = { requests: 0, failures: [], slowestMs: 0, longestOutageMs: 0 };
    let polling = true;
    let failingSince: number | undefined;
    const loop = (async () => {
        while (polling) {
            polled.requests++;
            const sent = Date.now();
            const failure = await get(door, userId, "api/health", patienceMs).then(
                (res) => (res.status === 200 ? undefined : `${res.status} from ${res.headers["x-standin-task"] ?? "nginx"}`),
                (err: Error) => err.message,
            );
            const answered = Date.now();
            polled.slowestMs = Math.max(polled.slowestMs, answered - sent);
            if (failure) {
                polled.failures.push(`${new Date(sent).toISOString()}: ${failure}`);
                failingSince ??= sent;
                polled.lastFailureAt = answered;
                polled.longestOutageMs = Math.max(polled.longestOutageMs, answered - failingSince);
            } else {
                failingSince = undefined;
            }
            await new Promise((r) => setTimeout(r, everyMs));
        }
    })();
    return {
        async stop() {
            polling = false;
            await loop;
            return polled;
        },
    };
}

/** A Live WebSocket of a user, with its first message (the stand-in's hello) and every later one. */
export interface Live {
    socket: WebSocket;
    hello: any;
    messages: any[];
}

export async function openLive(door: FrontDoor, userId: string): Promise<Live> {
    const socket = new WebSocket(door.url(userId, "api/live/ws", "ws"), { headers: door.headers, handshakeTimeout: 5_000 });
    const messages: any[] = [];
    // A socket can fail more than once (a reset after a refused handshake); what follows the first
    // failure ends in "close", which holders watch: later errors are not the caller's.
    socket.on("error", () => undefined);
    const hello = await new Promise<any>((resolve, reject) => {
        socket.once("error", reject);
        socket.once("close", () => reject(new Error(`${userId}'s Live socket closed before its hello`)));
        socket.once("message", (data) => resolve(JSON.parse(data.toString())));
    });
    socket.on("message", (data) => messages.push(JSON.parse(data.toString())));
    return { socket, hello, messages };
}

/** What a held Live connection went through: how often it dropped, the longest time without one. */
export interface Held {
    drops: number;
    longestDownMs: number;
    /** When the connection was last (re)opened, ms. */
    lastOpenedAt: number;
}

/**
 * One Live WebSocket of a user held open, as a browser tab does: opened, and when it drops opened
 * again every 500 ms until it succeeds, until stopped. `opened` resolves once the first one is open.
 */
export function holdLive(door: FrontDoor, userId: string): { opened: Promise<void>; stop(): Promise<Held> } {
    const held: Held = { drops: 0, longestDownMs: 0, lastOpenedAt: Date.now() };
    let holding = true;
    let stopHolding = () => {};
    const open = async (): Promise<Live | undefined> => {
        while (holding) {
            const live = await openLive(door, userId).catch(() => undefined);
            if (live) return live;
            await new Promise((r) => setTimeout(r, 500));
        }
        return undefined;
    };
    let markOpened = () => {};
    const opened = new Promise<void>((resolve) => (markOpened = resolve));
    const loop = (async () => {
        let current = await open();
        markOpened();
        held.lastOpenedAt = Date.now();
        while (holding && current) {
            const socket = current.socket;
            await new Promise<void>((resolve) => {
                stopHolding = resolve;
                if (socket.readyState === WebSocket.CLOSED) resolve();
                else socket.once("close", () => resolve());
            });
            if (!holding) break;
            held.drops++;
            const down = Date.now();
            current = await open();
            held.lastOpenedAt = Date.now();
            held.longestDownMs = Math.max(held.longestDownMs, held.lastOpenedAt - down);
        }
        current?.socket.close();
    })();
    return {
        opened,
        async stop() {
            holding = false;
            stopHolding();
            markOpened();
            await loop;
            return held;
        },
    };
}

/** Live connections of a user until two of them are on different replicas: a sender and a receiver. */
export async function liveOnTwoReplicas(door: FrontDoor, userId: string): Promise<{ sender: Live; receiver: Live; all: Live[] }> {
    const all = [await openLive(door, userId)];
    for (let i = 0; i < 12 && new Set(all.map((a) => a.hello.task)).size < 2; i++) all.push(await openLive(door, userId));
    const [sender] = all;
    const receiver = all.find((a) => a.hello.task !== sender.hello.task);
    if (!receiver) {
        for (const live of all) live.socket.close();
        throw new Error(`${all.length} Live connections of ${userId}, all on replica ${sender.hello.task}`);
    }
    return { sender, receiver, all };
}

/** A message published on one replica of a user reaches a client of another replica, from that replica (Live's HA engine at work). */
export async function relayed(live: { sender: Live; receiver: Live }, text: string): Promise<void> {
    live.sender.socket.send(JSON.stringify({ publish: text }));
    const arrived = () => live.receiver.messages.find((m) => m.type === "broadcast" && m.text === text);
    await eventually(`${live.receiver.hello.user}'s other replica relays "${text}"`, 5_000, () => arrived() !== undefined);
    if (arrived().from !== live.sender.hello.task) throw new Error(`"${text}" came from ${arrived().from}, not from the sender's replica ${live.sender.hello.task}`);
}

/** The status of a Live WebSocket upgrade that is refused (or 101 when it opens). */
export function liveUpgradeStatus(door: FrontDoor, userId: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const socket = new WebSocket(door.url(userId, "api/live/ws", "ws"), { headers: door.headers, handshakeTimeout: 5_000 });
        socket.on("error", reject);
        socket.once("open", () => {
            socket.close();
            resolve(101);
        });
        socket.once("unexpected-response", (req, res) => {
            resolve(res.statusCode ?? 0);
            req.destroy();
        });
    });
}

/** What the front proxy's nginx logged above info since a time (ms): its account of a failed request. */
export async function proxyErrors(engine: Engine, sinceMs: number): Promise<string> {
    const [proxy] = await runningTasks(engine, DEFAULT_PROXY_SERVICE_NAME);
    const logs = await engine.request("GET", `/containers/${proxy.container}/logs`, { query: { stdout: true, stderr: true, timestamps: true, since: Math.floor(sinceMs / 1000) } });
    return demultiplexLogs(logs.body)
        .split("\n")
        .filter((line) => /\[(warn|error|crit|alert|emerg)\]/.test(line))
        .join("\n");
}
