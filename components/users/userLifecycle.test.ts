import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { derivedUserSecret } from "../tenantDatabase";
import { checkRestores } from "./userLifecycle";

describe("checkRestores", () => {
    it("refuses a restore of a user the list lacks, and notes one already managed", () => {
        expect(checkRestores(["acme", "globex", "initech"], ["acme", "globex"], ["globex"])).toEqual({
            problems: ['"initech" is not in the user list: add the user back to the source first'],
            warnings: ['"globex" is already managed by this stack: its restore is done, remove it from the key'],
        });
    });
});

describe("derivedUserSecret: secret_key and admin password that return with a user", () => {
    const purpose = fc.constantFrom("secret-key" as const, "admin-password" as const);
    const seed = fc.string({ minLength: 16, maxLength: 64 });
    const id = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);

    it("is the same for the same seed and user, whenever it is computed", () => {
        fc.assert(fc.property(seed, purpose, id, (s, p, u) => derivedUserSecret(s, p, u) === derivedUserSecret(`${s}`, p, `${u}`)));
    });

    it("differs between users, purposes and platforms", () => {
        fc.assert(
            fc.property(seed, seed, id, id, (s1, s2, u1, u2) => {
                fc.pre(s1 !== s2 && u1 !== u2);
                expect(derivedUserSecret(s1, "secret-key", u1)).not.toBe(derivedUserSecret(s1, "secret-key", u2));
                expect(derivedUserSecret(s1, "secret-key", u1)).not.toBe(derivedUserSecret(s2, "secret-key", u1));
                expect(derivedUserSecret(s1, "secret-key", u1)).not.toBe(derivedUserSecret(s1, "admin-password", u1));
            }),
        );
    });

    it("holds no character grafana.ini or Grafana's $__ expansion would misread", () => {
        fc.assert(fc.property(seed, purpose, id, (s, p, u) => /^[A-Za-z0-9_-]{43}$/.test(derivedUserSecret(s, p, u))));
    });
});
