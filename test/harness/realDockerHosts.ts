/**
 * Real Docker engines for tests of PUG's Swarm scripts and for the fault drills: each "host" is a
 * dockerd of its own (own data root, exec root, containerd namespace, daemon.json) in a network
 * namespace of its own. The namespaces are joined by a bridge of the run's own on a private /24,
 * on which this machine has the address .254 only so the test can reach what the hosts publish;
 * the hosts have no route beyond that /24. Scripts run with real `sh` and the real docker CLI
 * inside the host's namespace. Everything is removed by `stop()`, and by a watchdog
 * (../e2e/dockerd-teardown.sh) if the test process dies first; nothing touches the machine's own
 * engine or network.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "child_process";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { Engine } from "../e2e/engine";

const TEARDOWN = path.join(__dirname, "../e2e/dockerd-teardown.sh");

export interface RealHost {
    name: string;
    /** Its address on the link between the namespaces. */
    address: string;
    netns: string;
    dir: string;
    socket: string;
    daemonConfig: string;
    claimFile: string;
    process: ChildProcess;
    /** Its engine's API, for the test process (outside the namespace). */
    engine: Engine;
}

export interface RealHostsOptions {
    /** Where each engine serves its metrics (metrics-addr in its daemon.json). */
    metricsAddress: string;
    /** More dockerd flags, e.g. the e2e's `--bridge none --iptables=false`. */
    dockerdArgs?: string[];
}

function sh(args: string[]): void {
    execFileSync(args[0], args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
}

/** Why real engines cannot run here, or undefined. */
export function realDockerUnavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "needs root (network namespaces, dockerd)";
    for (const tool of ["dockerd", "docker", "ip", "nsenter"]) {
        if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed (apt-get install docker.io iproute2 util-linux)`;
    }
    return undefined;
}

export class RealDockerHosts {
    readonly hosts: RealHost[] = [];
    private readonly id = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
    private readonly root: string;
    private readonly bridge: string;
    private readonly subnet: string;
    private watchdog?: ChildProcess;

    constructor(private readonly names: string[], private readonly options: RealHostsOptions) {
        this.root = `/tmp/pug-sn-${this.id}`;
        this.bridge = `pugsn${this.id}`;
        this.subnet = `10.${200 + (Number(this.id) % 50)}.${Number(this.id) % 250}`;
    }

    /** This machine's address on the hosts' link: where connections from the test come from. */
    get hostAddress(): string {
        return `${this.subnet}.254`;
    }

    /** Creates the namespaces and the bridge, starts every engine and waits until each answers. */
    async start(): Promise<RealHost[]> {
        mkdirSync(this.root, { recursive: true });
        this.armWatchdog();
        sh(["ip", "link", "add", this.bridge, "type", "bridge"]);
        sh(["ip", "addr", "add", `${this.hostAddress}/24`, "dev", this.bridge]);
        sh(["ip", "link", "set", this.bridge, "up"]);
        this.names.forEach((name, i) => {
            const netns = `pug-sn-${this.id}-${name}`;
            sh(["ip", "netns", "add", netns]);
            sh(["ip", "-n", netns, "link", "set", "lo", "up"]);
            const dir = path.join(this.root, name);
            mkdirSync(dir, { recursive: true });
            const daemonConfig = path.join(dir, "daemon.json");
            // The engine already serves metrics where the scripts want them: they find nothing to change.
            writeFileSync(daemonConfig, JSON.stringify({ "metrics-addr": this.options.metricsAddress }, null, 2));
            // what the teardown reads: the containerd namespace whose leftovers it stops, the netns it deletes
            writeFileSync(path.join(dir, "namespace"), netns);
            writeFileSync(path.join(dir, "netns"), netns);
            const socket = path.join(dir, "docker.sock");
            const host: RealHost = {
                name, netns, dir, daemonConfig, socket,
                address: `${this.subnet}.${i + 1}`,
                claimFile: path.join(dir, "pug-claim"),
                process: undefined as unknown as ChildProcess,
                engine: new Engine(socket),
            };
            this.hosts.push(host);
            // one veth per host: its namespace end gets the host's address, this end joins the bridge
            const [inside, outside] = [`pi${this.id}${i}`, `po${this.id}${i}`];
            sh(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", netns]);
            sh(["ip", "link", "set", outside, "master", this.bridge, "up"]);
            sh(["ip", "-n", netns, "addr", "add", `${host.address}/24`, "dev", inside]);
            sh(["ip", "-n", netns, "link", "set", inside, "up"]);
        });
        for (const h of this.hosts) this.startEngine(h);
        for (const h of this.hosts) await this.waitForEngine(h);
        return this.hosts;
    }

    /** (Re)starts a host's dockerd on its own state: after `powerOff`, it comes back as the same node. */
    startEngine(h: RealHost): void {
        h.process = spawn(
            "nsenter",
            [
                `--net=/var/run/netns/${h.netns}`, "dockerd",
                "--data-root", path.join(h.dir, "data"), "--exec-root", path.join(h.dir, "exec"),
                "--pidfile", path.join(h.dir, "dockerd.pid"), "-H", `unix://${h.socket}`,
                "--config-file", h.daemonConfig,
                "--containerd-namespace", h.netns, "--containerd-plugins-namespace", `${h.netns}-p`,
                ...(this.options.dockerdArgs ?? []),
            ],
            { stdio: ["ignore", "ignore", "pipe"] },
        );
        h.process.stderr?.resume();
    }

    /**
     * The host loses power: its dockerd, its containerd, the containers' shims and every process of
     * its containers get SIGKILL at once, so nothing stops gracefully and nothing answers any more.
     */
    async powerOff(h: RealHost): Promise<void> {
        const containers: any[] = await h.engine.call("GET", "/containers/json");
        const inspected = await Promise.all(containers.map((c) => h.engine.call("GET", `/containers/${c.Id}/json`)));
        const pids = [
            ...inspected.map((c) => Number(c.State.Pid)).filter((pid) => pid > 0),
            Number(readFileSync(path.join(h.dir, "dockerd.pid"), "utf8")),
            Number(readFileSync(path.join(h.dir, "exec/containerd/containerd.pid"), "utf8")),
            // the shims carry the host's containerd namespace on their command line
            ...spawnSync("pgrep", ["-f", "--", `-namespace ${h.netns} `], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).map(Number),
        ];
        for (const pid of pids) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // gone already
            }
        }
        const exited = h.process.exitCode !== null ? Promise.resolve() : new Promise((r) => h.process.once("exit", r));
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }

    /** Runs a script on a host: its network namespace, its engine, real sh and docker. */
    run(host: RealHost, script: string, stdin = ""): { status: number; stdout: string; stderr: string } {
        const result = spawnSync("nsenter", [`--net=/var/run/netns/${host.netns}`, "sh", "-c", script], {
            input: stdin,
            encoding: "utf8",
            timeout: 120_000,
            env: { PATH: process.env.PATH, HOME: host.dir, DOCKER_HOST: `unix://${host.socket}` },
        });
        if (result.error) throw result.error;
        return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
    }

    /** docker CLI against a host's engine. */
    docker(host: RealHost, ...args: string[]): string {
        return execFileSync("docker", args, { env: { ...process.env, DOCKER_HOST: `unix://${host.socket}` }, encoding: "utf8" }).trim();
    }

    /** Stops every engine and removes the namespaces, the bridge and the run's directory. */
    async stop(): Promise<void> {
        spawnSync("sh", ["-c", this.teardownScript()], { stdio: "inherit", timeout: 300_000 });
        if (this.watchdog?.pid && this.watchdog.exitCode === null) process.kill(this.watchdog.pid, "SIGTERM");
    }

    /** Each host's teardown (its swarm left, dockerd, containerd and shims stopped, its netns deleted), then the bridge and the directory. */
    private teardownScript(): string {
        const hosts = this.names.map((name) => `sh ${TEARDOWN} ${path.join(this.root, name)} none`);
        return [...hosts, `ip link delete ${this.bridge} 2>/dev/null`, `rm -rf ${this.root}`, "exit 0"].join("\n");
    }

    /** The teardown runs even if this process dies without calling stop(). */
    private armWatchdog(): void {
        this.watchdog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done\n${this.teardownScript()}`], { detached: true, stdio: "ignore" });
        this.watchdog.unref();
    }

    private async waitForEngine(h: RealHost): Promise<void> {
        for (let i = 0; i < 60; i++) {
            const probe = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { env: { ...process.env, DOCKER_HOST: `unix://${h.socket}` } });
            if (probe.status === 0) return;
            if (h.process.exitCode !== null) throw new Error(`dockerd of ${h.name} exited (${h.process.exitCode})`);
            await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error(`dockerd of ${h.name} did not answer within 30s`);
    }
}
