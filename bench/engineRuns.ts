/**
 * Benchmark `engine`: what a platform team waits for, through the real Pulumi engine (the CLI and
 * docker provider built by tools/engine/ensure.sh, the mysql and random STAND-INS of the e2e) on a
 * one-node Swarm this benchmark starts, with the e2e's images (Grafana is the STAND-IN):
 *
 * 1. `pulumi preview` of a new stack of N users, against the flat baseline (bench/flat: the same
 *    custom resources with the same inputs, as the program registers them under the mocks,
 *    registered flat with no PUG code): PUG's own cost.
 * 2. The deployed stack at two sizes (1 replica per user): the up that grew it, a no-change
 *    preview and up, resources and state per user; then one user added, one user's setting
 *    changed, one removed: the steps each plan touches and the wall time of its preview and up.
 * 3. A fleet upgrade: a new Grafana image for every user (2 replicas each) while a client polls
 *    every user through the proxy, all at once and then in release-channel waves (canary first),
 *    against the time Swarm's update settings predict.
 *
 * Users come from a file source (`pug:users: { file }`), so the config is set once per stack.
 */
import { execFileSync } from "child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { tenantServiceName } from "../components/specs/naming";
import { devStackConfig, DOMAIN } from "../test/e2e/devStack";
import { ensureDebianPackages, freeTcpPort, startSwarmHost, type SwarmHost } from "../test/e2e/dockerd";
import { tasksOf, taskTime, updateCompleted, waitForAllServices } from "../test/e2e/engine";
import { frontProxyDoor, pollHealth, type Polled } from "../test/e2e/frontDoor";
import { buildImages, importImage } from "../test/e2e/images";
import { provideEngine, PulumiStack, type CommandResult, type PlanStep } from "../test/e2e/pulumiStack";
import { sampleTreeRss } from "./memory";
import { growthExponent, ratio } from "./report";
import { benchUsers } from "./users";

export interface EngineBenchOptions {
    /** Stack sizes previewed from empty, PUG and flat side by side. */
    previewSizes: number[];
    /** The two sizes deployed, the one-user changes made at each. */
    deployedSizes: [number, number];
    /** Users of the fleet upgrade (deployed between the two sizes). */
    fleetUsers: number;
    /** Users on the canary channel, the first wave. */
    canaryUsers: number;
    /**
     * Replicas of every user of the deployed sizes. One: on this machine Docker's health checks
     * (a runc exec per replica every 10 s) of 200 replicas took both cores, and the Swarm
     * thrashed (see the README).
     */
    deployedReplicas: number;
    /** Replicas of every user of the fleet upgrade. */
    fleetReplicas: number;
    /** How often the client asks each user's /api/health during a fleet upgrade, ms. */
    pollEveryMs: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineBenchOptions = { previewSizes: [10, 100, 500], deployedSizes: [10, 100], fleetUsers: 24, canaryUsers: 3, deployedReplicas: 1, fleetReplicas: 2, pollEveryMs: 1_000 };

/** One `pulumi` command: its wall time and the peak summed RSS of its process tree. */
export interface EngineRun {
    seconds: number;
    peakRssMiB: number;
}

export interface PreviewScaling {
    users: number;
    /** Resources the plan creates (stack and components included). */
    planned: number;
    pug: EngineRun;
    flat: EngineRun & { planned: number };
    timeRatio: number;
    rssRatio: number;
}

export interface DeployedSize {
    users: number;
    replicas: number;
    resources: number;
    resourcesPerUser: number;
    stateBytesPerUser: number;
    /** The up that brought the stack to this size (from the previous one, or from empty). */
    growUp: EngineRun & { fromUsers: number };
    noChangePreview: EngineRun & { touched: number };
    noChangeUp: EngineRun;
}

export interface OneUserChange {
    users: number;
    change: string;
    /** The user changed. */
    userId: string;
    /** What the plan does beside "same": "update pug-user-…". */
    touched: string[];
    preview: EngineRun;
    up: EngineRun;
}

export interface FleetUpgrade {
    how: string;
    users: number;
    replicas: number;
    /** `pulumi up` wall time: it returns when every task runs the new spec. */
    upSeconds: number;
    /** Until Swarm marked the last user's update completed (its monitor window included). */
    rolloutSeconds: number;
    predictedSeconds: number;
    requests: number;
    failedRequests: number;
    longestOutageSeconds: number;
    failures: string[];
    /** Waves: from the last canary task started to the first task of the next wave. */
    nextWaveStartedAfterCanarySeconds?: number;
}

export interface EngineResults {
    options: EngineBenchOptions;
    /** `pulumi up --parallel`'s default, as the CLI's help gives it: services updated at once. */
    parallelDefault: number;
    previews: PreviewScaling[];
    /** Exponent k of time ∝ users^k, fitted over the preview sizes. */
    previewGrowth: { pug: number; flat: number };
    deployed: DeployedSize[];
    changes: OneUserChange[];
    fleet: FleetUpgrade[];
    swarmUpdate: { healthIntervalSeconds: number; delaySeconds: number; monitorSeconds: number };
}

/** The steps a plan takes beyond "same", and beyond the read of the StackReference every run makes. */
export function touched(steps: PlanStep[]): string[] {
    return steps.filter((s) => s.op !== "same" && !(s.op === "read" && s.type === "pulumi:pulumi:StackReference")).map((s) => `${s.op} ${s.name}`);
}

/**
 * How long Swarm's settings and Pulumi's parallelism say a rolling update of every user takes,
 * `waves` giving the users of each wave in order: a service's replicas are replaced one after
 * another, each becoming healthy (its first health check, one interval after it starts) and the
 * update waiting `delay` before the next; `pulumi up` updates at most `parallel` services at once
 * and starts a wave when the previous one's tasks all run; the last one's update completes after
 * the monitor window.
 */
export function predictedRolloutSeconds(update: EngineResults["swarmUpdate"], replicas: number, waves: number[], parallel: number): number {
    const service = replicas * (update.healthIntervalSeconds + update.delaySeconds);
    return waves.reduce((s, users) => s + Math.ceil(users / parallel) * service, 0) + update.monitorSeconds;
}

const nsToSeconds = (ns: number) => ns / 1e9;

export async function engineBenchmark(opts: EngineBenchOptions = DEFAULT_ENGINE_OPTIONS): Promise<EngineResults> {
    ensureDebianPackages({ dockerd: "docker.io", mmdebstrap: "mmdebstrap", curl: "curl", ip: "iproute2" });
    const workDir = mkdtempSync("/tmp/pug-bench-engine-");
    let host: SwarmHost | undefined;
    try {
        const engine = await provideEngine(workDir);
        const built = await buildImages(workDir);
        host = await startSwarmHost();
        const swarm = host;
        const image = (name: string) => built.find((b) => b.name === name)!;
        const images = {
            mariadb: await importImage(swarm.engine, image("mariadb")),
            redis: await importImage(swarm.engine, image("redis")),
            nginx: await importImage(swarm.engine, image("nginx")),
            standin: await importImage(swarm.engine, image("grafana-standin")),
        };
        const standinNext = await importImage(swarm.engine, image("grafana-standin"), "next");
        const target = { dockerHost: `unix://${swarm.socketPath}`, mysqlPort: await freeTcpPort(), proxyPort: await freeTcpPort(), images };
        const usersFile = path.join(workDir, "users.json");
        const writeUsers = (users: object[]) => writeFileSync(usersFile, JSON.stringify(users));
        // `grafana` overrides the dev stack's pug:grafana; a key given as undefined is left out
        const stackConfig = (grafana: Record<string, unknown> = {}) => {
            const dev = devStackConfig(target, []);
            const merged = Object.entries({ ...(dev["pug:grafana"] as object), ...grafana }).filter(([, v]) => v !== undefined);
            return { ...dev, "pug:users": { file: usersFile }, "pug:grafana": Object.fromEntries(merged) };
        };
        const newStack = async (name: string, projectDir?: string) => {
            const dir = path.join(workDir, name);
            mkdirSync(dir);
            const stack = new PulumiStack(name, dir, engine, undefined, projectDir);
            await stack.init();
            return stack;
        };

        const parallelDefault = Number(/--parallel int.*\(default (\d+)\)/.exec((await (await newStack("help")).run(["up", "--help"])).stdout)?.[1]);
        if (!Number.isInteger(parallelDefault)) throw new Error("pulumi up --help gives no default of --parallel");
        const previews = await previewScaling(opts, newStack, writeUsers, stackConfig);
        progress("previews", previews);

        const stack = await newStack("fleet");
        await stack.setConfig(stackConfig());
        const results: Pick<EngineResults, "deployed" | "changes" | "fleet"> = { deployed: [], changes: [], fleet: [] };
        const [small, large] = opts.deployedSizes;
        let deployedUsers = 0;
        const grow = async (users: number, replicas: number, grafana: Record<string, unknown> = {}) => {
            writeUsers(benchUsers(users, replicas));
            await stack.setConfig(stackConfig(grafana));
            const run = await measured((started) => stack.up([], { started }));
            await waitForAllServices(swarm.engine, 20 * 60_000);
            const from = deployedUsers;
            deployedUsers = users;
            return { ...figuresOf(run), fromUsers: from };
        };
        const measureSize = async (users: number, growUp: DeployedSize["growUp"]) => {
            const preview = await measured((started) => stack.preview([], { started }));
            const noChangeUp = await measured((started) => stack.up([], { started }));
            const resources = (await stack.resources()).length;
            const stateBytes = Buffer.byteLength(await stack.exportText());
            results.deployed.push({
                users,
                replicas: opts.deployedReplicas,
                resources,
                resourcesPerUser: resources / users,
                stateBytesPerUser: stateBytes / users,
                growUp,
                noChangePreview: { ...figuresOf(preview), touched: touched(preview.value.steps).length },
                noChangeUp: figuresOf(noChangeUp),
            });
            results.changes.push(...(await oneUserChanges(stack, users, opts.deployedReplicas, writeUsers, swarm)));
            progress(`deployed ${users}`, { deployed: results.deployed.at(-1), changes: results.changes.filter((c) => c.users === users) });
        };

        await measureSize(small, await grow(small, opts.deployedReplicas));
        const door = frontProxyDoor((await stack.outputs()).proxyPublishedPort, DOMAIN);
        await grow(opts.fleetUsers, opts.fleetReplicas);
        const service = await swarm.engine.call("GET", `/services/${tenantServiceName(benchUsers(1, 1)[0].id)}`);
        const swarmUpdate = {
            healthIntervalSeconds: nsToSeconds(service.Spec.TaskTemplate.ContainerSpec.Healthcheck.Interval),
            delaySeconds: nsToSeconds(service.Spec.UpdateConfig.Delay),
            monitorSeconds: nsToSeconds(service.Spec.UpdateConfig.Monitor),
        };
        const fleetIds = benchUsers(opts.fleetUsers, opts.fleetReplicas).map((u) => u.id);
        const upgrade = async (how: string, waves: number[], prepare: () => Promise<void>, canary: string[] = []): Promise<FleetUpgrade> => {
            await prepare();
            const clients = fleetIds.map((id) => pollHealth(door, id, 5_000, opts.pollEveryMs));
            const t0 = Date.now();
            let upSeconds: number;
            const polled: Polled[] = [];
            try {
                upSeconds = (await measured((started) => stack.up([], { started }))).seconds;
                for (const id of fleetIds) await updateCompleted(swarm.engine, tenantServiceName(id), 15 * 60_000);
            } finally {
                polled.push(...(await Promise.all(clients.map((c) => c.stop()))));
            }
            let completedAt = t0;
            const firstNewTask = new Map<string, number>();
            for (const id of fleetIds) {
                const svc = await swarm.engine.call("GET", `/services/${tenantServiceName(id)}`);
                completedAt = Math.max(completedAt, Date.parse(svc.UpdateStatus.CompletedAt));
                const fresh = (await tasksOf(swarm.engine, tenantServiceName(id))).filter((t) => Date.parse(t.CreatedAt) >= t0).map(taskTime);
                firstNewTask.set(id, Math.min(...fresh));
            }
            const lastCanaryStart = canary.length ? Math.max(...canary.map((id) => firstNewTask.get(id)!)) : undefined;
            const nextWave = fleetIds.filter((id) => !canary.includes(id)).map((id) => firstNewTask.get(id)!);
            return {
                how,
                users: fleetIds.length,
                replicas: opts.fleetReplicas,
                upSeconds,
                rolloutSeconds: (completedAt - t0) / 1000,
                predictedSeconds: predictedRolloutSeconds(swarmUpdate, opts.fleetReplicas, waves, parallelDefault),
                requests: polled.reduce((s, p) => s + p.requests, 0),
                failedRequests: polled.reduce((s, p) => s + p.failures.length, 0),
                longestOutageSeconds: Math.max(...polled.map((p) => p.longestOutageMs)) / 1000,
                failures: polled.flatMap((p) => p.failures).slice(0, 10),
                ...(lastCanaryStart !== undefined ? { nextWaveStartedAfterCanarySeconds: (Math.min(...nextWave) - lastCanaryStart) / 1000 } : {}),
            };
        };
        // every user to the next image in one up
        results.fleet.push(
            await upgrade("all users at once", [fleetIds.length], async () => {
                await stack.setConfig(stackConfig({ image: standinNext }));
            }),
        );
        // the users onto channels at the image they run (no rollout), then both channels back: canary first
        const canary = fleetIds.slice(0, opts.canaryUsers);
        const onChannels = (channelImage: string) => ({ image: undefined, channels: { canary: { image: channelImage, wave: 0 }, stable: { image: channelImage, wave: 1 } }, defaultChannel: "stable" });
        const channelUsers = benchUsers(opts.fleetUsers, opts.fleetReplicas).map((u) => (canary.includes(u.id) ? { ...u, channel: "canary" } : u));
        writeUsers(channelUsers);
        await stack.setConfig(stackConfig(onChannels(standinNext)));
        await stack.up();
        results.fleet.push(
            await upgrade(`release channels: ${canary.length} canary users, then the rest`, [canary.length, fleetIds.length - canary.length], () => stack.setConfig(stackConfig(onChannels(images.standin))), canary),
        );

        progress("fleet", results.fleet);
        await measureSize(large, await grow(large, opts.deployedReplicas, onChannels(images.standin)));
        return { options: opts, parallelDefault, previews, previewGrowth: growthOf(previews), ...results, swarmUpdate };
    } finally {
        host?.teardown();
        rmSync(workDir, { recursive: true, force: true });
    }
}

/** Prints a phase's figures as soon as they are measured: a run stopped later keeps them in its log. */
function progress(phase: string, figures: unknown): void {
    console.log(`engine benchmark, ${phase}: ${JSON.stringify(figures)}`);
}

/** A run's figures without what the command printed (the results keep figures only). */
const figuresOf = (run: EngineRun): EngineRun => ({ seconds: run.seconds, peakRssMiB: run.peakRssMiB });

/** Runs a `pulumi` command, sampling its process tree's memory. */
async function measured<T extends CommandResult | { result: CommandResult }>(command: (started: (child: { pid?: number }) => void) => Promise<T>): Promise<EngineRun & { value: T }> {
    let sampler: { stop(): number } | undefined;
    const t0 = Date.now();
    const value = await command((child) => {
        if (child.pid) sampler = sampleTreeRss(child.pid);
    });
    const seconds = (Date.now() - t0) / 1000;
    const peakKiB = sampler?.stop() ?? 0;
    const result: CommandResult = "result" in value ? value.result : (value as CommandResult);
    if (result.code !== 0) throw new Error(`pulumi exited ${result.code}:\n${result.stdout.slice(-4_000)}\n${result.stderr.slice(-4_000)}`);
    return { seconds, peakRssMiB: peakKiB / 1024, value };
}

async function previewScaling(
    opts: EngineBenchOptions,
    newStack: (name: string, projectDir?: string) => Promise<PulumiStack>,
    writeUsers: (users: object[]) => void,
    stackConfig: () => Record<string, unknown>,
): Promise<PreviewScaling[]> {
    const scaling: PreviewScaling[] = [];
    for (const users of opts.previewSizes) {
        writeUsers(benchUsers(users, opts.deployedReplicas));
        const pugStack = await newStack(`preview-${users}`);
        await pugStack.setConfig(stackConfig());
        const pug = await measured((started) => pugStack.preview([], { started }));
        // the flat baseline: what the program registers for this config, recorded under the mocks
        const configFile = path.join(pugStack.workDir, "config.json");
        const resourcesFile = path.join(pugStack.workDir, "flat-resources.json");
        writeFileSync(configFile, JSON.stringify(stackConfig()));
        execFileSync(process.execPath, ["--import", "tsx", path.join(__dirname, "flatShape.ts"), configFile, resourcesFile], { cwd: path.join(__dirname, ".."), stdio: ["ignore", "ignore", "inherit"], timeout: 10 * 60_000 });
        const flatStack = await newStack(`flat-${users}`, path.join(__dirname, "flat"));
        await flatStack.setConfig({ "pug-flat:resources": resourcesFile });
        const flat = await measured((started) => flatStack.preview([], { started }));
        const creates = (steps: PlanStep[]) => steps.filter((s) => s.op === "create").length;
        scaling.push({
            users,
            planned: creates(pug.value.steps),
            pug: figuresOf(pug),
            flat: { ...figuresOf(flat), planned: creates(flat.value.steps) },
            timeRatio: ratio(pug.seconds, flat.seconds),
            rssRatio: ratio(pug.peakRssMiB, flat.peakRssMiB),
        });
    }
    return scaling;
}

function growthOf(previews: PreviewScaling[]): EngineResults["previewGrowth"] {
    return {
        pug: growthExponent(previews.map((p) => [p.users, p.pug.seconds])),
        flat: growthExponent(previews.map((p) => [p.users, p.flat.seconds])),
    };
}

/** At `users` deployed: one user added, one user's setting changed, that user removed; each previewed, then applied. */
async function oneUserChanges(stack: PulumiStack, users: number, replicas: number, writeUsers: (users: object[]) => void, swarm: SwarmHost): Promise<OneUserChange[]> {
    const base = benchUsers(users, replicas);
    // an id of its own: a removed user's database stays (PUG never drops data), so a user the
    // stack grows to later must not be one removed here (it would need pug:restoreUsers)
    const added = { id: `added-at-${users}`, replicas };
    const lists: Array<[string, object[]]> = [
        ["add one user", [...base, added]],
        ["change one user's setting (theme)", [...base, { ...added, theme: "light" }]],
        ["remove one user", base],
    ];
    const changes: OneUserChange[] = [];
    for (const [change, list] of lists) {
        writeUsers(list);
        const preview = await measured((started) => stack.preview([], { started }));
        const up = await measured((started) => stack.up([], { started }));
        await waitForAllServices(swarm.engine, 10 * 60_000);
        changes.push({ users, change, userId: added.id, touched: touched(preview.value.steps), preview: figuresOf(preview), up: figuresOf(up) });
    }
    return changes;
}
