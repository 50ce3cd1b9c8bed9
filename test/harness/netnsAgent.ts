/**
 * Runs inside a test network namespace (started with `ip netns exec`), beside nginx and dnsmasq:
 *
 * - a stub Grafana per user on that user's loopback address: HTTP and WebSocket, each answer
 *   saying which user served it and what arrived (path as received, headers);
 * - optionally a stub of the platform's auth endpoint (jwt mode);
 * - forwarders from unix sockets (in the test's temp dir, reachable from the test process, which
 *   stays outside the namespace) to nginx's ports inside it;
 * - a control socket: `GET /log` lists every request the stubs received, `DELETE /log` forgets them.
 *
 * Prints `ready` on stdout once everything listens. Stops on SIGTERM.
 */
import * as http from "http";
import * as net from "net";
import { WebSocketServer } from "ws";

export interface AgentSpec {
    /** The stub Grafanas: who they answer as, where they listen. */
    upstreams: { userId: string; address: string; port: number }[];
    /** The stub auth endpoint, if any. */
    auth?: { address: string; port: number; tokenHeader: string };
    /** unix socket path → TCP port on 127.0.0.1 inside the namespace. */
    forwards: { socketPath: string; port: number }[];
    controlSocket: string;
}

/** What a stub Grafana (or the auth stub) saw. */
export interface ReceivedRequest {
    servedBy: string;
    kind: "http" | "websocket" | "auth";
    method: string;
    /** The request target exactly as it arrived. */
    url: string;
    headers: http.IncomingHttpHeaders;
}

/** The cookie the auth stub reads: `pug_session=<platform user>`. */
export const SESSION_COOKIE = "pug_session";
/** The header the auth stub is told the requested Grafana's user in (FrontProxy's AUTH_USER_HEADER). */
const AUTH_USER_HEADER = "x-pug-user";

/** The token the auth stub issues: readable, so a test can tell who it was for. */
export function stubToken(audience: string, subject: string): string {
    return `token;aud=${audience};sub=${subject}`;
}

function main(spec: AgentSpec): Promise<void> {
    const log: ReceivedRequest[] = [];
    const servers: (http.Server | net.Server)[] = [];
    const listen = (server: http.Server | net.Server, where: number | string, address?: string) =>
        new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            servers.push(server);
            if (typeof where === "string") server.listen(where, resolve);
            else server.listen(where, address, resolve);
        });

    const started: Promise<void>[] = [];
    for (const u of spec.upstreams) {
        const record = (kind: ReceivedRequest["kind"], req: http.IncomingMessage): ReceivedRequest => {
            const r = { servedBy: u.userId, kind, method: req.method ?? "", url: req.url ?? "", headers: req.headers };
            log.push(r);
            return r;
        };
        const server = http.createServer((req, res) => {
            const r = record("http", req);
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify(r));
        });
        const wss = new WebSocketServer({ server });
        wss.on("connection", (ws, req) => {
            ws.send(JSON.stringify(record("websocket", req)));
            ws.on("message", (data) => ws.send(`${u.userId}:${data.toString()}`));
            // a proxy may reset a WebSocket (Caddy does on a reload): the stub outlives it, as Grafana does
            ws.on("error", () => ws.terminate());
        });
        started.push(listen(server, u.port, u.address));
    }

    if (spec.auth) {
        const tokenHeader = spec.auth.tokenHeader;
        const server = http.createServer((req, res) => {
            log.push({ servedBy: "auth", kind: "auth", method: req.method ?? "", url: req.url ?? "", headers: req.headers });
            const session = /(?:^|;\s*)pug_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
            const wanted = req.headers[AUTH_USER_HEADER];
            if (!session) res.statusCode = 401;
            else if (session !== wanted) res.statusCode = 403;
            else res.setHeader(tokenHeader, stubToken(String(wanted), session));
            res.end();
        });
        started.push(listen(server, spec.auth.port, spec.auth.address));
    }

    for (const f of spec.forwards) {
        const server = net.createServer((client) => {
            const upstream = net.connect(f.port, "127.0.0.1");
            client.pipe(upstream).pipe(client);
            const close = () => {
                client.destroy();
                upstream.destroy();
            };
            client.on("error", close).on("close", close);
            upstream.on("error", close).on("close", close);
        });
        started.push(listen(server, f.socketPath));
    }

    const control = http.createServer((req, res) => {
        if (req.method === "DELETE") log.length = 0;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(log));
    });
    started.push(listen(control, spec.controlSocket));

    process.on("SIGTERM", () => {
        for (const s of servers) s.close();
        process.exit(0);
    });
    return Promise.all(started).then(() => {
        process.stdout.write("ready\n");
    });
}

if (require.main === module) {
    main(JSON.parse(process.argv[2]) as AgentSpec).catch((err) => {
        process.stderr.write(`netnsAgent: ${(err as Error).stack}\n`);
        process.exit(1);
    });
}
