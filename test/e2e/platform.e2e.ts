/**
 * PUG on a real Docker Swarm through the real Pulumi engine (`npm run test:e2e`, run by .ci/run
 * after `npm test`).
 *
 * A stack of the project's own program (index.ts, Pulumi.yaml) on a local file backend, its config
 * set with `pulumi config set`, deployed with `pulumi preview` / `pulumi up` / `refresh` /
 * `destroy` (pulumiStack.ts) to a Docker engine in Swarm mode that this test starts (dockerd.ts).
 * The CLI, its Node.js language host and the docker provider are real, built from Go modules by
 * tools/engine/ensure.sh. The mysql and random providers cannot be built here: labelled STAND-INS
 * take their place (standinProviders.ts). Images are built from Debian's packages (images.ts);
 * Grafana is replaced by the Grafana STAND-IN (images/grafana-standin), which is not Grafana.
 * Users are reached through the stack's front proxy (frontDoor.ts): every request and WebSocket
 * below goes through PUG's nginx. Only image references, ports and this machine's limits differ
 * from Pulumi.dev.yaml (see stackConfig below), and the monitoring is left out.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PROXY_SERVICE_NAME } from "../../components/frontProxy";
import { tenantDatabaseName, tenantRedisPrefix, tenantServiceName } from "../../components/specs/naming";
import { PROJECT_ROOT } from "../harness/stackFiles";
import { DEV_USERS, devStackConfig, DOMAIN, type UserEntry } from "./devStack";
import { ensureDebianPackages, freeTcpPort, startSwarmHost, type SwarmHost } from "./dockerd";
import { eventually, runningTasks, tasksOf, taskTime, updateCompleted, waitForAllServices } from "./engine";
import { frontProxyDoor, get, liveOnTwoReplicas, liveUpgradeStatus, openLive, pollHealth, relayed, type FrontDoor, type Polled } from "./frontDoor";
import { buildImages, importImage } from "./images";
import { mysqlRoot, provideEngine, PulumiStack, type CommandResult, type PlanStep, type StateResource } from "./pulumiStack";
import { stopwatch } from "./stopwatch";

const [ALICE, BOB] = DEV_USERS.map((u) => u.id);
/** The user the test adds to the dev stack's two. */
const CAROL: UserEntry = { id: "carol", replicas: 2 };
const replicasOf = (id: string) => ([...DEV_USERS, CAROL].find((u) => u.id === id)?.replicas ?? 3);

const { timings, timed, report } = stopwatch("e2e timings");

let workDir: string;
let host: SwarmHost;
let stack: PulumiStack;
let door: FrontDoor;
let images: { mariadb: string; redis: string; nginx: string; standin: string; standinNext: string };
let mysqlPort: number;
let proxyPort: number;
/** Everything the engine printed, searched for secrets at the end. */
const engineOutput: CommandResult[] = [];

const stackConfig = (users: UserEntry[] = DEV_USERS) => devStackConfig({ dockerHost: `unix://${host.socketPath}`, mysqlPort, proxyPort, images }, users);

async function up(what: string, users: UserEntry[]): Promise<CommandResult> {
    await stack.setConfig(stackConfig(users));
    const result = await timed(what, () => stack.up());
    engineOutput.push(result);
    return result;
}

async function plan(users: UserEntry[], extra: string[] = []) {
    await stack.setConfig(stackConfig(users));
    const preview = await stack.preview(extra);
    engineOutput.push(preview.result);
    return preview;
}

/** The steps that change something: not "same", and not the read of the StackReference, which every run makes. */
const changed = (steps: PlanStep[]) => steps.filter((s) => s.op !== "same" && !(s.op === "read" && s.type === "pulumi:pulumi:StackReference"));
const ofType = (resources: StateResource[], type: string) => resources.filter((r) => r.type === type);
const dbUserOf = (resources: StateResource[], id: string) => {
    const [user] = ofType(resources, "mysql:index/user:User").filter((r) => r.outputs.user === tenantDatabaseName(id));
    expect(user, `the DB user of ${id} in the state`).toBeDefined();
    return user.outputs as { user: string; plaintextPassword: string };
};

/** Rows the stand-in's "migration" wrote into a user's database, counted as MySQL's root. */
async function replicaStarts(resources: StateResource[], id: string): Promise<number> {
    const root = mysqlRoot(resources);
    const asRoot = await createConnection({ host: "127.0.0.1", port: mysqlPort, user: root.username, password: root.password });
    try {
        const [rows] = await asRoot.query(`SELECT COUNT(*) AS starts FROM ${tenantDatabaseName(id)}.standin_replica_start`);
        return (rows as any[])[0].starts;
    } finally {
        await asRoot.end();
    }
}


beforeAll(async () => {
    ensureDebianPackages({ dockerd: "docker.io", mmdebstrap: "mmdebstrap", curl: "curl", ip: "iproute2" });
    workDir = mkdtempSync("/tmp/pug-e2e-build-");
    const engine = await timed("engine: built, or found in the cache", () => provideEngine(workDir));
    const built = await timed("image build (mmdebstrap, 0 when cached)", () => buildImages(workDir));
    timings["of which mmdebstrap, summed over images"] = built.reduce((s, b) => s + b.buildSeconds, 0);
    host = await timed("dockerd start and swarm init", () => startSwarmHost());
    const image = (name: string) => built.find((b) => b.name === name)!;
    images = await timed("image import", async () => ({
        mariadb: await importImage(host.engine, image("mariadb")),
        redis: await importImage(host.engine, image("redis")),
        nginx: await importImage(host.engine, image("nginx")),
        standin: await importImage(host.engine, image("grafana-standin")),
        standinNext: await importImage(host.engine, image("grafana-standin"), "next"),
    }));
    mysqlPort = await freeTcpPort();
    proxyPort = await freeTcpPort();
    stack = new PulumiStack("e2e", workDir, engine);
    await stack.init();
    const first = await timed("first preview", () => plan(DEV_USERS));
    expect(first.result.code, first.result.stderr).toBe(0);
    await up("first up", DEV_USERS);
    await timed("converge after the first up", () => waitForAllServices(host.engine, 300_000));
    door = frontProxyDoor((await stack.outputs()).proxyPublishedPort, DOMAIN);
}, 40 * 60_000);

afterAll(async () => {
    host?.teardown();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    report();
}, 5 * 60_000);

describe("PUG's dev stack on a real Swarm, through the real Pulumi engine", () => {
    it("converges on the first up: every service has all its tasks running and healthy", async () => {
        const expected: Array<[string, number]> = [
            ["pug-mysql", 1],
            ["pug-live-redis", 1],
            [DEFAULT_PROXY_SERVICE_NAME, 1],
            ...DEV_USERS.map((u): [string, number] => [tenantServiceName(u.id), replicasOf(u.id)]),
        ];
        for (const [service, replicas] of expected) {
            const tasks = await runningTasks(host.engine, service);
            expect(tasks.map((t) => t.health), service).toEqual(Array(replicas).fill("healthy"));
        }
    });

    it("routes each user's /api/health and Live WebSocket to that user's tasks only, and to all of them", async () => {
        for (const { id } of DEV_USERS) {
            const own = new Set((await runningTasks(host.engine, tenantServiceName(id))).map((t) => t.hostname));
            const seen = new Set<string>();
            for (let i = 0; i < 30 && seen.size < replicasOf(id); i++) {
                const res = await get(door, id, "api/health");
                expect(res.status).toBe(200);
                expect(res.body.database).toBe("ok");
                expect(res.headers["x-standin-user"]).toBe(id);
                expect(own).toContain(res.headers["x-standin-task"]);
                seen.add(res.headers["x-standin-task"] as string);
            }
            expect(seen).toEqual(own);
            const live = await openLive(door, id);
            expect(live.hello).toMatchObject({ type: "hello", user: id, database: tenantDatabaseName(id) });
            expect(own).toContain(live.hello.task);
            live.socket.close();
        }
    });

    it("answers 404 for a user who is not on the list, over HTTP and WebSocket, without asking any Grafana", async () => {
        const res = await get(door, "zoe", "api/health");
        expect(res.status).toBe(404);
        expect(res.headers["x-standin-user"]).toBeUndefined();
        expect(await liveUpgradeStatus(door, "zoe")).toBe(404);
        // a known user is still served on the same door
        expect(await liveUpgradeStatus(door, ALICE)).toBe(101);
    });

    it("changes nothing on a second up with nothing changed, and expects no change after a refresh", async () => {
        const versions = async () => Object.fromEntries(((await host.engine.call("GET", "/services")) as any[]).map((s) => [s.Spec.Name, s.Version.Index]));
        const before = await versions();
        const second = await timed("preview with nothing changed", () => plan(DEV_USERS));
        expect(changed(second.steps)).toEqual([]);
        await up("second up, nothing changed", DEV_USERS);
        // not one service spec was written to: an update would have bumped its version
        expect(await versions()).toEqual(before);
        await timed("refresh", () => stack.refresh());
        const expectNone = await timed("preview --expect-no-changes after refresh", () => plan(DEV_USERS, ["--expect-no-changes"]));
        expect(expectNone.result.code, expectNone.result.stdout.slice(-3000)).toBe(0);
        expect(changed(expectNone.steps)).toEqual([]);
    });

    it("runs PUG's policy pack on the stack's plan: the stack passes it, and a mandatory violation fails the preview", async () => {
        const pack = path.join(PROJECT_ROOT, "policy");
        const packConfig = JSON.parse(readFileSync(path.join(pack, "config.json"), "utf8"));
        const passing = await timed("preview with the policy pack", () => plan(DEV_USERS, ["--policy-pack", pack, "--policy-pack-config", path.join(pack, "config.json")]));
        expect(passing.result.code, `${passing.result.stdout.slice(-3000)}\n${passing.result.stderr}`).toBe(0);
        // the same stack, counted as production with more replicas required than alice's 3
        const strict = path.join(workDir, "strict-policy-config.json");
        writeFileSync(strict, JSON.stringify({ ...packConfig, "grafana-replicas-on-production": { productionStacks: [stack.stack], minReplicas: replicasOf(ALICE) + 1 } }));
        const failing = await stack.previewText(["--policy-pack", pack, "--policy-pack-config", strict]);
        engineOutput.push(failing);
        expect(failing.code).not.toBe(0);
        const output = `${failing.stdout}\n${failing.stderr}`;
        expect(output).toContain("grafana-replicas-on-production");
        for (const { id } of DEV_USERS) expect(output, id).toContain(`has ${replicasOf(id)} replica(s) on production stack "${stack.stack}"`);
    });

    it("lets a user's DB credentials into its own database only", async () => {
        const resources = await stack.resources();
        const alice = dbUserOf(resources, ALICE);
        const asAlice = await createConnection({ host: "127.0.0.1", port: mysqlPort, user: alice.user, password: alice.plaintextPassword, database: tenantDatabaseName(ALICE) });
        try {
            // the stand-in's "migration" ran with these credentials, read from its Docker secret
            const [rows] = await asAlice.query("SELECT COUNT(*) AS starts FROM standin_replica_start");
            expect((rows as any[])[0].starts).toBeGreaterThanOrEqual(replicasOf(ALICE));
            await expect(asAlice.query(`SELECT COUNT(*) FROM ${tenantDatabaseName(BOB)}.standin_replica_start`)).rejects.toMatchObject({ code: "ER_TABLEACCESS_DENIED_ERROR" });
            await expect(asAlice.query(`USE ${tenantDatabaseName(BOB)}`)).rejects.toMatchObject({ code: "ER_DBACCESS_DENIED_ERROR" });
        } finally {
            await asAlice.end();
        }
        await expect(
            createConnection({ host: "127.0.0.1", port: mysqlPort, user: alice.user, password: alice.plaintextPassword, database: tenantDatabaseName(BOB) }),
        ).rejects.toMatchObject({ code: "ER_DBACCESS_DENIED_ERROR" });
        await expect(createConnection({ host: "127.0.0.1", port: mysqlPort, user: alice.user, password: dbUserOf(resources, BOB).plaintextPassword })).rejects.toMatchObject({
            code: "ER_ACCESS_DENIED_ERROR",
        });
    });

    it("refuses a Redis client without the password; users' Grafanas keep their keys under their own prefixes", async () => {
        const anonymous = await host.engine.runOnce({ image: images.redis, command: ["redis-cli", "-h", "pug-live-redis", "ping"], network: "pug-data" });
        expect(anonymous.output).toContain("NOAUTH");
        const [redisTask] = await tasksOf(host.engine, "pug-live-redis").then((ts) => ts.filter((t) => t.Status.State === "running"));
        // with the password from the task's own secret file, as its health check does
        const scan = await host.engine.exec(redisTask.Status.ContainerStatus.ContainerID, [
            "sh", "-c", 'REDISCLI_AUTH="$(cat /run/secrets/live-redis-password)" redis-cli --scan --pattern "*standin.replica.*"',
        ]);
        expect(scan.exitCode).toBe(0);
        const keys = scan.output.trim().split("\n");
        for (const { id } of DEV_USERS) {
            const prefix = `${tenantRedisPrefix(id)}.gf_live.`;
            expect(keys.filter((k) => k.startsWith(prefix)), id).toHaveLength(replicasOf(id));
        }
        expect(keys).toHaveLength(DEV_USERS.reduce((n, u) => n + replicasOf(u.id), 0));
    });

    it("carries a user's Live messages to its other replicas through Redis, and never to another user", async () => {
        const alice = await liveOnTwoReplicas(door, ALICE);
        const bob = await openLive(door, BOB);
        try {
            await relayed(alice, "for alice's eyes");
            bob.socket.send(JSON.stringify({ publish: "for bob's eyes" }));
            await eventually("bob's own connection gets bob's message", 5_000, () => bob.messages.some((m) => m.text === "for bob's eyes"));
            expect(bob.messages.map((m) => m.text)).not.toContain("for alice's eyes");
            expect(alice.all.flatMap((a) => a.messages).map((m) => m.text)).not.toContain("for bob's eyes");
        } finally {
            for (const c of [...alice.all, bob]) c.socket.close();
        }
    });

    it("adds a user with a plan that creates only that user's resources and changes only the proxy besides", async () => {
        const withCarol = [...DEV_USERS, CAROL];
        const preview = await timed("preview of adding one user", () => plan(withCarol));
        expect(preview.result.code, preview.result.stderr).toBe(0);
        const steps = changed(preview.steps);
        const carols = steps.filter((s) => s.urn.includes(`user-${CAROL.id}`));
        const others = steps.filter((s) => !carols.includes(s));
        expect(carols.length).toBeGreaterThan(0);
        expect(carols.filter((s) => s.op !== "create")).toEqual([]);
        for (const s of others) {
            // the proxy: its nginx.conf is a new content-named Docker config, its service moves to it
            const proxyConfig = s.type === "docker:index/serviceConfig:ServiceConfig" && s.name.includes("proxy") && ["create-replacement", "replace", "delete-replaced"].includes(s.op);
            const proxyService = s.type === "docker:index/service:Service" && s.name.endsWith("proxy") && s.op === "update";
            expect(proxyConfig || proxyService, `${s.op} ${s.type} ${s.name}`).toBe(true);
        }
        for (const other of DEV_USERS) expect(steps.filter((s) => s.urn.includes(`user-${other.id}`)), other.id).toEqual([]);
        timings["resources the plan changes to add one user"] = steps.length;

        await up("up adding one user", withCarol);
        const tasks = await runningTasks(host.engine, tenantServiceName(CAROL.id));
        expect(tasks.map((t) => t.health)).toEqual(Array(replicasOf(CAROL.id)).fill("healthy"));
        const res = await get(door, CAROL.id, "api/health");
        expect(res.status).toBe(200);
        expect(res.headers["x-standin-user"]).toBe(CAROL.id);
    });

    it("rolls a new image out to one user with no failed request, one replica at a time, leaving the other users alone", async () => {
        const users = [...DEV_USERS.map((u) => (u.id === ALICE ? { ...u, image: images.standinNext } : u)), CAROL];
        const steps = changed((await plan(users)).steps);
        expect(steps.map((s) => `${s.op} ${s.name}`)).toEqual([`update pug-user-${ALICE}`]);
        const othersBefore = await Promise.all([BOB, CAROL.id].map(async (id) => (await runningTasks(host.engine, tenantServiceName(id))).map((t) => t.id).sort()));
        const client = pollHealth(door, ALICE);
        // alice's serving tasks, sampled all along: never fewer than her replicas
        const serving: number[] = [];
        let sampling = true;
        const sampler = (async () => {
            while (sampling) {
                const tasks = await tasksOf(host.engine, tenantServiceName(ALICE));
                serving.push(tasks.filter((t) => t.DesiredState === "running" && t.Status.State === "running").length);
                await new Promise((r) => setTimeout(r, 500));
            }
        })();
        let polled: Polled;
        try {
            await up("up of a new image for one user", users);
            // the docker provider's convergeConfig returns once every task runs the new spec, not
            // when Swarm's rolling update (its monitor window included) has completed: wait for that
            await timed("rolling update of one user (3 replicas), after up returned", () => updateCompleted(host.engine, tenantServiceName(ALICE), 6 * 60_000));
        } finally {
            sampling = false;
            [polled] = await Promise.all([client.stop(), sampler]);
        }
        timings["slowest request through nginx during the update"] = polled.slowestMs / 1000;
        expect(polled.requests).toBeGreaterThan(100);
        expect(polled.failures).toEqual([]);
        expect(Math.min(...serving)).toBe(replicasOf(ALICE));
        // per replica slot, the new task ran before the old one stopped (start-first), and the slots
        // were replaced one after another, at least the service's update delay apart (parallelism 1)
        const history = await tasksOf(host.engine, tenantServiceName(ALICE));
        const started: number[] = [];
        for (let slot = 1; slot <= replicasOf(ALICE); slot++) {
            const fresh = history.find((t) => t.Slot === slot && t.Spec.ContainerSpec.Image === images.standinNext && t.Status.State === "running");
            const old = history.find((t) => t.Slot === slot && t.Spec.ContainerSpec.Image === images.standin && t.DesiredState === "shutdown");
            expect(taskTime(fresh), `slot ${slot}: new task running before the old one stopped`).toBeLessThanOrEqual(taskTime(old));
            started.push(taskTime(fresh));
        }
        started.sort((a, b) => a - b);
        const service = await host.engine.call("GET", `/services/${tenantServiceName(ALICE)}`);
        expect(service.Spec.UpdateConfig).toMatchObject({ Parallelism: 1, Order: "start-first" });
        for (let i = 1; i < started.length; i++) expect(started[i] - started[i - 1]).toBeGreaterThanOrEqual(service.Spec.UpdateConfig.Delay / 1e6);
        expect((await runningTasks(host.engine, tenantServiceName(ALICE))).map((t) => t.image)).toEqual(Array(replicasOf(ALICE)).fill(images.standinNext));
        expect((await get(door, ALICE, "api/health")).body.version).toBe(images.standinNext);
        const othersAfter = await Promise.all([BOB, CAROL.id].map(async (id) => (await runningTasks(host.engine, tenantServiceName(id))).map((t) => t.id).sort()));
        expect(othersAfter).toEqual(othersBefore);
    });

    it("refuses, through the real StackReference to itself, a user list that drops too many users, and changes nothing", async () => {
        const before = (await stack.resources()).map((r) => [r.urn, r.id]);
        // every user of the stack gone at once, a new one in their place: what a broken source gives
        const broken = [{ id: "dave" }];
        const preview = await plan(broken);
        expect(preview.result.code).not.toBe(0);
        expect(`${preview.result.stdout}${preview.result.stderr}`).toMatch(/would remove 3 of the 3 users the last update deployed/);
        const refused = await stack.up([], { allowFailure: true });
        engineOutput.push(refused);
        expect(refused.code).not.toBe(0);
        expect((await stack.resources()).map((r) => [r.urn, r.id])).toEqual(before);
        expect((await get(door, ALICE, "api/health")).status).toBe(200);
    });

    it("removes a user's service, secrets and route when the user leaves the list, and keeps the user's database and rows", async () => {
        const withoutBob = [...DEV_USERS.filter((u) => u.id !== BOB).map((u) => (u.id === ALICE ? { ...u, image: images.standinNext } : u)), CAROL];
        const resources = await stack.resources();
        const rowsBefore = await replicaStarts(resources, BOB);
        const bobsSecrets = ofType(resources, "docker:index/secret:Secret").filter((r) => r.urn.includes(`user-${BOB}`));
        expect(bobsSecrets.length).toBeGreaterThan(0);
        // the dev stack's one proxy task is replaced stop-first: alice's outage meanwhile is measured
        const client = pollHealth(door, ALICE);
        try {
            await up("up removing one user (proxy config update included)", withoutBob);
            await updateCompleted(host.engine, DEFAULT_PROXY_SERVICE_NAME, 3 * 60_000);
        } finally {
            timings["longest outage of alice while the proxy task is replaced (stop-first)"] = (await client.stop()).longestOutageMs / 1000;
        }
        expect(await host.engine.request("GET", `/services/${tenantServiceName(BOB)}`).then((r) => r.status)).toBe(404);
        for (const secret of bobsSecrets) expect(await host.engine.request("GET", `/secrets/${secret.id}`).then((r) => r.status), secret.name).toBe(404);
        const bob = await get(door, BOB, "api/health");
        expect(bob.status).toBe(404);
        expect(bob.headers["x-standin-user"]).toBeUndefined();
        expect(await liveUpgradeStatus(door, BOB)).toBe(404);
        // kept: the database and every row in it (the state no longer holds it: retainOnDelete)
        expect(await replicaStarts(resources, BOB)).toBe(rowsBefore);
        const aliceHealth = await get(door, ALICE, "api/health");
        expect(aliceHealth.status).toBe(200);
        expect(aliceHealth.headers["x-standin-user"]).toBe(ALICE);
    });

    it("never shows a password or secret in plain text: not in the state, the engine's output, a service spec or a config", async () => {
        const resources = await stack.resources();
        const secrets = [
            ...ofType(resources, "random:index/randomPassword:RandomPassword").map((r) => r.outputs.result as string),
            ...ofType(resources, "mysql:index/user:User").map((r) => r.outputs.plaintextPassword as string),
        ];
        expect(secrets.length).toBeGreaterThanOrEqual(4);
        const services = JSON.stringify(await host.engine.call("GET", "/services"));
        const configs = ((await host.engine.call("GET", "/configs")) as any[]).map((c) => Buffer.from(c.Spec.Data ?? "", "base64").toString("utf8")).join("\n");
        const places = {
            "the state (pulumi stack export)": await stack.exportText(),
            "pulumi's output": engineOutput.map((r) => `${r.stdout}\n${r.stderr}`).join("\n"),
            "the services' specs": services,
            "the Docker configs": configs,
        };
        for (const [where, text] of Object.entries(places)) {
            for (const secret of secrets) expect(text.includes(secret), `a secret in ${where}`).toBe(false);
        }
    });

    it("keeps every user's database and data when the stack is destroyed", async () => {
        const resources = await stack.resources();
        const volume = ofType(resources, "docker:index/volume:Volume")[0].outputs.name as string;
        await timed("destroy", () => stack.destroy());
        expect(await host.engine.call("GET", "/services")).toEqual([]);
        // the embedded MySQL is gone with the stack; its data volume stays, with every user's tables
        const listing = await host.engine.runOnce({
            // an image without an entrypoint of its own (MariaDB's would set the volume up)
            image: images.redis,
            command: ["sh", "-c", `ls ${[ALICE, BOB, CAROL.id].map((id) => `/var/lib/mysql/${tenantDatabaseName(id)}/standin_replica_start.frm`).join(" ")}`],
            volumes: { [volume]: "/var/lib/mysql" },
        });
        expect(listing.exitCode, listing.output).toBe(0);
    });
});
