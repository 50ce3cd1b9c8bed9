/**
 * Fault drills (`npm run test:drills`, run by tools/test.sh after the e2e): PUG's dev stack on a
 * Swarm of three Docker engines, each in a network namespace of its own (1 manager, 2 workers,
 * test/harness/realDockerHosts.ts), joined and labelled by PUG's own Swarm scripts, deployed by
 * the real Pulumi engine as the e2e deploys it (devStack.ts). Throughout each drill a client polls
 * every user's /api/health through the stack's front proxy and holds one Live WebSocket per user;
 * rows written into every user's database before the fault are counted after it. Each drill
 * prints failed requests, the longest gap, the time to recover and rows lost (all in the summary
 * at the end), and asserts what users depend on.
 *
 * The proxy is pinned to the manager (`pug:proxy.placementConstraints`): its port is published in
 * host mode, so the node it runs on is the address clients use; the drills kill workers.
 */
import type { ChildProcess } from "child_process";
import { mkdtempSync, readdirSync, rmSync } from "fs";
import * as path from "path";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PROXY_SERVICE_NAME, proxyShutdownTimeoutSeconds, type FrontProxySettings } from "../../components/frontProxy";
import { tenantDatabaseName, tenantServiceName } from "../../components/specs/naming";
import { drainScript, joinTokensScript, memberScript, nodeSettingsScript, parseJoinTokens, parseNodeId } from "../../components/specs/swarmScripts";
import { DEFAULT_DRAIN_WAIT_SECONDS } from "../../components/swarmNodes";
import { DEV_USERS, devStackConfig, DOMAIN, type UserEntry } from "../e2e/devStack";
import { ensureDebianPackages } from "../e2e/dockerd";
import { demultiplexLogs, eventually, forceUpdate, runningTasks, scale, tasksOf, taskTime, updateCompleted, waitForAllServices, type Engine, type RunningTask } from "../e2e/engine";
import { frontProxyDoor, get, holdLive, liveOnTwoReplicas, pollHealth, proxyErrors, relayed, type FrontDoor } from "../e2e/frontDoor";
import { buildImages, importImage } from "../e2e/images";
import { stopwatch } from "../e2e/stopwatch";
import { mysqlRoot, provideEngine, PulumiStack, type CommandResult } from "../e2e/pulumiStack";
import { RealDockerHosts, type RealHost } from "../harness/realDockerHosts";

const METRICS = "0.0.0.0:9323";
const MYSQL_PORT = 3306;
const PROXY_PORT = 8080;
const ALICE = DEV_USERS[0].id;

let workDir: string;
let hosts: RealDockerHosts;
let manager: RealHost;
let workers: RealHost[];
let stack: PulumiStack;
let door: FrontDoor;
let images: { mariadb: string; redis: string; nginx: string; standin: string };
let users: UserEntry[] = DEV_USERS;
/** Swarm node id → the host it is. */
const nodeIds = new Map<string, RealHost>();
const engineOf = (nodeId: string): Engine => nodeIds.get(nodeId)!.engine;
const replicasOf = (id: string) => users.find((u) => u.id === id)?.replicas ?? 3;
const grafanas = () => users.map((u) => tenantServiceName(u.id));
const tasks = (service: string) => runningTasks(manager.engine, service, engineOf);
const stackConfig = () =>
    devStackConfig(
        { dockerHost: `unix://${manager.socket}`, managerAddress: manager.address, mysqlPort: MYSQL_PORT, proxyPort: PROXY_PORT, images, proxyPlacement: ["node.role == manager"] },
        users,
    );

/** What a drill measured, printed at the end. */
interface Figures {
    requests: number;
    failedRequests: number;
    /** The longest run of failed requests, s. */
    longestGapSeconds: number;
    /** From the fault until the last failed request ended (0: none failed), s. */
    recoverSeconds: number;
    liveDrops: number;
    liveLongestDownSeconds: number;
    rowsWritten: number;
    rowsLost: number;
    [more: string]: number | string;
}
const report: Record<string, Figures> = {};
const setup = stopwatch("drill setup");

async function asRoot<T>(action: (query: (sql: string, values?: unknown[]) => Promise<any[]>) => Promise<T>): Promise<T> {
    const root = mysqlRoot(await stack.resources());
    const connection = await createConnection({ host: manager.address, port: MYSQL_PORT, user: root.username, password: root.password, connectTimeout: 10_000 });
    try {
        return await action(async (sql, values) => (await connection.query(sql, values))[0] as any[]);
    } finally {
        await connection.end();
    }
}

const MARKS = 20;
/** Rows a drill writes into every user's database before its fault: what must still be there after. */
async function writeMarks(drill: string): Promise<number> {
    return asRoot(async (query) => {
        for (const { id } of users) {
            const db = tenantDatabaseName(id);
            await query(`CREATE TABLE IF NOT EXISTS ${db}.drill_mark (drill VARCHAR(64) NOT NULL, n INT NOT NULL, PRIMARY KEY (drill, n))`);
            for (let n = 0; n < MARKS; n++) await query(`INSERT INTO ${db}.drill_mark VALUES (?, ?)`, [drill, n]);
        }
        return MARKS * users.length;
    });
}
async function countMarks(drill: string, ids: string[]): Promise<number> {
    return asRoot(async (query) => {
        let found = 0;
        for (const id of ids) found += (await query(`SELECT COUNT(*) AS n FROM ${tenantDatabaseName(id)}.drill_mark WHERE drill = ?`, [drill]))[0].n;
        return found;
    });
}

/**
 * Runs a drill under traffic: marks written, a poller (10 s patience) and a held Live WebSocket per
 * user, `fault` (which returns when the fault is in place: the clock for recovery starts then),
 * `recovered` (which waits until the platform is whole again), then the marks counted.
 */
async function drill(name: string, fault: () => Promise<void>, recovered: () => Promise<void>, extra: Record<string, number | string> = {}): Promise<Figures> {
    const rowsWritten = await writeMarks(name);
    const watched = users.map((u) => u.id);
    const pollers = watched.map((id) => pollHealth(door, id, 10_000));
    const lives = watched.map((id) => holdLive(door, id));
    // every held socket open before the fault, or a handshake cut by it would count as nothing
    await Promise.all(lives.map((l) => l.opened));
    let faultAt = Date.now();
    const stopTraffic = async () => ({ polled: await Promise.all(pollers.map((p) => p.stop())), held: await Promise.all(lives.map((l) => l.stop())) });
    let traffic: Awaited<ReturnType<typeof stopTraffic>>;
    try {
        await fault();
        faultAt = Date.now();
        await recovered();
    } finally {
        traffic = await stopTraffic();
    }
    const { polled, held } = traffic;
    const lastFailure = Math.max(0, ...polled.map((p) => p.lastFailureAt ?? 0));
    const figures: Figures = {
        requests: polled.reduce((n, p) => n + p.requests, 0),
        failedRequests: polled.reduce((n, p) => n + p.failures.length, 0),
        longestGapSeconds: Math.max(...polled.map((p) => p.longestOutageMs)) / 1000,
        recoverSeconds: lastFailure ? Math.max(0, lastFailure - faultAt) / 1000 : 0,
        liveDrops: held.reduce((n, h) => n + h.drops, 0),
        liveLongestDownSeconds: Math.max(...held.map((h) => h.longestDownMs)) / 1000,
        rowsWritten,
        // the users the marks went to: a drill may add users
        rowsLost: rowsWritten - (await countMarks(name, watched)),
        ...extra,
    };
    if (figures.failedRequests) figures.proxyLog = (await proxyErrors(manager.engine, faultAt - 60_000)).slice(-3000);
    figures.failuresSeen = polled.flatMap((p) => p.failures).slice(0, 10).join(" | ");
    report[name] = figures;
    console.log(`drill ${name}: ${JSON.stringify(figures, null, 2)}`);
    return figures;
}

/** Every user's Grafana runs all its replicas, healthy. */
async function usersWhole(timeoutMs: number): Promise<void> {
    await eventually("every user's replicas run and are healthy", timeoutMs, async () => {
        for (const service of grafanas()) {
            const running = await tasks(service).catch(() => []);
            if (running.length !== replicasOf(service.replace(/^grafana-/, "")) || running.some((t) => t.health !== "healthy")) return false;
        }
        return true;
    });
}

const nodeOf = async (host: RealHost) => (await manager.engine.call("GET", `/nodes/${[...nodeIds].find(([, h]) => h === host)![0]}`)) as any;

async function up(): Promise<CommandResult> {
    await stack.setConfig(stackConfig());
    return stack.up();
}

beforeAll(async () => {
    ensureDebianPackages({ dockerd: "docker.io", mmdebstrap: "mmdebstrap", curl: "curl", ip: "iproute2", nsenter: "util-linux" });
    workDir = mkdtempSync("/tmp/pug-drills-");
    const { timed } = setup;
    const engine = await timed("engine", () => provideEngine(workDir));
    const built = await timed("images built or cached", () => buildImages(workDir));
    // the e2e's engine flags: no default bridge, no iptables rules (host-mode ports via the userland proxy)
    hosts = new RealDockerHosts(["manager", "worker1", "worker2"], { metricsAddress: METRICS, dockerdArgs: ["--bridge", "none", "--iptables=false", "--ip-masq=false"] });
    const all = await timed("three engines started", () => hosts.start());
    [manager, ...workers] = all;
    await timed("swarm made by PUG's scripts", async () => {
        const member = (h: RealHost, bootstrap: boolean) =>
            memberScript({
                role: bootstrap ? "manager" : "worker",
                bootstrap,
                advertiseAddress: h.address,
                joinAddress: `${manager.address}:2377`,
                claim: `claim-${h.name}`,
                claimFile: h.claimFile,
                metrics: { address: METRICS, daemonConfigPath: h.daemonConfig, restartCommand: "false" },
            });
        const ok = (run: { status: number; stdout: string; stderr: string }) => {
            if (run.status !== 0) throw new Error(run.stderr);
            return run.stdout;
        };
        nodeIds.set(parseNodeId(ok(hosts.run(manager, member(manager, true)))), manager);
        const { worker } = parseJoinTokens(ok(hosts.run(manager, joinTokensScript())));
        for (const w of workers) nodeIds.set(parseNodeId(ok(hosts.run(w, member(w, false), `${worker}\n`))), w);
        // a zone per node: the users' replicas are spread over node.labels.zone
        for (const [id, h] of nodeIds) {
            ok(hosts.run(manager, nodeSettingsScript({ nodeId: id, host: h.address, role: h === manager ? "manager" : "worker", labels: { zone: h.name }, claim: `claim-${h.name}` })));
        }
    });
    const image = (name: string) => built.find((b) => b.name === name)!;
    images = await timed("images imported (MySQL and the proxy on the manager only)", async () => {
        const onAll = async (name: "redis" | "grafana-standin") => (await Promise.all(all.map((h) => importImage(h.engine, image(name)))))[0];
        return { mariadb: await importImage(manager.engine, image("mariadb")), nginx: await importImage(manager.engine, image("nginx")), redis: await onAll("redis"), standin: await onAll("grafana-standin") };
    });
    stack = new PulumiStack("drills", workDir, engine);
    await stack.init();
    await timed("first up", () => up());
    await timed("converged", async () => {
        await waitForAllServices(manager.engine, 300_000);
        await usersWhole(180_000);
    });
    door = frontProxyDoor(PROXY_PORT, DOMAIN, manager.address);
}, 30 * 60_000);

afterAll(async () => {
    await hosts?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    setup.report();
    console.log(`drill figures: ${JSON.stringify(report, null, 2)}`);
}, 5 * 60_000);

describe("fault drills: PUG's dev stack on a three-node Swarm, through the real Pulumi engine", () => {
    it("1. a worker loses power: its replicas are rescheduled, users are served from their other replicas meanwhile", async () => {
        // spread held before the fault: each user's replicas on as many nodes as it has replicas
        for (const service of grafanas()) {
            const running = await tasks(service);
            expect(new Set(running.map((t) => t.node)).size, `${service} spread over its nodes`).toBe(running.length);
        }
        const [victim] = workers;
        const onVictim: Record<string, number> = {};
        const figures = await drill(
            "1 worker lost",
            async () => {
                const victimId = [...nodeIds].find(([, h]) => h === victim)![0];
                for (const service of [...grafanas(), "pug-live-redis"]) onVictim[service] = (await tasks(service)).filter((t) => t.node === victimId).length;
                await hosts.powerOff(victim);
            },
            async () => {
                await eventually("the manager sees the worker down", 120_000, async () => (await nodeOf(victim)).Status.State === "down");
                await usersWhole(240_000);
            },
        );
        expect(Object.values(onVictim).reduce((a, b) => a + b, 0), "replicas the lost worker ran").toBeGreaterThan(0);
        expect(figures.rowsLost).toBe(0);
        report["1 worker lost"].replicasOnLostWorker = JSON.stringify(onVictim);
        // back on: the same node rejoins by itself
        hosts.startEngine(victim);
        await eventually("the worker is back in the swarm", 120_000, async () => (await nodeOf(victim)).Status.State === "ready");
    }, 10 * 60_000);

    it("2. a worker is drained by PUG's drain script: tasks move, no user is without service for more than 10 s", async () => {
        const [, drained] = workers;
        const drainedId = [...nodeIds].find(([, h]) => h === drained)![0];
        // Swarm does not move tasks back after drill 1: a user can have every replica on the node
        // about to be drained (a run here had both of bob's, and bob was down 4.5 s). Rebalance
        // first, as the README's step after a node's return says, so no user is only there.
        const rebalanced: string[] = [];
        for (const service of grafanas()) {
            if ((await tasks(service)).some((t) => t.node !== drainedId)) continue;
            await forceUpdate(manager.engine, service);
            await updateCompleted(manager.engine, service, 6 * 60_000);
            rebalanced.push(service);
        }
        const figures = await drill(
            "2 worker drained",
            async () => {
                const run = hosts.run(manager, drainScript({ nodeId: drainedId, host: drained.address, claim: `claim-${drained.name}`, drainWaitSeconds: DEFAULT_DRAIN_WAIT_SECONDS }));
                expect(run.status, run.stderr).toBe(0);
            },
            () => usersWhole(180_000),
        );
        report["2 worker drained"].rebalancedFirst = rebalanced.join(", ") || "none";
        for (const service of grafanas()) expect((await tasks(service)).filter((t) => t.node === drainedId), service).toEqual([]);
        // A measured limit, not a goal: in four runs the longest gap was 0, 0.2, 4.5 and 4.5 s (bob,
        // 2 replicas: connection refused by the draining replica while nginx knew no other address
        // of his; cause not found, see the README). The drill holds the bound those runs showed.
        expect(figures.longestGapSeconds).toBeLessThanOrEqual(10);
        expect(figures.rowsLost).toBe(0);
        await manager.engine.call("POST", `/nodes/${drainedId}/update`, {
            query: { version: (await nodeOf(drained)).Version.Index },
            body: { ...(await nodeOf(drained)).Spec, Availability: "active" },
        });
    }, 10 * 60_000);

    it("3. Redis stops: every user is served; a replica that stops meanwhile cannot start until Redis is back, then starts by itself", async () => {
        const alice = tenantServiceName(ALICE);
        const extra: Record<string, number> = {};
        let downSince = 0;
        const figures = await drill(
            "3 Redis down",
            async () => {
                downSince = Date.now();
                await scale(manager.engine, "pug-live-redis", 0);
                await eventually("the Redis task has stopped", 60_000, async () => (await tasks("pug-live-redis")).length === 0);
            },
            async () => {
                try {
                    // one of alice's replicas stops (a crash, its node drained): Swarm restarts it at once
                    const [stopped] = await tasks(alice);
                    await engineOf(stopped.node).call("POST", `/containers/${stopped.container}/stop`, { query: { t: 10 }, timeoutMs: 30_000 });
                    const failedStarts = async () => (await tasksOf(manager.engine, alice)).filter((t) => t.Status.State === "failed" && taskTime(t) > downSince);
                    await eventually("two failed starts of alice's replica", 120_000, async () => (await failedStarts()).length >= 2);
                    // each start ended where Grafana's would: alerting HA could not reach Redis
                    const [failed] = await failedStarts();
                    const logs = demultiplexLogs((await engineOf(failed.NodeID).request("GET", `/containers/${failed.Status.ContainerStatus.ContainerID}/logs`, { query: { stdout: true, stderr: true } })).body);
                    expect(logs).toContain("unable to initialize redis");
                    expect((await tasks(alice)).length).toBe(replicasOf(ALICE) - 1);
                    extra.failedStartsWhileDown = (await failedStarts()).length;
                    extra.downSeconds = (Date.now() - downSince) / 1000;
                } finally {
                    await scale(manager.engine, "pug-live-redis", 1);
                }
                const back = Date.now();
                await eventually("Redis runs again", 60_000, async () => (await tasks("pug-live-redis")).length === 1);
                await usersWhole(180_000);
                extra.allReplicasBackAfterRedisSeconds = (Date.now() - back) / 1000;
            },
        );
        Object.assign(report["3 Redis down"], extra);
        // The replica the drill stops is the drain's case (drill 2): nginx may still pick its address
        // from Docker's DNS for up to resolverValidSeconds, and a run here had alice without
        // service for 8.4 s (5 of 1,158 requests: 504 after connect timeouts to the stopped
        // replica). That defect is open (README); this drill holds the same bound as drill 2.
        expect(figures.longestGapSeconds).toBeLessThanOrEqual(10);
        expect(figures.rowsLost).toBe(0);
        // Live crosses alice's replicas again: the running ones reconnected, the restarted one joined
        const live = await liveOnTwoReplicas(door, ALICE);
        try {
            await relayed(live, "after the Redis outage");
        } catch (err) {
            // what each replica's Live client saw of the outage, so a failure says which one stayed alone
            const seen: string[] = [];
            for (const t of await tasks(alice)) {
                const logs = demultiplexLogs((await engineOf(t.node).request("GET", `/containers/${t.container}/logs`, { query: { stdout: true, stderr: true, tail: 400 } })).body);
                seen.push(`${t.hostname}: ${logs.split("\n").filter((l) => l.includes("live redis")).slice(-4).join(" / ")}`);
            }
            throw new Error(`${(err as Error).message}; sender ${live.sender.hello.task}, receiver ${live.receiver.hello.task}; ${seen.join("; ")}`);
        } finally {
            for (const c of live.all) c.socket.close();
        }
    }, 10 * 60_000);

    it("4. MySQL stops for a minute: no replica is replaced, service resumes by itself with no row lost", async () => {
        const before = new Map<string, string[]>();
        for (const service of grafanas()) before.set(service, (await tasks(service)).map((t) => t.id).sort());
        const figures = await drill(
            "4 MySQL down 60 s",
            async () => {
                await scale(manager.engine, "pug-mysql", 0);
                await eventually("the MySQL task has stopped", 90_000, async () => (await tasks("pug-mysql")).length === 0);
            },
            async () => {
                await new Promise((r) => setTimeout(r, 60_000));
                await scale(manager.engine, "pug-mysql", 1);
                await eventually("MySQL runs healthy again", 180_000, async () => (await tasks("pug-mysql")).some((t) => t.health === "healthy"));
                await usersWhole(180_000);
            },
        );
        const replaced: string[] = [];
        for (const service of grafanas()) if (JSON.stringify((await tasks(service)).map((t) => t.id).sort()) !== JSON.stringify(before.get(service))) replaced.push(service);
        report["4 MySQL down 60 s"].servicesWithReplacedReplicas = replaced.join(", ") || "none";
        // /api/health answers 503 (or slowly) while the database is away: those requests fail, as
        // they should; the replicas stay (the health check is Grafana's liveness, /healthz)
        expect(replaced, "services whose replicas Swarm replaced").toEqual([]);
        expect(figures.rowsLost).toBe(0);
    }, 10 * 60_000);

    it("5. the proxy task is killed: a new one serves within seconds, Live WebSockets reconnect", async () => {
        let killed: RunningTask | undefined;
        let newProxyServedAfter = 0;
        const figures = await drill(
            "5 proxy killed",
            async () => {
                [killed] = await tasks(DEFAULT_PROXY_SERVICE_NAME);
                await engineOf(killed.node).call("POST", `/containers/${killed.container}/kill`);
            },
            async () => {
                const since = Date.now();
                await eventually("a new proxy task runs", 120_000, async () => (await tasks(DEFAULT_PROXY_SERVICE_NAME)).some((t) => t.id !== killed!.id));
                await eventually("every user served through it", 60_000, async () => {
                    const answers = await Promise.all(users.map((u) => get(door, u.id, "api/health", 2_000).then((r) => r.status, () => 0)));
                    return answers.every((s) => s === 200);
                });
                newProxyServedAfter = (Date.now() - since) / 1000;
                // give the held WebSockets their reconnection
                await new Promise((r) => setTimeout(r, 3_000));
            },
        );
        report["5 proxy killed"].newProxyServedAfterSeconds = newProxyServedAfter;
        expect(figures.liveDrops, "every held WebSocket dropped with the proxy, and was opened again").toBe(users.length);
        expect(figures.rowsLost).toBe(0);
    }, 10 * 60_000);

    it("6. `pulumi up` interrupted while adding users: a concurrent up is refused by the lock, and the next up converges after the README's runbook", async () => {
        const outcome: Record<string, string | number> = {};
        /** Starts an up adding `adding`, and once its Grafana service is being created, `meanwhile` then `signal`. */
        const interrupted = async (adding: UserEntry, signal: NodeJS.Signals, meanwhile: () => Promise<void> = async () => {}) => {
            users = [...users, adding];
            await stack.setConfig(stackConfig());
            let child: ChildProcess | undefined;
            const run = stack.up([], { allowFailure: true, started: (c) => (child = c) });
            await eventually(`${tenantServiceName(adding.id)} being created`, 240_000, async () => (await manager.engine.request("GET", `/services/${tenantServiceName(adding.id)}`)).status === 200);
            await meanwhile();
            child!.kill(signal);
            return run;
        };
        /**
         * What the README's runbook says after an interrupted up: up again; if the stack is locked,
         * `pulumi cancel`; if a service exists that the state lacks, remove it; then up again.
         */
        const runbookUp = async (label: string) => {
            const steps: string[] = [];
            for (let attempt = 0; attempt < 4; attempt++) {
                const result = await stack.up([], { allowFailure: true });
                const text = `${result.stdout}\n${result.stderr}`;
                if (result.code === 0) break;
                if (/locked/.test(text)) {
                    const cancel = await stack.run(["cancel", "--yes", "--stack", stack.stack], { allowFailure: true });
                    steps.push(`pulumi cancel: exit ${cancel.code} ${(cancel.stdout + cancel.stderr).trim().split("\n").slice(-2).join(" ")}`);
                    if (cancel.code !== 0) {
                        // what the file backend needs instead: its lock file removed
                        const locks = path.join(workDir, "state", ".pulumi", "locks");
                        const files = (readdirSync(locks, { recursive: true }) as string[]).filter((f) => f.endsWith(".json"));
                        for (const f of files) rmSync(path.join(locks, f));
                        steps.push(`removed lock files ${files.join(", ")}`);
                    }
                    continue;
                }
                const conflict = /service (grafana-[a-z0-9-]+) already exists/.exec(text);
                if (conflict) {
                    await manager.engine.call("DELETE", `/services/${conflict[1]}`);
                    steps.push(`docker service rm ${conflict[1]}`);
                    continue;
                }
                throw new Error(`${label}: up failed in a way the runbook does not cover:\n${text.slice(-3000)}`);
            }
            outcome[`${label}: steps before the up that converged`] = steps.join("; ") || "none";
            return steps;
        };
        const figures = await drill(
            "6 up interrupted",
            async () => {
                const first = await interrupted({ id: "carol", replicas: 2 }, "SIGINT", async () => {
                    const second = await stack.up([], { allowFailure: true });
                    outcome["concurrent up"] = `exit ${second.code}: ${`${second.stdout}\n${second.stderr}`.split("\n").find((l) => /lock/i.test(l)) ?? second.stderr.slice(-300)}`;
                    expect(second.code).not.toBe(0);
                    expect(`${second.stdout}${second.stderr}`).toMatch(/locked/);
                });
                outcome["up after SIGINT"] = `exit ${first.code}: ${first.stdout.split("\n").filter((l) => /cancel|interrupt|signal/i.test(l)).slice(0, 3).join(" / ")}`;
                await runbookUp("after SIGINT");
                const killed = await interrupted({ id: "dave", replicas: 2 }, "SIGKILL");
                outcome["up after SIGKILL"] = `exit ${killed.code}`;
                await runbookUp("after SIGKILL");
            },
            async () => {
                await waitForAllServices(manager.engine, 300_000);
                await usersWhole(240_000);
            },
        );
        Object.assign(report["6 up interrupted"], outcome);
        console.log(JSON.stringify(outcome, null, 2));
        // Each added user rolls the one stop-first proxy task: users are refused while it stops,
        // which its shutdown timeout bounds (open Live WebSockets held it for the whole 30 s grace
        // period before), and while the new one starts (allowed 5 s).
        const shutdownSeconds = proxyShutdownTimeoutSeconds(stackConfig()["pug:proxy"] as FrontProxySettings);
        expect(figures.longestGapSeconds).toBeLessThanOrEqual(shutdownSeconds + 5);
        expect(figures.rowsLost).toBe(0);
    }, 20 * 60_000);

    it("7. one user's Grafana crash-loops on a bad setting: its rollout rolls back, no other user is touched", async () => {
        const alice = tenantServiceName(ALICE);
        const good = users;
        const others = async () => Promise.all(good.filter((u) => u.id !== ALICE).map(async (u) => (await tasks(tenantServiceName(u.id))).map((t) => t.id).sort()));
        const othersBefore = await others();
        let result: CommandResult | undefined;
        const figures = await drill(
            "7 bad setting",
            async () => {
                // Grafana does not start on an evaluation_timeout that is not a duration
                users = good.map((u) => (u.id === ALICE ? { ...u, settings: { ...((u.settings as object) ?? {}), unified_alerting: { evaluation_timeout: "soon" } } } : u));
                await stack.setConfig(stackConfig());
                result = await stack.up([], { allowFailure: true });
            },
            async () => {
                await eventually("alice's update rolled back", 300_000, async () => (await manager.engine.call("GET", `/services/${alice}`)).UpdateStatus?.State === "rollback_completed");
                await usersWhole(180_000);
            },
        );
        users = good;
        report["7 bad setting"].upExit = result!.code;
        report["7 bad setting"].upError = `${result!.stdout}\n${result!.stderr}`.split("\n").filter((l) => /rollback|roll back|error/i.test(l)).slice(0, 3).join(" / ");
        expect(result!.code).not.toBe(0);
        const running = (await tasksOf(manager.engine, alice)).filter((t) => t.DesiredState === "running");
        for (const t of running) expect((t.Spec.ContainerSpec.Env as string[]).filter((e) => e.startsWith("GF_UNIFIED_ALERTING_EVALUATION_TIMEOUT"))).toEqual([]);
        expect(await others()).toEqual(othersBefore);
        expect(figures.failedRequests).toBe(0);
        expect(figures.rowsLost).toBe(0);
    }, 15 * 60_000);
});
