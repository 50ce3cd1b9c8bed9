/**
 * Every name PUG derives from a user id must tell users apart for every pair of valid ids, ids
 * crafted to look like another id's shortened (hashed) name included: two users sharing a DB user,
 * a Docker secret or a Redis prefix share what that name guards.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dockerObjectName } from "../dockerObjects";
import {
    tenantDatabaseName,
    tenantDatabaseUser,
    tenantJwtAudience,
    tenantObjectName,
    tenantPath,
    tenantRedisPrefix,
    tenantServiceName,
    tenantUrl,
} from "./naming";
import { RESERVED_USER_IDS, USER_ID_PATTERN } from "../users/users";

const PURPOSES = ["db", "admin", "key", "ds"] as const;

/** Every name derived from one id, by family; a family is one namespace where names must not meet. */
const families: Record<string, (id: string) => string[]> = {
    service: (id) => [tenantServiceName(id)],
    database: (id) => [tenantDatabaseName(id)],
    databaseUser: (id) => [tenantDatabaseUser(id)],
    redisPrefix: (id) => [tenantRedisPrefix(id)],
    jwtAudience: (id) => [tenantJwtAudience(id)],
    path: (id) => [tenantPath(id)],
    url: (id) => [tenantUrl("grafana.example.com", id)],
    // one namespace for a user's secrets and configs of every purpose, named as Docker sees them
    dockerObject: (id) => PURPOSES.map((purpose) => dockerObjectName(tenantObjectName(id, purpose), "same content")),
};

const validId = fc.oneof(
    fc.stringMatching(USER_ID_PATTERN),
    // long ids, where shortened names start
    fc.stringMatching(/^[a-z][a-z0-9-]{23,38}[a-z0-9]$/),
).filter((id) => USER_ID_PATTERN.test(id) && !Object.hasOwn(RESERVED_USER_IDS, id));

/**
 * A valid id chosen to look like another's shortened names: the DB user of a long id, read back
 * as an id (its `_` as `-`), so that the plain name of the one is the hashed name of the other.
 */
const lookAlikes = fc
    .stringMatching(/^[a-z][a-z0-9-]{24,38}[a-z0-9]$/)
    .map((long) => [long, tenantDatabaseUser(long).replace(/^grafana_/, "").replace(/_/g, "-")])
    .filter(([, short]) => USER_ID_PATTERN.test(short));

describe("names derived from a user id", () => {
    it("differ for any two valid ids, in every family", () => {
        fc.assert(
            fc.property(fc.uniqueArray(validId, { minLength: 2, maxLength: 8 }), lookAlikes, (some, pair) => {
                const ids = [...new Set([...some, ...pair])];
                for (const [family, names] of Object.entries(families)) {
                    const all = ids.flatMap(names);
                    expect(new Set(all).size, family).toBe(all.length);
                }
            }),
            { numRuns: 500 },
        );
    });

    it("keep a short id from taking the DB user of the long id it imitates", () => {
        const long = "abcdefghijk-lmnopqrstuvwxyz";
        const imitation = tenantDatabaseUser(long).replace(/^grafana_/, "").replace(/_/g, "-");
        expect(imitation).toMatch(USER_ID_PATTERN);
        expect(tenantDatabaseUser(imitation)).not.toBe(tenantDatabaseUser(long));
    });

    it("stay as they were for the ids that did not imitate a shortened name (renaming a DB user loses its access)", () => {
        expect(tenantDatabaseUser("acme")).toBe("grafana_acme");
        expect(tenantDatabaseUser("abcdefghijklmnopqrstuvwx")).toBe("grafana_abcdefghijklmnopqrstuvwx");
        expect(tenantDatabaseUser("a-very-long-customer-identifier-0123")).toBe("grafana_a_very_long_fb547f1fa07e");
        expect(tenantDatabaseUser("x".repeat(40))).toBe("grafana_xxxxxxxxxxx_7d88b30efc56");
        expect(tenantDatabaseUser("abcdefghijklmnopqrstuvwxy")).toBe("grafana_abcdefghijk_08f126b18b5f");
    });

    it("fit MySQL's 32 characters for a DB user and Docker's 64 for an object, so nothing is cut", () => {
        fc.assert(
            fc.property(validId, (id) => {
                expect(tenantDatabaseUser(id).length).toBeLessThanOrEqual(32);
                for (const name of families.dockerObject(id)) expect(name.length).toBeLessThanOrEqual(64);
            }),
        );
    });
});
