/**
 * The stack program (index.ts) under Pulumi's mocks, with each user source end to end (the HTTP
 * one against a real server on 127.0.0.1), the mass-removal guard reading the stack's own last
 * outputs through a mocked StackReference, and the lifecycle of a user: deactivated, removed,
 * restored. A refused or malformed run must register no resource at all.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantDatabaseName } from "../components/specs/naming";
import { derivedUserSecret } from "../components/tenantDatabase";
import { setConfig, settled, setupPulumiMocks, type MockSetup, type MockOptions } from "./harness/pulumiMocks";
import { json, reply, startLoopbackServer, type Handler, type LoopbackServer } from "./harness/loopbackServer";
import { loadStackFile, PROJECT_ROOT } from "./harness/stackFiles";

const SELF = "organization/pug/test";
const SERVICE = "docker:index/service:Service";
const DATABASE = "mysql:index/database:Database";

let main: () => Promise<Record<string, unknown>>;
let mocks: MockSetup;

/** Runs the stack program once with this configuration and these outputs of the last update. */
async function run(
    config: Record<string, unknown>,
    opts: { previous?: string[]; previousOutputs?: Record<string, unknown>; secretKeys?: string[]; mock?: MockOptions } = {},
): Promise<{ outputs?: Record<string, unknown>; error?: Error }> {
    const previous: Record<string, Record<string, unknown>> = opts.previous ? { [SELF]: { tenants: opts.previous, activeTenants: opts.previous, ...opts.previousOutputs } } : {};
    mocks = await setupPulumiMocks({ stackOutputs: previous, ...opts.mock });
    setConfig({ "pug:domain": "grafana.test", ...config }, opts.secretKeys);
    try {
        const outputs = await main();
        await settled();
        return { outputs };
    } catch (error) {
        await settled();
        return { error: error as Error };
    }
}

const serviceNames = () => mocks.ofType(SERVICE).map((s) => s.inputs.name as string).filter((n) => n.startsWith("grafana-")).sort();

let api: LoopbackServer;

beforeAll(async () => {
    await setupPulumiMocks();
    main = (await import("../index")).default;
    api = await startLoopbackServer();
});
afterAll(() => api.close());

describe("each user source, end to end", () => {
    it("inline: the dev stack's list", async () => {
        const dev = loadStackFile("dev");
        const { outputs, error } = await run(dev.config, { secretKeys: dev.secretKeys });
        expect(error).toBeUndefined();
        expect(outputs?.tenants).toEqual(["alice", "bob"]);
        expect(serviceNames()).toEqual(["grafana-alice", "grafana-bob"]);
    });

    it("file: a YAML list relative to the project root", async () => {
        const { outputs, error } = await run({ "pug:users": { file: "test/fixtures/users.yaml" } });
        expect(error).toBeUndefined();
        expect(outputs?.tenants).toEqual(["acme", "globex", "initech"]);
        expect(serviceNames()).toEqual(["grafana-acme", "grafana-globex"]);
        const globex = mocks.ofType(SERVICE).find((s) => s.inputs.name === "grafana-globex")!;
        expect(globex.inputs.taskSpec.containerSpec.image).toBe("grafana/grafana:11.6.0");
        expect(globex.inputs.mode.replicated.replicas).toBe(2);
    });

    it("url: the platform's API, with the token from a secret that reaches no resource", async () => {
        const token = "pug-api-token-7c1e29";
        api.handler = json(200, [{ id: "acme" }, { id: "hooli", theme: "light" }]);
        api.requests.length = 0;
        const { outputs, error } = await run({ "pug:users": { url: `${api.base}/v1/grafana-users`, token, timeoutMs: 2000 } }, { secretKeys: ["pug:users"] });
        expect(error).toBeUndefined();
        expect(api.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${token}`]);
        expect(outputs?.tenants).toEqual(["acme", "hooli"]);
        expect(serviceNames()).toEqual(["grafana-acme", "grafana-hooli"]);
        expect(JSON.stringify(mocks.resources)).not.toContain(token);
        expect(JSON.stringify(outputs)).not.toContain(token);
    });
});

describe("a malformed source or setting registers nothing", () => {
    it.each<[string, Record<string, unknown>, string]>([
        ["a bad entry inline", { "pug:users": [{ id: "acme" }, { id: "ac-me", replicas: 0 }] }, 'pug:users: entry 2 (id "ac-me"): replicas must be a whole number >= 1'],
        ["a typo in a record", { "pug:users": [{ id: "acme", tehme: "dark" }] }, 'pug:users: entry 1 (id "acme"): tehme is not a known field (did you mean "theme"?)'],
        ["a managed setting", { "pug:users": [{ id: "acme", settings: { database: { host: "x:1" } } }] }, 'pug:users: entry 1 (id "acme"): settings.database.host is refused (Grafana reads it as GF_DATABASE_HOST)'],
        ["a missing file", { "pug:users": { file: "test/fixtures/nope.yaml" } }, "test/fixtures/nope.yaml: cannot read the user list"],
        ["a plain string", { "pug:users": "users.yaml" }, 'pug:users: must be a list of user records, { file: "users.yaml" } or { url: "https://...", token?, timeoutMs? } (got a string)'],
        ["an unknown source shape", { "pug:users": { path: "users.yaml" } }, 'pug:users: must be a list of user records, { file: "users.yaml" } or { url: "https://...", token?, timeoutMs? }'],
        ["a bad allowance", { "pug:users": [{ id: "acme" }], "pug:allowRemovals": "acme globex" }, 'pug:allowRemovals: "acme globex" is not a user id'],
        ["a restore of a user not in the list", { "pug:users": [{ id: "acme" }], "pug:restoreUsers": "globex" }, 'pug:restoreUsers: "globex" is not in the user list'],
        ["an invalid default image", { "pug:users": [{ id: "acme" }], "pug:grafana": { image: "grafana/Grafana" } }, 'pug:grafana: image: "grafana/Grafana" is not a valid image reference'],
        [
            "a key given twice in an inline list set as JSON text",
            { "pug:users": '[{"id": "acme", "theme": "dark", "theme": "light"}]' },
            'pug:users: line 1, column 34: "theme" is given twice in one object (which one counts would be left to the parser)',
        ],
        ["a key given twice in a setting set as JSON text", { "pug:users": [{ id: "acme" }], "pug:proxy": '{"auth": "grafana", "auth": "jwt"}' }, 'pug:proxy: line 1, column 21: "auth" is given twice in one object'],
        ["more replicas than the bound", { "pug:users": [{ id: "acme", replicas: 12 }] }, 'pug:users: entry 1 (id "acme"): replicas must be at most 10 (pug:grafana.maxReplicas)'],
        ["more replicas than a configured bound", { "pug:users": [{ id: "acme", replicas: 5 }], "pug:grafana": { maxReplicas: 4 } }, 'pug:users: entry 1 (id "acme"): replicas must be at most 4 (pug:grafana.maxReplicas)'],
        ["a default above the bound", { "pug:users": [{ id: "acme" }], "pug:grafana": { replicas: 12 } }, "pug:grafana: replicas: must be at most maxReplicas (10)"],
    ])("%s", async (_, config, message) => {
        const { error } = await run(config, { previous: ["acme"] });
        expect(error?.message).toContain(message);
        expect(mocks.resources).toEqual([]);
    });

    it.each<[string, Handler, string]>([
        ["an API refusing the token", reply(401, undefined), "answered 401 Unauthorized: the token was refused"],
        ["an API answering a sign-in page", reply(200, "text/html", "<html>login</html>"), "answered with an HTML page"],
        ["an API answering an object", json(200, { users: [] }), "not a list of user records"],
        ["an API answering a bad entry", json(200, [{ id: "ACME" }]), '/v1/users: entry 1 (id "ACME"): id must be'],
    ])("%s", async (_, answer, message) => {
        api.handler = answer;
        const { error } = await run({ "pug:users": { url: `${api.base}/v1/users`, token: "t0k3n-abc" } }, { previous: ["acme"], secretKeys: ["pug:users"] });
        expect(error?.message).toContain(message);
        expect(error?.message).not.toContain("t0k3n-abc");
        expect(mocks.resources).toEqual([]);
    });
});

describe("the mass-removal guard in the stack program", () => {
    const four = ["acme", "globex", "initech", "umbrella"];

    it("blocks a list that removes more than the budget, registering nothing", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }] }, { previous: four });
        expect(error?.message).toContain("Refusing to remove users. pug:users would remove 3 of the 4 users the last update deployed");
        expect(error?.message).toContain("Would be removed (3): globex, initech, umbrella");
        expect(error?.message).toContain("pulumi config set pug:allowRemovals globex,initech,umbrella");
        expect(mocks.resources).toEqual([]);
    });

    it("allows the same removal when pug:allowRemovals names the users", async () => {
        const { outputs, error } = await run({ "pug:users": [{ id: "acme" }], "pug:allowRemovals": "globex,initech,umbrella" }, { previous: four });
        expect(error).toBeUndefined();
        expect(outputs?.tenants).toEqual(["acme"]);
        expect(serviceNames()).toEqual(["grafana-acme"]);
    });

    it("allows it with a number of removals", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }], "pug:allowRemovals": 3 }, { previous: four });
        expect(error).toBeUndefined();
        expect(serviceNames()).toEqual(["grafana-acme"]);
    });

    it("lets a removal within the budget through", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }, { id: "globex" }] }, { previous: four });
        expect(error).toBeUndefined();
        expect(serviceNames()).toEqual(["grafana-acme", "grafana-globex"]);
    });

    it("blocks an empty list while users existed, and allows it when confirmed", async () => {
        const blocked = await run({ "pug:users": { file: "test/fixtures/empty-users.yaml" } }, { previous: ["acme"] });
        expect(blocked.error?.message).toContain("test/fixtures/empty-users.yaml returned no users, while the last update deployed 1.");
        expect(mocks.resources).toEqual([]);
        const allowed = await run({ "pug:users": { file: "test/fixtures/empty-users.yaml" }, "pug:allowRemovals": "acme" }, { previous: ["acme"] });
        expect(allowed.error).toBeUndefined();
        expect(allowed.outputs?.tenants).toEqual([]);
    });

    it("blocks deactivating every user, registering nothing, and allows it when confirmed", async () => {
        const inactive = four.map((id) => ({ id, active: false }));
        const blocked = await run({ "pug:users": inactive }, { previous: four });
        expect(blocked.error?.message).toContain("pug:users marks every user inactive, while the last update ran the Grafanas of 4.");
        expect(blocked.error?.message).toContain("Would be deactivated (4): acme, globex, initech, umbrella");
        expect(mocks.resources).toEqual([]);
        const allowed = await run({ "pug:users": inactive, "pug:allowRemovals": four.join(",") }, { previous: four });
        expect(allowed.error).toBeUndefined();
        expect(allowed.outputs?.activeTenants).toEqual([]);
        expect(serviceNames()).toEqual([]);
    });

    it("exports who is active, and reads it back as the previous active users", async () => {
        const { outputs } = await run({ "pug:users": [{ id: "acme" }, { id: "globex", active: false }] });
        expect([outputs?.tenants, outputs?.activeTenants]).toEqual([["acme", "globex"], ["acme"]]);
        // globex was inactive already: deactivating initech and umbrella is within the budget
        const { error } = await run({ "pug:users": four.map((id) => ({ id, active: id === "acme" })) }, { previous: four, previousOutputs: { activeTenants: ["acme", "initech", "umbrella"] } });
        expect(error).toBeUndefined();
    });

    it("takes the active users from the urls output of an update made before activeTenants existed", async () => {
        const urls = Object.fromEntries(four.map((id) => [id, `https://grafana.test/${id}/grafana/`]));
        const { error } = await run({ "pug:users": four.map((id) => ({ id, active: id === "acme" })) }, { previous: four, previousOutputs: { activeTenants: undefined, urls } });
        expect(error?.message).toContain("Would be deactivated (3): globex, initech, umbrella");
        expect(mocks.resources).toEqual([]);
    });

    it("does not block a first deployment (no previous outputs)", async () => {
        const { outputs, error } = await run({ "pug:users": [] });
        expect(error).toBeUndefined();
        expect(outputs?.tenants).toEqual([]);
    });

    it("reads previous ids the last update marked secret", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }] }, { previous: four, mock: { stackSecretOutputs: { [SELF]: ["tenants"] } } });
        expect(error?.message).toContain("Would be removed (3): globex, initech, umbrella");
        expect(mocks.resources).toEqual([]);
    });

    it("blocks in preview as in up, so a pull request's preview fails", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }] }, { previous: four, mock: { preview: true } });
        expect(error?.message).toContain("Refusing to remove users.");
        expect(mocks.resources).toEqual([]);
    });

    it("reads the stack itself under its organization, project and stack names", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }] }, { previous: four, mock: { organization: "platform-team", stack: "prod", stackOutputs: { "platform-team/pug/prod": { tenants: four } } } });
        expect(error?.message).toContain("Would be removed (3)");
    });
});

describe("subdomain mode (pug:urlMode)", () => {
    it("gives every user an origin of their own, through the proxy, the monitoring and the outputs", async () => {
        const { outputs, error } = await run({ "pug:urlMode": "subdomain", "pug:users": [{ id: "acme" }, { id: "globex" }] });
        expect(error).toBeUndefined();
        expect(outputs?.urls).toEqual({ acme: "https://acme.grafana.test/", globex: "https://globex.grafana.test/" });
        const acme = mocks.ofType(SERVICE).find((s) => s.inputs.name === "grafana-acme")!;
        expect(acme.inputs.taskSpec.containerSpec.env.GF_SERVER_ROOT_URL).toBe("https://acme.grafana.test/");
        const config = (prefix: string) =>
            mocks
                .ofType("docker:index/serviceConfig:ServiceConfig")
                .filter((c) => (c.inputs.name as string).startsWith(prefix))
                .map((c) => Buffer.from(c.inputs.data as string, "base64").toString("utf8"))[0];
        expect(config("pug-proxy-nginx-conf")).toContain("map $host $pug_user");
        expect(config("pug-prometheus-config")).toContain("metrics_path: /metrics");
    });

    it("keeps path mode the default, and refuses another mode", async () => {
        expect((await run({ "pug:users": [{ id: "acme" }] })).outputs?.urls).toEqual({ acme: "https://grafana.test/acme/grafana/" });
        const { error } = await run({ "pug:urlMode": "subdomains", "pug:users": [{ id: "acme" }] });
        expect(error?.message).toContain('pug:urlMode: must be "path" (https://DOMAIN/<id>/grafana/, the default) or "subdomain" (https://<id>.DOMAIN/)');
        expect(mocks.resources).toEqual([]);
    });
});

describe("a user's lifecycle", () => {
    it("deactivated: the service goes, the database, DB user and grant stay declared and retained", async () => {
        const { outputs, error } = await run({ "pug:users": [{ id: "acme" }, { id: "initech", active: false }] }, { previous: ["acme", "initech"] });
        expect(error).toBeUndefined();
        expect(outputs?.tenants).toEqual(["acme", "initech"]);
        expect(serviceNames()).toEqual(["grafana-acme"]);
        expect(mocks.ofType("pug:grafana:GrafanaTenant").map((r) => r.name)).toEqual(["pug-user-acme"]);
        const db = mocks.one(DATABASE, "pug-user-initech-db");
        expect(db.inputs.name).toBe(tenantDatabaseName("initech"));
        expect(db.options.retainOnDelete).toBe(true);
        expect(mocks.one("mysql:index/user:User", "pug-user-initech-user").inputs.user).toBe("grafana_initech");
        expect(mocks.one("mysql:index/grant:Grant", "pug-user-initech-grant").inputs.database).toBe("grafana_initech");
    });

    it("every user's database is retained when its resource leaves the stack", async () => {
        await run({ "pug:users": { file: "test/fixtures/users.yaml" } });
        const databases = mocks.ofType(DATABASE);
        expect(databases.map((d) => d.inputs.name).sort()).toEqual(["grafana_acme", "grafana_globex", "grafana_initech"]);
        for (const db of databases) expect(db.options.retainOnDelete).toBe(true);
    });

    it("restored: the existing database is imported, not created; the others are created", async () => {
        const { error } = await run({ "pug:users": [{ id: "acme" }, { id: "globex" }], "pug:restoreUsers": "globex" }, { previous: ["acme"] });
        expect(error).toBeUndefined();
        expect(mocks.one(DATABASE, "pug-user-globex-db").options.importId).toBe("grafana_globex");
        expect(mocks.one(DATABASE, "pug-user-acme-db").options.importId).toBeUndefined();
        expect(serviceNames()).toEqual(["grafana-acme", "grafana-globex"]);
    });

    it("the secret_key and admin password come from the platform's seed and the user id, so they return with the user", async () => {
        await run({ "pug:users": [{ id: "acme" }, { id: "globex" }] });
        const seed = mocks.one("random:index/randomPassword:RandomPassword", "pug-secret-seed").state.result as string;
        const secretData = (id: string, file: string) => {
            const secret = mocks.ofType("docker:index/secret:Secret").find((s) => s.name === `pug-user-${id}-${file}`)!;
            expect(secret.secretPaths).toContain("data");
            return Buffer.from(secret.inputs.data as string, "base64").toString("utf8");
        };
        for (const id of ["acme", "globex"]) {
            expect(secretData(id, "grafana-secret-key")).toBe(derivedUserSecret(seed, "secret-key", id));
            expect(secretData(id, "grafana-admin-password")).toBe(derivedUserSecret(seed, "admin-password", id));
        }
        expect(secretData("acme", "grafana-secret-key")).not.toBe(secretData("globex", "grafana-secret-key"));
        // No per-user random secret remains that a removal would lose.
        const randoms = mocks.ofType("random:index/randomPassword:RandomPassword").map((r) => r.name);
        expect(randoms.filter((n) => n.startsWith("pug-user-acme-"))).toEqual(["pug-user-acme-db-password"]);
    });
});

describe("the user keys in the project file", () => {
    it("are declared with a description, as `pulumi config` shows them", () => {
        const project = parse(readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")) as { template: { config: Record<string, { description?: string }> } };
        for (const key of ["pug:users", "pug:allowRemovals", "pug:restoreUsers"]) expect(project.template.config[key]?.description, key).toMatch(/\w/);
    });
});
