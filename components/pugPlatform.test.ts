/**
 * PugPlatform driven directly, as a team importing PUG drives it (no stack config in between):
 * what it registers per user, what it keeps, and what it refuses before registering anything.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { settled, setupPulumiMocks, type MockSetup } from "../test/harness/pulumiMocks";
import type * as platformModule from "./pugPlatform";
import type { GrafanaSettings } from "./tenantSettings";
import type { UserRecord } from "./users";

let mocks: MockSetup;
let p: typeof platformModule;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    p = await import("./pugPlatform");
});
beforeEach(() => mocks.reset());

const user = (id: string, extra: Partial<UserRecord> = {}): UserRecord => ({ id, active: true, ...extra });
const platform = (name: string, users: UserRecord[], extra: Partial<platformModule.PugPlatformArgs> = {}) =>
    new p.PugPlatform(name, { domain: "metrics.example.org", users, monitoring: { enabled: false }, ...extra });

describe("PugPlatform", () => {
    it("gives each active user a Grafana service and a database of its own, at the user's URL", async () => {
        const pug = platform("pug", [user("alice"), user("bob", { replicas: 2 })]);
        await settled();
        expect(pug.urls).toEqual({ alice: "https://metrics.example.org/alice/grafana/", bob: "https://metrics.example.org/bob/grafana/" });
        const services = mocks.ofType("docker:index/service:Service").filter((s) => s.inputs.labels.some((l: { value: string }) => l.value === "grafana"));
        expect(services.map((s) => [s.inputs.name, s.inputs.mode.replicated.replicas]).sort()).toEqual([
            ["grafana-alice", 3],
            ["grafana-bob", 2],
        ]);
        const databases = mocks.ofType("mysql:index/database:Database");
        expect(databases.map((d) => d.inputs.name).sort()).toEqual(["grafana_alice", "grafana_bob"]);
        // a database outlives its user's removal from the list, and the stack
        for (const d of databases) expect(d.options.retainOnDelete, d.name).toBe(true);
    });

    it("keeps an inactive user's database and declares no Grafana for it", async () => {
        const pug = platform("pug", [user("alice"), user("bob", { active: false })]);
        await settled();
        expect(pug.activeTenants).toEqual(["alice"]);
        expect(mocks.ofType("docker:index/service:Service").map((s) => s.inputs.name)).not.toContain("grafana-bob");
        expect(mocks.ofType("mysql:index/database:Database").map((d) => d.inputs.name).sort()).toEqual(["grafana_alice", "grafana_bob"]);
    });

    it("refuses a bad user record, naming the user and the field, before registering anything", async () => {
        expect(() => platform("pug", [user("alice"), user("bob", { replicas: 0 })])).toThrow(/bob.*replicas/);
        expect(() => platform("pug", [user("alice"), user("alice")])).toThrow(/alice/);
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("refuses a setting that would open a user's Grafana, in any spelling Grafana reads", async () => {
        const spellings: GrafanaSettings[] = [{ "auth.proxy": { enabled: true } }, { auth: { "proxy.enabled": true } }, { AUTH_PROXY: { ENABLED: true } }];
        for (const settings of spellings) {
            expect(() => platform("pug", [user("mallory", { settings })]), JSON.stringify(settings)).toThrow(/mallory/);
        }
        await settled();
        expect(mocks.resources).toEqual([]);
    });
});
