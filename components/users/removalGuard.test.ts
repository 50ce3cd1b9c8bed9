import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkRemovals, defaultRemovalBudget, previousActiveIds, previousTenantIds } from "./removalGuard";

const ids = (n: number, prefix = "user") => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

describe("defaultRemovalBudget", () => {
    it.each([
        [0, 2],
        [3, 2],
        [29, 2],
        [30, 3],
        [100, 10],
        [1234, 123],
    ])("allows max(2, 10%%) of %i users", (previous, budget) => {
        expect(defaultRemovalBudget(previous)).toBe(budget);
    });
});

describe("checkRemovals", () => {
    it("does not block a first deployment, even an empty one", () => {
        expect(checkRemovals({ previous: undefined, next: [], source: "pug:users" })).toEqual({ removed: [], deactivated: [], budget: 0, warnings: [] });
    });

    it("lets removals within the budget through, saying who goes", () => {
        const verdict = checkRemovals({ previous: ["acme", "globex", "initech"], next: ["acme"], source: "pug:users" });
        expect(verdict.refusal).toBeUndefined();
        expect(verdict.removed).toEqual(["globex", "initech"]);
        expect(verdict.warnings).toEqual(["this update removes 2 users (globex, initech): their Grafana services are deleted, their databases stay in MySQL"]);
    });

    it("refuses more removals than the budget, listing them and how to allow them", () => {
        const verdict = checkRemovals({ previous: ["acme", "globex", "initech", "umbrella"], next: ["acme"], source: "users.yaml" });
        expect(verdict.refusal).toBe(
            [
                "Refusing to remove users. users.yaml would remove 3 of the 4 users the last update deployed, more than the 2 a run may remove or deactivate unconfirmed (max(2, 10% of the previous users)).",
                "Would be removed (3): globex, initech, umbrella",
                "Their Grafana services would be deleted (their databases stay in MySQL). Nothing was changed.",
                "If the source is wrong, fix it. If the removal is intended, allow it for one run, then remove the key:",
                "  pulumi config set pug:allowRemovals globex,initech,umbrella",
                "  pulumi up",
                "  pulumi config rm pug:allowRemovals",
                "(pug:allowRemovals takes the ids to remove or deactivate, comma-separated, or a number: up to that many.)",
            ].join("\n"),
        );
    });

    it("refuses an empty list while users existed, even within the budget", () => {
        const verdict = checkRemovals({ previous: ["acme", "globex"], next: [], source: "https://users.example/api" });
        expect(verdict.refusal?.split("\n").slice(0, 2)).toEqual([
            "Refusing to remove users. https://users.example/api returned no users, while the last update deployed 2. An empty list is far more often a broken source than an intended change, so it is never applied unconfirmed.",
            "Would be removed (2): acme, globex",
        ]);
    });

    it("suggests a number when too many ids would have to be named", () => {
        const verdict = checkRemovals({ previous: ids(200), next: ids(100), source: "pug:users" });
        expect(verdict.refusal).toContain("  pulumi config set pug:allowRemovals 100\n");
        expect(verdict.refusal).toContain("Would be removed (100): user-101, user-102,");
        expect(verdict.refusal).toContain(", and 50 more\n");
    });

    it("lets named ids through and counts the others against the budget", () => {
        const previous = ids(10);
        const named = checkRemovals({ previous, next: ids(5), source: "s", allowance: { ids: ["user-6", "user-7", "user-8"] } });
        expect(named.refusal).toBeUndefined(); // 2 unnamed left: within the budget
        const short = checkRemovals({ previous, next: ids(5), source: "s", allowance: { ids: ["user-6", "user-7"] } });
        expect(short.refusal).toContain("Would be removed (5): user-6, user-7, user-8, user-9, user-10");
    });

    it("lets a number allow up to that many removals, an empty list included", () => {
        expect(checkRemovals({ previous: ids(10), next: ids(4), source: "s", allowance: { ids: [], count: 6 } }).refusal).toBeUndefined();
        expect(checkRemovals({ previous: ids(10), next: ids(3), source: "s", allowance: { ids: [], count: 6 } }).refusal).toBeDefined();
        expect(checkRemovals({ previous: ids(3), next: [], source: "s", allowance: { ids: [], count: 3 } }).refusal).toBeUndefined();
        expect(checkRemovals({ previous: ids(3), next: [], source: "s", allowance: { ids: ids(3) } }).refusal).toBeUndefined();
    });

    it("warns about an allowance left in place, and ids it names that are not removed", () => {
        const verdict = checkRemovals({ previous: ["acme", "globex"], next: ["acme"], source: "s", allowance: { ids: ["globex", "initech"] } });
        expect(verdict.warnings).toEqual([
            "pug:allowRemovals names initech, which this update does not remove",
            "pug:allowRemovals is set: remove it after this update (`pulumi config rm pug:allowRemovals`), or it goes on allowing removals in later runs",
            "this update removes 1 user (globex): their Grafana services are deleted, their databases stay in MySQL",
        ]);
        expect(checkRemovals({ previous: undefined, next: ["acme"], source: "s", allowance: { ids: [], count: 3 } }).warnings).toEqual([
            "pug:allowRemovals is set, but the stack has no previous update: there is nothing to remove; remove the key",
        ]);
    });

    it("does not count reordering as removal", () => {
        expect(checkRemovals({ previous: ["a", "b", "c", "d"], next: ["d", "c", "b", "a"], source: "s" })).toMatchObject({ removed: [], budget: 2, warnings: [] });
    });

    it("counts a user going from active to inactive as a removal, with the same budget and allowance", () => {
        const four = ["acme", "globex", "initech", "umbrella"];
        const verdict = checkRemovals({ previous: four, previousActive: four, next: four, nextInactive: ["globex", "initech", "umbrella"], source: "users.yaml" });
        expect(verdict.deactivated).toEqual(["globex", "initech", "umbrella"]);
        expect(verdict.refusal?.split("\n").slice(0, 3)).toEqual([
            "Refusing to remove users. users.yaml would remove 0 and deactivate 3 of the 4 users the last update deployed, more than the 2 a run may remove or deactivate unconfirmed (max(2, 10% of the previous users)).",
            "Would be deactivated (3): globex, initech, umbrella",
            "Their Grafana services would be deleted (their databases stay in MySQL). Nothing was changed.",
        ]);
        expect(verdict.refusal).toContain("  pulumi config set pug:allowRemovals globex,initech,umbrella\n");
        const allowed = checkRemovals({ previous: four, previousActive: four, next: four, nextInactive: ["globex", "initech", "umbrella"], source: "s", allowance: { ids: ["globex", "initech", "umbrella"] } });
        expect(allowed.refusal).toBeUndefined();
        expect(allowed.warnings).toContain("this update deactivates 3 users (globex, initech, umbrella): their Grafana services are deleted, their databases stay in MySQL");
        const withinBudget = checkRemovals({ previous: four, previousActive: four, next: ["acme", "globex", "initech"], nextInactive: ["globex"], source: "s" });
        expect([withinBudget.refusal, withinBudget.removed, withinBudget.deactivated]).toEqual([undefined, ["umbrella"], ["globex"]]);
    });

    it("refuses deactivating every user, even within the budget, like an empty list", () => {
        const verdict = checkRemovals({ previous: ["acme", "globex"], previousActive: ["acme", "globex"], next: ["acme", "globex"], nextInactive: ["acme", "globex"], source: "https://users.example/api" });
        expect(verdict.refusal?.split("\n").slice(0, 2)).toEqual([
            "Refusing to remove users. https://users.example/api marks every user inactive, while the last update ran the Grafanas of 2. That is far more often a broken source than an intended change, so it is never applied unconfirmed.",
            "Would be deactivated (2): acme, globex",
        ]);
        expect(checkRemovals({ previous: ["acme", "globex"], previousActive: ["acme", "globex"], next: ["acme", "globex"], nextInactive: ["acme", "globex"], source: "s", allowance: { ids: [], count: 2 } }).refusal).toBeUndefined();
    });

    it("does not count a user who was inactive already, or one coming back", () => {
        const verdict = checkRemovals({ previous: ["a", "b", "c", "d"], previousActive: ["a"], next: ["a", "b", "c", "d"], nextInactive: ["b", "c", "d"], source: "s" });
        expect(verdict).toEqual({ removed: [], deactivated: [], budget: 2, warnings: [] });
        expect(checkRemovals({ previous: ["a", "b"], previousActive: [], next: ["a", "b"], nextInactive: ["a", "b"], source: "s" }).refusal).toBeUndefined();
    });

    it("follows the rule for any previous and next lists, active or not (model check)", () => {
        const universe = ids(40, "u");
        const list = fc.subarray(universe);
        const allowance = fc.option(fc.record({ ids: fc.subarray(universe, { maxLength: 10 }), count: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }) }), { nil: undefined });
        fc.assert(
            fc.property(list, list, fc.subarray(universe), fc.subarray(universe), allowance, (previous, next, activeBefore, inactiveAfter, allow) => {
                const previousActive = previous.filter((id) => activeBefore.includes(id));
                const nextInactive = next.filter((id) => inactiveAfter.includes(id));
                const verdict = checkRemovals({ previous, previousActive, next, nextInactive, source: "s", allowance: allow });
                const removed = previous.filter((id) => !next.includes(id));
                const deactivated = previousActive.filter((id) => nextInactive.includes(id));
                const unnamed = [...removed, ...deactivated].filter((id) => !(allow?.ids ?? []).includes(id)).length;
                const count = allow?.count ?? 0;
                const noneActive = next.every((id) => nextInactive.includes(id));
                const emptied = previous.length > 0 && noneActive && (next.length === 0 || previousActive.length > 0);
                const blocked = emptied ? unnamed > count : unnamed > Math.max(2, Math.floor(previous.length / 10), count);
                expect(verdict.removed).toEqual(removed);
                expect(verdict.deactivated).toEqual(deactivated);
                expect(verdict.refusal !== undefined).toBe(blocked);
                if (blocked) for (const id of [...removed, ...deactivated].slice(0, 50)) expect(verdict.refusal).toContain(id);
            }),
            { numRuns: 1000 },
        );
    });
});

describe("previousActiveIds", () => {
    it("reads activeTenants, or the keys of urls from an update made before activeTenants existed", () => {
        expect(previousActiveIds(["acme"], { acme: "u", globex: "u" })).toEqual(["acme"]);
        expect(previousActiveIds(undefined, { acme: "u", globex: "u" })).toEqual(["acme", "globex"]);
        expect(previousActiveIds(undefined, undefined)).toBeUndefined();
        expect(() => previousActiveIds({ acme: true }, undefined)).toThrow("the last update's `activeTenants` output is not a list of user ids");
    });
});

describe("previousTenantIds", () => {
    it("reads a missing output as a first deployment, and a list as ids", () => {
        expect(previousTenantIds(undefined)).toBeUndefined();
        expect(previousTenantIds(["acme"])).toEqual(["acme"]);
    });

    it("refuses an output it cannot read, rather than letting the guard pass", () => {
        expect(() => previousTenantIds({ acme: true })).toThrow("the last update's `tenants` output is not a list of user ids");
        expect(() => previousTenantIds(["acme", 3])).toThrow("not a list of user ids");
    });
});
