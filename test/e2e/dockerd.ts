/**
 * A Docker engine of the test's own, in Swarm mode, on a machine that other people's engines and
 * tests share. Everything it creates on the host carries the run's unique name, and nothing of
 * the host's is touched:
 * - its own data-root, exec-root, pidfile, socket and containerd namespace under /tmp/pug-e2e-run-*;
 * - no default bridge (docker0) and no iptables rules: ports published in host mode are served by
 *   the engine's userland proxy, and the rules another engine on the host manages stay its own;
 * - Swarm's gateway bridge (docker_gwbridge) created before `swarm init`, under a bridge name and
 *   subnet of its own, and the swarm's control and VXLAN ports picked free.
 * A watchdog tears all of it down if the test process disappears without doing it.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from "fs";
import * as dgram from "dgram";
import * as net from "net";
import * as path from "path";
import { Engine } from "./engine";

const TEARDOWN = path.join(__dirname, "dockerd-teardown.sh");
const RUN_DIR_PREFIX = "/tmp/pug-e2e-run-";

export interface SwarmHost {
    /** The run's directory: the engine's state, its log, the socket. */
    dir: string;
    socketPath: string;
    engine: Engine;
    /** Where the engine's log is, for failure messages. */
    logFile: string;
    /** Stops the engine and removes everything the run left on the host. */
    teardown(): void;
}

/** Installs Debian's packages the end-to-end test runs, when a program is missing (needs root). */
export function ensureDebianPackages(programs: Record<string, string>): void {
    const missing = Object.entries(programs).filter(([program]) => spawnSync("sh", ["-c", `command -v ${program}`]).status !== 0);
    if (!missing.length) return;
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    if (process.getuid?.() !== 0) {
        throw new Error(`the end-to-end test needs ${missing.map(([p]) => p).join(", ")}: run as root, or apt-get install ${packages.join(" ")}`);
    }
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { env, stdio: "inherit", timeout: 300_000 });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { env, stdio: "inherit", timeout: 600_000 });
}

/** A TCP port nobody listens on now. */
export function freeTcpPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** The TCP port every Swarm node's gossip listens on; not configurable in Docker 20.10. */
const GOSSIP_PORT = 7946;

function tcpPortFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/** A UDP port in [min, max] nobody uses now (Swarm wants its VXLAN port below 49152). */
async function freeUdpPort(min: number, max: number): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
        const port = min + Math.floor(Math.random() * (max - min));
        const free = await new Promise<boolean>((resolve) => {
            const socket = dgram.createSocket("udp4");
            socket.once("error", () => resolve(false));
            socket.bind(port, () => socket.close(() => resolve(true)));
        });
        if (free) return port;
    }
    throw new Error(`no free UDP port in ${min}-${max}`);
}

/** A /24 in 172.30.0.0/16 that no route on the host covers yet. */
function freeBridgeSubnet(): string {
    const routes = execFileSync("ip", ["-4", "route", "show"], { encoding: "utf8" });
    for (let attempt = 0; attempt < 50; attempt++) {
        const third = 1 + Math.floor(Math.random() * 254);
        if (!routes.includes(`172.30.${third}.`) && !routes.includes("172.30.0.0/16")) return `172.30.${third}.0/24`;
    }
    throw new Error("no free /24 in 172.30.0.0/16 for the swarm's gateway bridge");
}

/** Whether a process of this id still exists (signal 0 tests without sending anything). */
export const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};

const readOr = (file: string, fallback: string) => (existsSync(file) ? readFileSync(file, "utf8").trim() : fallback);

/** Tears down the runs whose test process died without doing it and whose watchdog died too. */
function reapAbandonedRuns(): void {
    for (const entry of readdirSync("/tmp").filter((e) => `/tmp/${e}`.startsWith(RUN_DIR_PREFIX))) {
        const dir = `/tmp/${entry}`;
        const pids = ["owner.pid", "watchdog.pid"].map((f) => Number(readOr(path.join(dir, f), "0")));
        if (pids.some((pid) => pid > 0 && alive(pid))) continue;
        spawnSync("sh", [TEARDOWN, dir, readOr(path.join(dir, "bridge"), "none")], { stdio: "ignore", timeout: 120_000 });
    }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, logFile: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 250));
    }
    const log = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n") : "";
    throw new Error(`${what} within ${timeoutMs / 1000} s; last lines of ${logFile}:\n${log}`);
}

/** Starts the run's engine, makes it a one-node swarm manager on loopback, and arms the watchdog. */
export async function startSwarmHost(): Promise<SwarmHost> {
    reapAbandonedRuns();
    const dir = mkdtempSync(RUN_DIR_PREFIX);
    const runId = path.basename(dir).slice(RUN_DIR_PREFIX.length - "/tmp/".length).replace(/[^a-zA-Z0-9]/g, "");
    const bridge = `pe2e${randomBytes(4).toString("hex")}`.slice(0, 15);
    const namespace = `pug-e2e-${runId}`;
    writeFileSync(path.join(dir, "owner.pid"), String(process.pid));
    writeFileSync(path.join(dir, "bridge"), bridge);
    writeFileSync(path.join(dir, "namespace"), namespace);
    const socketPath = path.join(dir, "docker.sock");
    const logFile = path.join(dir, "dockerd.log");

    // The watchdog outlives this process: when it is gone, the teardown runs anyway.
    const watchdog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; exec sh "$0" "$1" "$2"`, TEARDOWN, dir, bridge], {
        detached: true,
        stdio: "ignore",
    });
    watchdog.unref();
    writeFileSync(path.join(dir, "watchdog.pid"), String(watchdog.pid));

    const teardown = () => {
        spawnSync("sh", [TEARDOWN, dir, bridge], { stdio: "inherit", timeout: 180_000 });
        if (watchdog.pid && alive(watchdog.pid)) process.kill(watchdog.pid, "SIGTERM");
    };

    try {
        const log = openSync(logFile, "a");
        const dockerd = spawn(
            "dockerd",
            [
                "--data-root", path.join(dir, "data"),
                "--exec-root", path.join(dir, "exec"),
                "--pidfile", path.join(dir, "dockerd.pid"),
                "--host", `unix://${socketPath}`,
                "--containerd-namespace", namespace,
                "--containerd-plugins-namespace", `${namespace}-plugins`,
                "--bridge", "none",
                "--iptables=false",
                "--ip-masq=false",
            ],
            { stdio: ["ignore", log, log], detached: true },
        );
        dockerd.unref();
        closeSync(log);
        const engine = new Engine(socketPath);
        await waitFor("the run's dockerd did not answer", 60_000, () => engine.ping(), logFile);

        await engine.call("POST", "/networks/create", {
            body: {
                Name: "docker_gwbridge",
                Driver: "bridge",
                CheckDuplicate: true,
                IPAM: { Config: [{ Subnet: freeBridgeSubnet() }] },
                Options: {
                    "com.docker.network.bridge.name": bridge,
                    "com.docker.network.bridge.enable_icc": "false",
                    "com.docker.network.bridge.enable_ip_masquerade": "false",
                },
            },
        });
        // Swarm's gossip (service discovery) always binds port 7946: an engine that cannot is
        // in a swarm whose service names resolve nowhere, which shows up only as timeouts later
        if (!(await tcpPortFree(GOSSIP_PORT))) {
            throw new Error(`port ${GOSSIP_PORT} (Swarm's gossip) is taken on 127.0.0.1: another Docker engine in Swarm mode, or another e2e run, is on this machine; stop it first`);
        }
        const controlPort = await freeTcpPort();
        await engine.call("POST", "/swarm/init", {
            body: {
                ListenAddr: `127.0.0.1:${controlPort}`,
                AdvertiseAddr: `127.0.0.1:${controlPort}`,
                DataPathPort: await freeUdpPort(20000, 49151),
            },
        });
        return { dir, socketPath, engine, logFile, teardown };
    } catch (err) {
        teardown();
        throw err;
    }
}
