/**
 * `npm run deploy:dev`: the dev stack (Pulumi.dev.yaml) on this machine's Docker engine, with
 * whatever this machine lacks provided first, then each user's URL printed.
 *
 * - The Docker engine: the local one (/var/run/docker.sock, or DOCKER_HOST); as root, Debian's
 *   docker.io is installed and dockerd started when none answers; `swarm init` when it is not in
 *   a swarm.
 * - The Pulumi engine: tools/engine/ensure.sh (the installed one, or built from Go modules once).
 * - State: the local backend (`pulumi login --local`, ~/.pulumi) unless one is configured, with a
 *   passphrase from PULUMI_CONFIG_PASSPHRASE or one generated once into ~/.pulumi/pug-dev.passphrase.
 *
 * Where this machine cannot have what the dev stack asks for, it says so and uses what it can:
 * - no registry (the official images cannot be pulled): images built from Debian's packages, as
 *   the end-to-end test builds them, and the Grafana STAND-IN in place of Grafana (test/e2e/images);
 *   monitoring (Prometheus, its exporter, the operations Grafana) is switched off;
 * - no mysql or random provider plugin, and none can be built here: the end-to-end test's
 *   STAND-INS of them (test/e2e/standinProviders.ts);
 * - no IPVS in the kernel (Swarm's virtual IPs route nowhere): `pug:docker.endpointMode: dnsrr`.
 * Those choices are written to a config file of their own (~/.pulumi/pug-dev/Pulumi.dev.yaml, made
 * anew from Pulumi.dev.yaml each run), never into Pulumi.dev.yaml.
 */
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { homedir } from "os";
import * as path from "path";
import { DEFAULT_NGINX_IMAGE } from "../components/frontProxy";
import { DEFAULT_GRAFANA_IMAGE, DEFAULT_OPEN_FILES_LIMIT } from "../components/grafanaTenant";
import { ensureDebianPackages } from "../test/e2e/dockerd";
import { Engine } from "../test/e2e/engine";
import { buildImages, importImage } from "../test/e2e/images";
import { provideEngine, PulumiStack } from "../test/e2e/pulumiStack";
import { loadStackFile } from "../test/harness/stackFiles";

const say = (message: string) => console.log(`deploy:dev: ${message}`);
const banner = (lines: string[]) => console.log(["", "=".repeat(78), ...lines.map((l) => `  ${l}`), "=".repeat(78), ""].join("\n"));

async function dockerEngine(): Promise<Engine> {
    const socket = (process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock").replace(/^unix:\/\//, "");
    const engine = new Engine(socket);
    if (!(await engine.ping())) {
        if (process.getuid?.() !== 0) throw new Error(`no Docker engine answers at ${socket}: start one, or run this as root to have it started`);
        ensureDebianPackages({ dockerd: "docker.io" });
        say("starting dockerd (log: /var/log/pug-dockerd.log)");
        execFileSync("sh", ["-c", "nohup dockerd >>/var/log/pug-dockerd.log 2>&1 &"]);
        for (let i = 0; i < 60 && !(await engine.ping()); i++) await new Promise((r) => setTimeout(r, 1_000));
        if (!(await engine.ping())) throw new Error("dockerd did not answer within 60 s: see /var/log/pug-dockerd.log");
    }
    const info = await engine.call("GET", "/info");
    if (info.Swarm?.LocalNodeState !== "active") {
        say("swarm init on 127.0.0.1");
        await engine.call("POST", "/swarm/init", { body: { ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1" } });
    }
    return engine;
}

/** Whether the engine can pull `reference` (or has it already). */
async function canHave(engine: Engine, reference: string): Promise<boolean> {
    if ((await engine.request("GET", `/images/${encodeURIComponent(reference)}/json`)).status === 200) return true;
    const [fromImage, tag] = reference.split(/:(?=[^/]+$)/);
    const pulled = await engine.request("POST", "/images/create", { query: { fromImage, tag }, timeoutMs: 300_000 }).catch(() => undefined);
    return !!pulled && pulled.status === 200 && !pulled.body.toString("utf8").includes('"error"');
}

function passphrase(): string {
    if (process.env.PULUMI_CONFIG_PASSPHRASE !== undefined) return process.env.PULUMI_CONFIG_PASSPHRASE;
    const file = path.join(homedir(), ".pulumi", "pug-dev.passphrase");
    if (!existsSync(file)) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, randomBytes(24).toString("base64url"), { mode: 0o600 });
        say(`a passphrase for the dev stack's secrets was generated into ${file}`);
    }
    return readFileSync(file, "utf8").trim();
}

async function main() {
    const docker = await dockerEngine();
    const workDir = path.join(homedir(), ".pulumi", "pug-dev");
    mkdirSync(workDir, { recursive: true });
    const dev = loadStackFile("dev");
    const config: Record<string, unknown> = { ...dev.config };
    const notes: string[] = [];
    /** Sets some fields of one of the dev stack's settings, keeping the others. */
    const override = (key: string, fields: Record<string, unknown>) => {
        config[key] = { ...(config[key] as object), ...fields };
    };

    if (!(await canHave(docker, DEFAULT_GRAFANA_IMAGE)) || !(await canHave(docker, DEFAULT_NGINX_IMAGE))) {
        ensureDebianPackages({ mmdebstrap: "mmdebstrap" });
        say("no registry: building images from Debian's packages (cached in ~/.cache/pug-e2e)");
        const built = await buildImages(workDir);
        const image = async (name: string) => importImage(docker, built.find((b) => b.name === name)!);
        override("pug:mysql", { image: await image("mariadb") });
        override("pug:redis", { image: await image("redis") });
        override("pug:proxy", { image: await image("nginx") });
        override("pug:grafana", { image: await image("grafana-standin") });
        config["pug:monitoring"] = { enabled: false };
        notes.push(
            "No image can be pulled here: MySQL, Redis and nginx run Debian-built images, and each",
            "user's 'Grafana' is the end-to-end test's GRAFANA STAND-IN, which is not Grafana.",
            "Monitoring (Prometheus, exporter, operations Grafana) is off.",
        );
    }
    // Grafana's task raises its open-files limit at start: above the engine's hard limit it cannot
    // (the engine started here inherits this process's)
    const hardLimit = Number(execFileSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim());
    if (Number.isInteger(hardLimit) && hardLimit < DEFAULT_OPEN_FILES_LIMIT) {
        override("pug:grafana", { openFilesLimit: hardLimit });
        notes.push(`The open-files hard limit here is ${hardLimit}: each Grafana task gets that, not ${DEFAULT_OPEN_FILES_LIMIT}.`);
    }
    if (!existsSync("/proc/net/ip_vs") && !spawnOk("modprobe", ["ip_vs"])) {
        override("pug:docker", { endpointMode: "dnsrr" });
        notes.push("No IPVS in this kernel: services are addressed by DNS round robin (endpointMode dnsrr).");
    }

    const engine = await provideEngine(workDir);
    if (engine.standIns.length) {
        notes.push(`No ${engine.standIns.join(" or ")} provider plugin can be had here: the end-to-end test's`, "STAND-INS of them create the databases, users, grants and passwords.");
    }
    if (notes.length) banner(["This is a local try-out, not the dev stack as a laptop with a registry runs it:", ...notes]);

    // the configured backend, else the local one in ~/.pulumi (`pulumi login --local`)
    const url = process.env.PULUMI_BACKEND_URL ?? (spawnOk("pulumi", ["whoami"], engine.path) ? undefined : `file://${homedir()}`);
    const stack = new PulumiStack("dev", workDir, engine, { url, passphrase: passphrase() });
    if (!(await stack.run(["stack", "select", "dev"], { allowFailure: true })).code) say("stack dev selected");
    else await stack.init();
    await stack.setConfig(config, dev.secretKeys);
    say("pulumi up (the first run waits for every user's Grafana to be healthy)");
    const result = await stack.up();
    process.stdout.write(result.stdout.split("\n").slice(-25).join("\n"));
    const outputs = await stack.outputs();
    banner(["Each user's Grafana (behind the proxy on port " + outputs.proxyPublishedPort + "; put TLS in front):", ...Object.entries(outputs.urls ?? {}).map(([id, url]) => `${id}: ${url}`)]);
}

function spawnOk(program: string, args: string[], pathDirs: string[] = []): boolean {
    try {
        execFileSync(program, args, { stdio: "ignore", env: { ...process.env, PATH: [...pathDirs, process.env.PATH].join(":") } });
        return true;
    } catch {
        return false;
    }
}

main().catch((err) => {
    console.error(`deploy:dev: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
});
