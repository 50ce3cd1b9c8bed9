/**
 * Grafana STAND-IN for PUG's end-to-end test. It is NOT Grafana: no Grafana image can be pulled
 * on the machines that run the test, so this small program takes Grafana's place in the user's
 * service and does the parts of Grafana's start and serving that PUG's declarations are about:
 *
 * - resolves GF_*__FILE variables like the official image's run.sh (both forms set is an error);
 * - connects to MySQL with the GF_DATABASE_* settings and, under a named lock when
 *   migration_locking is on, creates a table and records its start there, as migrations would;
 * - like Grafana's alerting HA peer (GF_UNIFIED_ALERTING_HA_REDIS_*), pings that Redis once at
 *   start and does not start when it does not answer;
 * - connects to the Live Redis (GF_LIVE_HA_ENGINE_*) with the configured password, keeps a key
 *   under the configured prefix and relays Live messages between the user's replicas over a
 *   channel under that prefix, as Live's HA engine does;
 * - serves /healthz (200 "Ok" while the web server runs, never asking the database) and
 *   /api/health (200 with {"database":"ok"}, 503 with "failing" when the database check
 *   fails) and a WebSocket at /api/live/ws with Live's origin check, under the sub path of
 *   root_url when serve_from_sub_path is set, /api/ also without it;
 * - stops gracefully on SIGTERM.
 *
 * Every answer carries X-Standin-User and X-Standin-Task (the container's host name), so the test
 * can tell which user's task answered. Bundled with its libraries into one file and run by
 * Debian's nodejs in the stand-in image (see ../../images.ts).
 */
import { readFileSync } from "fs";
import * as http from "http";
import Redis from "ioredis";
import { createPool, type Pool } from "mysql2/promise";
import { hostname } from "os";
import { WebSocket, WebSocketServer } from "ws";
import { liveKeyPrefix, originAllowed, readSettings, resolveFileVariables, type RedisPeer } from "./standinSettings";

const task = hostname();
/** The image this runs from (set by the e2e image import): a rolling update changes it. */
const version = process.env.PUG_E2E_IMAGE ?? "unversioned";
const log = (message: string) => console.log(`${new Date().toISOString()} grafana-standin ${task}: ${message}`);

const settings = readSettings(resolveFileVariables(process.env, (file) => readFileSync(file, "utf8")));
const identity = { "X-Standin-User": settings.userId, "X-Standin-Task": task };
/** Set on SIGTERM: answers then close their connection, so no client keeps using a stopping task. */
let stopping = false;

const pool: Pool = createPool({
    host: settings.database.host,
    port: settings.database.port,
    user: settings.database.user,
    password: settings.database.password,
    database: settings.database.name,
    connectionLimit: 4,
    connectTimeout: 5_000,
});

/** The "migration": one table, created once under a lock, and a row per start of a replica. */
async function migrate(): Promise<void> {
    const connection = await pool.getConnection();
    try {
        if (settings.database.migrationLocking) await connection.query("SELECT GET_LOCK('grafana_standin_migration', 60)");
        await connection.query(
            "CREATE TABLE IF NOT EXISTS standin_replica_start (id INT AUTO_INCREMENT PRIMARY KEY, task VARCHAR(64) NOT NULL, version VARCHAR(64) NOT NULL, started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
        );
        await connection.query("INSERT INTO standin_replica_start (task, version) VALUES (?, ?)", [task, version]);
        if (settings.database.migrationLocking) await connection.query("SELECT RELEASE_LOCK('grafana_standin_migration')");
    } finally {
        connection.release();
    }
}

/** Like Grafana, the server does not start until its database is migrated; bounded, then the task fails. */
async function migrateWithRetries(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
        try {
            return await migrate();
        } catch (err) {
            if (Date.now() > deadline) throw err;
            log(`database not ready: ${(err as Error).message}`);
            await new Promise((r) => setTimeout(r, 2_000));
        }
    }
}

async function databaseHealthy(): Promise<boolean> {
    try {
        await pool.query("SELECT COUNT(*) FROM standin_replica_start");
        return true;
    } catch {
        return false;
    }
}

// Live's HA engine: a key and a channel under the user's prefix.
const keyPrefix = settings.live ? liveKeyPrefix(settings.live.prefix) : undefined;
const channel = `${keyPrefix}/1/stream/standin`;
const redisOptions = settings.live && { host: settings.live.host, port: settings.live.port, password: settings.live.password, lazyConnect: true };
// A publish while Redis is away fails fast, as Live drops it; the subscription waits however long
// Redis is away and ioredis renews it after every reconnect, as Live's Redis broker does.
const publisher = redisOptions ? new Redis({ ...redisOptions, maxRetriesPerRequest: 2 }) : undefined;
const subscriber = redisOptions ? new Redis({ ...redisOptions, maxRetriesPerRequest: null }) : undefined;
for (const client of [publisher, subscriber]) client?.on("error", (err) => log(`live redis: ${err.message}`));
// a restarted Redis is empty: the replica's key comes back with every connection
publisher?.on("ready", () => void publisher.set(`${keyPrefix}.standin.replica.${task}`, version, "EX", 3600).catch((err) => log(`live redis key: ${err.message}`)));

const wss = new WebSocketServer({ noServer: true });
wss.on("connection", (socket: WebSocket) => {
    socket.send(JSON.stringify({ type: "hello", user: settings.userId, task, version, database: settings.database.name }));
    socket.on("message", (data) => {
        let text: unknown;
        try {
            text = JSON.parse(data.toString()).publish;
        } catch {
            return;
        }
        if (typeof text === "string" && publisher) void publisher.publish(channel, JSON.stringify({ from: task, text })).catch((err) => log(`publish: ${err.message}`));
    });
});
subscriber?.on("message", (_channel, message) => {
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify({ type: "broadcast", ...JSON.parse(message) }));
});

/** The path relative to the sub path, or undefined when the request is outside of what is served. */
function routeOf(rawUrl: string | undefined): string | undefined {
    const pathname = new URL(rawUrl ?? "/", "http://standin").pathname;
    if (pathname.startsWith(settings.subPath)) return `/${pathname.slice(settings.subPath.length)}`;
    // Grafana answers /api/ without the prefix too (what the container's health check uses)
    if (pathname.startsWith("/api/")) return pathname;
    return undefined;
}

const server = http.createServer(async (req, res) => {
    // Grafana answers /healthz before any routing, sub path or not, without asking the database
    if (new URL(req.url ?? "/", "http://standin").pathname === "/healthz") {
        res.writeHead(200, { "Content-Type": "text/plain", ...identity, ...(stopping ? { Connection: "close" } : {}) });
        return res.end("Ok");
    }
    const route = routeOf(req.url);
    const send = (status: number, body: object, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "Content-Type": "application/json", ...identity, ...(stopping ? { Connection: "close" } : {}), ...headers });
        res.end(JSON.stringify(body));
    };
    if (route === undefined) return send(302, {}, { Location: settings.subPath });
    if (route === "/api/health") {
        return (await databaseHealthy())
            ? send(200, { commit: "grafana-standin", database: "ok", version })
            : send(503, { commit: "grafana-standin", database: "failing", version });
    }
    send(404, { message: "Not found (Grafana stand-in)" });
});

server.on("upgrade", (req, socket, head) => {
    if (routeOf(req.url) !== "/api/live/ws") {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
        return;
    }
    if (!originAllowed(req.headers.origin, req.headers.host, settings)) {
        socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
        return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});

/**
 * Grafana's alerting HA peer over Redis PINGs it once when Grafana starts, after the database is
 * migrated, and Grafana does not start if that fails (ngalert's newRedisPeer: "failed to ping
 * redis"). The stand-in does the same, so the test sees what a Redis outage does to a restart.
 */
async function pingAlertingRedis(peer: RedisPeer): Promise<void> {
    const client = new Redis({ host: peer.host, port: peer.port, password: peer.password, lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => undefined);
    try {
        await client.connect();
        await client.ping();
    } catch (err) {
        throw new Error(`unable to initialize redis: failed to ping redis: ${(err as Error).message}`);
    } finally {
        client.disconnect();
    }
}

async function start(): Promise<void> {
    await migrateWithRetries();
    if (settings.alertingHa) await pingAlertingRedis(settings.alertingHa);
    if (publisher && subscriber) {
        // Serving does not wait for Live's Redis: a replica that finds it away (a stale address
        // just after Redis moved) serves alone and joins the others once it answers, rather than
        // staying alone for good after one failed try.
        for (const client of [publisher, subscriber]) client.connect().catch((err) => log(`live redis unavailable, retrying: ${(err as Error).message}`));
        subscriber.subscribe(channel).then(() => log("live redis: subscribed"), (err) => log(`live redis subscribe: ${(err as Error).message}`));
    }
    server.listen(settings.httpPort, () => log(`serving user ${settings.userId} under ${settings.subPath} on :${settings.httpPort} (version ${version})`));
}

/**
 * SIGTERM: stop accepting, finish the requests in flight (their connections close after the
 * answer), close Live connections as going away, then release the database and Redis.
 */
function stop(): void {
    if (stopping) return;
    stopping = true;
    log("stopping");
    setTimeout(() => process.exit(0), 10_000).unref();
    server.close(() => {
        void Promise.allSettled([pool.end(), publisher?.quit(), subscriber?.quit()]).then(() => process.exit(0));
    });
    server.closeIdleConnections();
    for (const client of wss.clients) client.close(1001, "server shutting down");
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

start().catch((err) => {
    log(`cannot start: ${(err as Error).message}`);
    process.exit(1);
});
