import { beforeAll, describe, expect, it } from "vitest";
import { setupPulumiMocks, settled, type MockSetup } from "../test/harness/pulumiMocks";
import type * as dbModule from "./tenantDatabase";
import { SAFE_PASSWORD_SPECIALS } from "./specs/passwords";

let mocks: MockSetup;
let mod: typeof dbModule;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    mod = await import("./tenantDatabase");
    new mod.TenantDatabase("user-acme", { userId: "acme" });
    new mod.TenantDatabase("user-ac-me", { userId: "ac-me" });
    await settled();
});

const grantOf = (name: string) => mocks.one("mysql:index/grant:Grant", `${name}-grant`).inputs;

describe("TenantDatabase", () => {
    it("creates a utf8mb4 database and a DB user named after the user", () => {
        const db = mocks.one("mysql:index/database:Database", "user-ac-me-db").inputs;
        expect(db).toMatchObject({ name: "grafana_ac_me", defaultCharacterSet: "utf8mb4" });
        expect(mocks.one("mysql:index/user:User", "user-ac-me-user").inputs.user).toBe("grafana_ac_me");
    });

    it("grants the user's DB user on its own database only, with an explicit privilege list", () => {
        for (const [name, database] of [["user-acme", "grafana_acme"], ["user-ac-me", "grafana_ac_me"]]) {
            const grant = grantOf(name);
            expect(grant.database).toBe(database);
            expect(grant.user).toBe(database);
            expect(grant.table).toBe("*");
            expect(grant.privileges).not.toContain("ALL");
            expect(grant.privileges).not.toContain("ALL PRIVILEGES");
            expect(grant.privileges).not.toContain("GRANT OPTION");
            // what Grafana's migrations need
            expect(grant.privileges).toEqual(expect.arrayContaining(["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "DROP"]));
        }
        const databases = mocks.ofType("mysql:index/grant:Grant").map((g) => g.inputs.database);
        expect(databases).not.toContain("*");
    });

    it("keeps the database in MySQL when the resource is deleted", () => {
        for (const name of ["user-acme-db", "user-ac-me-db"]) {
            expect(mocks.one("mysql:index/database:Database", name).options.retainOnDelete).toBe(true);
        }
    });

    it("adopts an existing database by importing it, instead of failing to create it", () => {
        expect(mod.tenantDatabaseOptions("grafana_acme", true)).toEqual({ retainOnDelete: true, import: "grafana_acme" });
        expect(mod.tenantDatabaseOptions("grafana_acme", false)).toEqual({ retainOnDelete: true });
    });

    it("generates passwords without characters that break grafana.ini or $__ expansion", () => {
        const passwords = mocks.ofType("random:index/randomPassword:RandomPassword").map((r) => r.inputs);
        expect(passwords.length).toBe(6);
        for (const p of passwords) {
            expect(p.special).toBe(true);
            expect(p.overrideSpecial).toBe(SAFE_PASSWORD_SPECIALS);
            expect(p.length).toBeGreaterThanOrEqual(24);
        }
        for (const c of ["#", ";", "$", '"', "'", "\\", "`", " "]) expect(SAFE_PASSWORD_SPECIALS).not.toContain(c);
    });

    it("passes the generated DB password to MySQL as a secret", () => {
        const user = mocks.one("mysql:index/user:User", "user-acme-user");
        expect(user.secretPaths).toContain("plaintextPassword");
    });
});
