/**
 * Real nginx, running a generated config unmodified, in a network namespace of its own:
 *
 * - dnsmasq listens on 127.0.0.11 (Docker's embedded DNS address in a Swarm task) and answers each
 *   user's service name with a loopback address of that user's own (127.0.x.y);
 * - a stub Grafana per user listens on that address (test/harness/netnsAgent.ts), answering as
 *   that user over HTTP and WebSocket;
 * - optionally, a name also resolves (first) to an address where packets vanish without an answer,
 *   as they do to a task that left the overlay while DNS caches still name it;
 * - the test process stays outside the namespace and reaches nginx through unix sockets in a temp
 *   dir that the agent forwards to nginx's ports, so all traffic stays in the namespace.
 *
 * Every name (namespace, temp dir) is unique, and `stop()` ends every process started here and
 * deletes the namespace, also after a failed start.
 *
 * The benchmarks (bench/) use the same setup with other configs, or another proxy program in
 * nginx's place (`peer`: HAProxy, Caddy), to compare against, and run their clients inside the
 * namespace (`spawn`), where they reach the proxy's ports directly. Like a Swarm task, every
 * process in the namespace resolves names through Docker's DNS address (its resolv.conf).
 */
import { execFileSync, spawn, type ChildProcess } from "child_process";
import { randomBytes } from "crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import WebSocket from "ws";
import type { AgentSpec, ReceivedRequest } from "./netnsAgent";
import { tenantServiceName } from "../../components/specs/naming";
import { nginxConfig, workerSizing, type NginxProxySpec } from "../../components/specs/nginxConfig";
import { PROJECT_ROOT } from "./stackFiles";

export type { ReceivedRequest } from "./netnsAgent";

/** Docker's embedded DNS server address, as the generated config names it. */
export const DOCKER_DNS = "127.0.0.11";
/**
 * Where a vanished task was: a neighbour entry on a link of the namespace sends packets for it to a
 * MAC address nobody has, so a connection attempt gets no answer at all (no refusal, no
 * unreachable), as on an overlay network whose entry for a removed container outlived it.
 */
export const VANISHED_TASK_ADDRESS = "10.255.255.1";

/**
 * Identity headers a client might forge, as some Grafana auth mode could read them: auth proxy's
 * default and its usual extra headers, what oauth2-proxy, Authelia and similar put in front of a
 * Grafana, the JWT header, and the identity Grafana itself forwards. None may reach a Grafana.
 */
export const FORGED_IDENTITY_HEADERS = [
    "X-WEBAUTH-USER", "X-WEBAUTH-EMAIL", "X-WEBAUTH-NAME", "X-WEBAUTH-ROLE", "X-WEBAUTH-GROUPS",
    "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token",
    "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username", "X-Auth-Request-Access-Token",
    "Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
    "X-JWT-Assertion", "X-Grafana-Id", "X-Grafana-User",
];

/**
 * Why the real-nginx tests cannot run here, when the machine forbids network namespaces; undefined
 * when they can, or when CI=true (CI must run them: a missing capability there is a failure).
 */
export function namespacesForbiddenReason(): string | undefined {
    if (process.env.CI === "true") return undefined;
    const probe = `pugpx-probe-${process.pid}-${randomBytes(3).toString("hex")}`;
    try {
        execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
        execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
        return undefined;
    } catch (err) {
        const message = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message);
        // only a refusal by the machine skips; anything else (no `ip`, a bug) fails the tests
        return /not permitted|permission denied/i.test(message) ? `network namespaces are forbidden here (ip netns add: ${message.trim()})` : undefined;
    }
}

/** What nginx runs: a rendered nginx.conf, and how many worker processes it starts. */
export interface NginxRun {
    config: string;
    workerProcesses: number;
}

/** A command line: the program and its arguments. */
export type CommandLine = [program: string, args: string[]];

/**
 * Another proxy program run in nginx's place (a benchmark's peer). It must listen on the spec's
 * `listenPort` and answer `/healthz` with 200 there. For it, the namespace's `nginx*` methods
 * answer about the peer: its processes are the one started and that one's children.
 */
export interface PeerProxy {
    name: string;
    /** Its files (config, maps), by name, written into `dir` (the namespace's temp dir, which they may name). */
    files(dir: string): Record<string, string>;
    /** Checks the files as they are (as `nginx -t` does); fails with a non-zero exit. */
    check(dir: string): CommandLine;
    /** Runs it in the foreground; the process started must be the one that stays (exec, no daemon). */
    run(dir: string): CommandLine;
    /**
     * Makes the running proxy take its rewritten files, and resolves once it serves with them.
     * `pid`: the process `run` started; `workers()`: that process's children now; `exec`: runs a
     * command line inside the namespace to its end.
     */
    reload(ctx: { dir: string; pid: number; oldWorkers: number[]; workers: () => number[]; exec: (command: CommandLine) => void }): Promise<void>;
}

/** What runs as the proxy: nginx with a config, or a peer program. */
export type ProxyRun = NginxRun | PeerProxy;

/** The options starting the proxy namespace with `run`. */
export function runOption(run: ProxyRun): Pick<ProxyNamespaceOptions, "nginx" | "peer"> {
    return "files" in run ? { peer: run } : { nginx: run };
}

/** The generated config of a spec, unmodified, as the FrontProxy tasks run it. */
export function generatedRun(spec: NginxProxySpec): NginxRun {
    return { config: nginxConfig(spec), workerProcesses: workerSizing(spec.limits).workerProcesses };
}

export interface ProxyNamespaceOptions {
    /** What nginx runs, unless `nginx` is given: `nginxConfig(spec)`, unmodified. Ports and auth are read from it. */
    spec: NginxProxySpec;
    /**
     * Another config to run instead (a benchmark's comparison): it must listen on `spec.listenPort`
     * and answer `/healthz` with 200 there.
     * @default generatedRun(spec)
     */
    nginx?: NginxRun;
    /** Another proxy program to run instead of nginx (then `nginx` is ignored). */
    peer?: PeerProxy;
    /** DNS records: name → address. Users' service names and the auth endpoint's host. */
    dns: Record<string, string>;
    /** Users whose stub Grafana runs, at the address their service name resolves to. */
    running: string[];
    /** Names that resolve to VANISHED_TASK_ADDRESS first, then to their address in `dns`. */
    vanished?: string[];
    /** Where the stub auth endpoint (jwt mode) listens. */
    auth?: { address: string; port: number };
}

export interface ProxyResponse {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

export interface ProxyNamespace {
    name: string;
    /** An HTTP request to nginx's public port; `path` goes out byte for byte as given. */
    request(pathAndQuery: string, opts?: RequestOptions): Promise<ProxyResponse>;
    /** An HTTP request to nginx's monitoring port. */
    statusRequest(pathAndQuery: string): Promise<ProxyResponse>;
    /** Opens a WebSocket through nginx; resolves with the socket and the stub's greeting, or rejects with the HTTP status. */
    websocket(pathAndQuery: string, opts?: { headers?: Record<string, string>; origin?: string }): Promise<{ socket: WebSocket; greeting: ReceivedRequest }>;
    /** Every request the stubs received since the start or the last `clearLog`. */
    received(): Promise<ReceivedRequest[]>;
    clearLog(): Promise<void>;
    /** Names nginx asked the DNS server for. */
    dnsQueries(): string[];
    /**
     * `nginx -t` on the config of a new spec, or another config (same ports), then a reload of the
     * running nginx onto it (SIGHUP to the master); resolves once the new workers run. Until the
     * old workers have closed their listeners (reuseport: each has its own), a new connection may
     * still meet the old config.
     */
    reload(next: NginxProxySpec | ProxyRun): Promise<Reload>;
    /** Process ids of nginx workers now (old ones draining after a reload included). */
    nginxWorkers(): number[];
    /** The nginx master's and its workers' process ids. */
    nginxProcesses(): number[];
    /** The last `chars` characters of what nginx logged (errors, warnings, access log). @default 20,000 */
    nginxLog(chars?: number): string;
    /**
     * Starts a program inside the namespace, its stdin, stdout and stderr piped (a benchmark's
     * clients, which reach nginx and the stubs directly there). `stop()` ends it.
     */
    spawn(command: string, args: string[]): ChildProcess;
    stop(): Promise<void>;
}

/** What a reload did and took. */
export interface Reload {
    /** The workers of the config before, which drain their open connections and exit. */
    oldWorkers: number[];
    /** How long `nginx -t` took on the new config, ms. */
    checkMs: number;
    /** From the master's SIGHUP until every new worker ran, ms. */
    reloadMs: number;
}

interface RequestOptions {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    /** How long the client waits for the answer. @default 10 s */
    timeoutMs?: number;
}

function unixRequest(socketPath: string, pathAndQuery: string, opts: RequestOptions = {}): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => {
        const req = http.request({ socketPath, path: pathAndQuery, method: opts.method ?? "GET", headers: { Host: "pug.test", ...opts.headers }, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
        });
        const timeoutMs = opts.timeoutMs ?? 10_000;
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${pathAndQuery} within ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(opts.body);
    });
}

/** Waits for `ready` on the process's stdout, or fails with what it printed. */
function readyLine(proc: ChildProcess, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
        let out = "";
        let err = "";
        const timer = setTimeout(() => reject(new Error(`${what} not ready within ${timeoutMs} ms: ${err}`)), timeoutMs);
        proc.stderr?.on("data", (c: Buffer) => (err += c.toString()));
        proc.stdout?.on("data", (c: Buffer) => {
            out += c.toString();
            if (out.includes("ready\n")) {
                clearTimeout(timer);
                resolve();
            }
        });
        proc.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`${what} exited with ${code}: ${err}`));
        });
    });
}

/** Waits until `check` holds (a throw counts as not yet), polling every `pollMs`; fails saying `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000, pollMs = 50): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            if (await check()) return;
        } catch (err) {
            last = err;
        }
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ""}`);
        await new Promise((r) => setTimeout(r, pollMs));
    }
}

function exited(proc: ChildProcess, timeoutMs: number): Promise<boolean> {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        proc.once("exit", () => {
            clearTimeout(timer);
            resolve(true);
        });
    });
}

export async function startProxyNamespace(opts: ProxyNamespaceOptions): Promise<ProxyNamespace> {
    const name = `pugpx-${process.pid}-${randomBytes(3).toString("hex")}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    const configPath = path.join(dir, "nginx.conf");
    const pidPath = path.join(dir, "nginx.pid");
    const sockets = { public: path.join(dir, "public.sock"), status: path.join(dir, "status.sock"), control: path.join(dir, "control.sock") };
    const processes: ChildProcess[] = [];
    let dnsLog = "";
    const nginxLogPath = path.join(dir, "nginx.log");
    const nginxLog = (chars = 20_000) => readFileSync(nginxLogPath, "utf8").slice(-chars);
    let namespaceCreated = false;
    // nginx writes its logs to /dev/stdout and stderr, which must be a file or a pipe: node's own
    // stdio pipes are sockets, which /dev/stdout cannot be opened on.
    const nginxOutput = openSync(nginxLogPath, "a");
    const inNamespace = (cmd: string, args: string[], stdio: "pipe" | number = "pipe", stdin: "ignore" | "pipe" = "ignore") => {
        const proc = spawn("ip", ["netns", "exec", name, cmd, ...args], { cwd: PROJECT_ROOT, stdio: [stdin, stdio, stdio] });
        processes.push(proc);
        return proc;
    };
    // One -g only: nginx keeps the last. The pid file stays in the temp dir, never /run's.
    const nginxArgs = ["-c", configPath, "-g", `pid ${pidPath};`];
    let nginxMaster: ChildProcess | undefined;
    const execInNamespace = ([cmd, args]: CommandLine) => execFileSync("ip", ["netns", "exec", name, cmd, ...args], { stdio: ["ignore", nginxOutput, nginxOutput] });
    /** `nginx -t`, or the peer's check: the config must pass as it is. */
    const checkConfig = () => execInNamespace(opts.peer ? opts.peer.check(dir) : ["nginx", ["-t", "-q", ...nginxArgs]]);
    const writePeerFiles = (peer: PeerProxy) => {
        for (const [file, text] of Object.entries(peer.files(dir))) writeFileSync(path.join(dir, file), text);
    };
    // `ip netns exec` bind-mounts /etc/netns/<name>/resolv.conf over /etc/resolv.conf: a peer that
    // resolves through the system resolver (Caddy) then asks Docker's DNS address, as in a task.
    const etcNetns = path.join("/etc/netns", name);

    // Synchronous, so it also runs from the exit handler if the test process dies mid-test.
    const cleanupSync = () => {
        if (namespaceCreated) {
            // Whatever still runs in the namespace was started here (nginx workers included).
            const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
            for (const pid of pids) {
                try {
                    process.kill(Number(pid), "SIGKILL");
                } catch {
                    // already gone
                }
            }
            execFileSync("ip", ["netns", "del", name], { stdio: "pipe" });
            namespaceCreated = false;
        }
        rmSync(etcNetns, { recursive: true, force: true });
        closeSync(nginxOutput);
        rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", cleanupSync);

    const stop = async () => {
        // The nginx master stops its workers on SIGTERM; killing it outright would orphan them.
        await Promise.all(
            processes.map(async (p) => {
                p.kill("SIGTERM");
                if (!(await exited(p, 5_000))) p.kill("SIGKILL");
            }),
        );
        process.removeListener("exit", cleanupSync);
        cleanupSync();
    };

    try {
        execFileSync("ip", ["netns", "add", name], { stdio: "pipe" });
        namespaceCreated = true;
        execFileSync("ip", ["-n", name, "link", "set", "lo", "up"], { stdio: "pipe" });
        execFileSync("ip", ["-n", name, "addr", "add", `${DOCKER_DNS}/32`, "dev", "lo"], { stdio: "pipe" });
        if (opts.vanished?.length) {
            // a veth pair, both ends in the namespace; the address's neighbour is a MAC nobody has
            const ip = (...args: string[]) => execFileSync("ip", ["-n", name, ...args], { stdio: "pipe" });
            ip("link", "add", "vanished", "type", "veth", "peer", "name", "vanished-peer");
            ip("addr", "add", "10.255.255.254/24", "dev", "vanished");
            ip("link", "set", "vanished", "up");
            ip("link", "set", "vanished-peer", "up");
            ip("neigh", "add", VANISHED_TASK_ADDRESS, "lladdr", "02:00:00:00:00:01", "dev", "vanished", "nud", "permanent");
        }

        const dnsmasq = inNamespace("dnsmasq", [
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            `--listen-address=${DOCKER_DNS}`,
            "--port=53",
            "--user=root",
            `--pid-file=${path.join(dir, "dnsmasq.pid")}`,
            "--log-queries",
            "--log-facility=-",
            // dnsmasq answers a name's addresses in the order of its records
            ...Object.entries(opts.dns).flatMap(([host, address]) => [
                ...(opts.vanished?.includes(host) ? [`--host-record=${host},${VANISHED_TASK_ADDRESS}`] : []),
                `--host-record=${host},${address}`,
            ]),
        ]);
        dnsmasq.stderr!.on("data", (c: Buffer) => (dnsLog += c.toString()));

        const { spec } = opts;
        const agentSpec: AgentSpec = {
            upstreams: opts.running.map((userId) => ({ userId, address: opts.dns[tenantServiceName(userId)], port: spec.grafanaPort })),
            auth: opts.auth && spec.auth.mode === "jwt" ? { ...opts.auth, tokenHeader: spec.auth.tokenHeader } : undefined,
            forwards: [
                { socketPath: sockets.public, port: spec.listenPort },
                { socketPath: sockets.status, port: spec.statusPort },
            ],
            controlSocket: sockets.control,
        };
        const agent = inNamespace(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "test/harness/netnsAgent.ts"), JSON.stringify(agentSpec)]);
        await readyLine(agent, "stub agent", 20_000);

        if (opts.peer) {
            mkdirSync(etcNetns, { recursive: true });
            writeFileSync(path.join(etcNetns, "resolv.conf"), `nameserver ${DOCKER_DNS}\n`);
            writePeerFiles(opts.peer);
            checkConfig();
            nginxMaster = inNamespace(...opts.peer.run(dir), nginxOutput);
        } else {
            writeFileSync(configPath, (opts.nginx ?? generatedRun(spec)).config);
            checkConfig();
            nginxMaster = inNamespace("nginx", ["-c", configPath, "-g", `pid ${pidPath}; daemon off;`], nginxOutput);
        }
        await eventually(`${opts.peer?.name ?? "nginx"} serving /healthz`, async () => (await unixRequest(sockets.public, "/healthz")).status === 200);
    } catch (err) {
        const log = nginxLog();
        await stop();
        throw new Error(`starting the proxy namespace failed: ${(err as Error).message}\nnginx: ${log}`);
    }

    // `ip netns exec` execs nginx: the process started is the master
    const masterPid = nginxMaster!.pid!;
    const nginxWorkers = (): number[] => {
        // read from /proc rather than ps: cheap enough to poll a reload by
        const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, "utf8");
        return children.split(/\s+/).filter(Boolean).map(Number);
    };

    return {
        name,
        request: (p, o) => unixRequest(sockets.public, p, o),
        statusRequest: (p) => unixRequest(sockets.status, p),
        websocket(pathAndQuery, o = {}) {
            return new Promise((resolve, reject) => {
                const socket = new WebSocket(`ws://pug.test${pathAndQuery}`, {
                    createConnection: () => net.connect(sockets.public),
                    headers: o.headers,
                    origin: o.origin,
                    perMessageDeflate: false,
                });
                socket.once("message", (data) => resolve({ socket, greeting: JSON.parse(data.toString()) as ReceivedRequest }));
                socket.once("unexpected-response", (_req, res) => {
                    socket.terminate();
                    reject(Object.assign(new Error(`WebSocket upgrade answered ${res.statusCode}`), { status: res.statusCode }));
                });
                socket.once("error", reject);
            });
        },
        received: async () => JSON.parse((await unixRequest(sockets.control, "/log")).body) as ReceivedRequest[],
        clearLog: async () => {
            await unixRequest(sockets.control, "/log", { method: "DELETE" });
        },
        dnsQueries: () => [...dnsLog.matchAll(/query\[[A-Z]+\] (\S+) from/g)].map((m) => m[1]),
        async reload(next) {
            const oldWorkers = nginxWorkers();
            const peer = "files" in next ? next : undefined;
            const run = "files" in next ? undefined : "config" in next ? next : generatedRun(next);
            if ((peer?.name ?? "nginx") !== (opts.peer?.name ?? "nginx")) throw new Error(`${opts.peer?.name ?? "nginx"} runs here, not ${peer?.name ?? "nginx"}`);
            if (peer) writePeerFiles(peer);
            else writeFileSync(configPath, run!.config);
            const checkStart = performance.now();
            checkConfig();
            const reloadStart = performance.now();
            if (peer) {
                await peer.reload({ dir, pid: masterPid, oldWorkers, workers: nginxWorkers, exec: execInNamespace });
            } else {
                process.kill(masterPid, "SIGHUP");
                await eventually("new nginx workers", () => nginxWorkers().filter((p) => !oldWorkers.includes(p)).length === run!.workerProcesses, 30_000, 2);
            }
            return { oldWorkers, checkMs: reloadStart - checkStart, reloadMs: performance.now() - reloadStart };
        },
        nginxWorkers,
        nginxProcesses: () => [masterPid, ...nginxWorkers()],
        nginxLog,
        spawn: (command, args) => inNamespace(command, args, "pipe", "pipe"),
        stop,
    };
}

/** `nginx -t` on a config outside any namespace: whether nginx accepts it, and what it logged (warnings too). */
export function nginxCheck(config: string): { accepted: boolean; log: string } {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pugpx-t-"));
    try {
        writeFileSync(path.join(dir, "nginx.conf"), config);
        // its logs must open on a file (see startProxyNamespace)
        const out = openSync(path.join(dir, "out.log"), "a");
        let accepted = true;
        try {
            execFileSync("nginx", ["-t", "-q", "-c", path.join(dir, "nginx.conf"), "-g", `pid ${path.join(dir, "nginx.pid")};`], { stdio: ["ignore", out, out] });
        } catch {
            accepted = false;
        } finally {
            closeSync(out);
        }
        return { accepted, log: readFileSync(path.join(dir, "out.log"), "utf8") };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** What nginx says when it refuses a config (`nginx -t`), or undefined when it accepts it. */
export function nginxRefuses(config: string): string | undefined {
    const { accepted, log } = nginxCheck(config);
    return accepted ? undefined : log;
}

/** DNS records giving each user's service name a loopback address of its own, 127.0.1.<n>. */
export function serviceRecords(userIds: string[]): Record<string, string> {
    return Object.fromEntries(userIds.map((id, i) => [tenantServiceName(id), `127.0.1.${i + 1}`]));
}
