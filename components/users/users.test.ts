import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dockerObjectName } from "../dockerObjects";
import { GRAFANA_SECRET_FILES } from "../grafanaTenant";
import { TENANT_SETTINGS } from "../specs/tenantSettings";
import { tenantDatabaseName, tenantDatabaseUser, tenantRedisPrefix, tenantServiceName } from "../specs/naming";
import { parseUserList, RESERVED_USER_IDS, USER_ID_PATTERN, USER_RECORD_FIELDS, type UserRecordInput } from "./users";
import { InvalidInputError } from "../validation";

/** The problems parseUserList reports, one per line; [] when the list is accepted. */
function problemsOf(source: string, raw: unknown): string[] {
    try {
        parseUserList(source, raw);
        return [];
    } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError);
        return (err as InvalidInputError).problems;
    }
}

const ID_RULE = "must be a lowercase letter, then lowercase letters, digits or dashes, not ending with a dash, at most 40 characters";

describe("parseUserList: messages name the source, the entry and the field", () => {
    it.each<[string, unknown[], string[]]>([
        ["replicas below one", [{ id: "a" }, { id: "ac-me", replicas: 0 }], ['users.yaml: entry 2 (id "ac-me"): replicas must be a whole number >= 1']],
        ["fractional replicas", [{ id: "ac-me", replicas: 2.5 }], ['users.yaml: entry 1 (id "ac-me"): replicas must be a whole number >= 1']],
        ["replicas as a string", [{ id: "ac-me", replicas: "3" }], ['users.yaml: entry 1 (id "ac-me"): replicas must be a whole number >= 1']],
        ["a missing id", [{ theme: "dark" }], ["users.yaml: entry 1: id is required"]],
        ["a numeric id", [{ id: 42 }], ["users.yaml: entry 1: id must be a string (got a number)"]],
        ["an upper-case id", [{ id: "AcMe" }], [`users.yaml: entry 1 (id "AcMe"): id ${ID_RULE}`]],
        ["an id ending with a dash", [{ id: "acme-" }], [`users.yaml: entry 1 (id "acme-"): id ${ID_RULE}`]],
        ["an id starting with a digit", [{ id: "1acme" }], [`users.yaml: entry 1 (id "1acme"): id ${ID_RULE}`]],
        ["an id of 41 characters", [{ id: "a".repeat(41) }], [`users.yaml: entry 1 (id "${"a".repeat(41)}"): id ${ID_RULE}`]],
        ["a reserved id", [{ id: "healthz" }], ['users.yaml: entry 1 (id "healthz"): id is reserved: the front proxy answers its own health check at /healthz']],
        ["an nginx map word", [{ id: "default" }], ['users.yaml: entry 1 (id "default"): id is reserved: a special word of the nginx map that routes user ids']],
        ["a duplicate", [{ id: "acme" }, { id: "bob" }, { id: "acme" }], ['users.yaml: entry 3 (id "acme"): id duplicates entry 1']],
        [
            "a duplicate differing only in case",
            [{ id: "acme" }, { id: "ACME" }],
            [`users.yaml: entry 2 (id "ACME"): id ${ID_RULE}`, 'users.yaml: entry 2 (id "ACME"): id duplicates entry 1 ("acme" and "ACME" differ only in case)'],
        ],
        ["a typo in a field", [{ id: "acme", tehme: "dark" }], ['users.yaml: entry 1 (id "acme"): tehme is not a known field (did you mean "theme"?)']],
        ["a field in the wrong case", [{ id: "acme", Replicas: 2 }], ['users.yaml: entry 1 (id "acme"): Replicas is not a known field (did you mean "replicas"?)']],
        [
            "an unknown field far from any known one",
            [{ id: "acme", colour: "blue" }],
            [`users.yaml: entry 1 (id "acme"): colour is not a known field (known fields: ${USER_RECORD_FIELDS.join(", ")})`],
        ],
        ["active as a string", [{ id: "acme", active: "no" }], ['users.yaml: entry 1 (id "acme"): active must be true or false (got a string)']],
        ["a theme outside the three", [{ id: "acme", theme: "blue" }], ['users.yaml: entry 1 (id "acme"): theme must be one of light, dark, system (got "blue")']],
        [
            "an invalid image",
            [{ id: "acme", image: "grafana/Grafana:12" }],
            ['users.yaml: entry 1 (id "acme"): image "grafana/Grafana:12" is not a valid image reference: it has upper-case letters in the repository name (it must be lower case)'],
        ],
        [
            "an image with a bad tag",
            [{ id: "acme", image: "grafana/grafana:-1" }],
            ['users.yaml: entry 1 (id "acme"): image "grafana/grafana:-1" is not a valid image reference: it has an invalid tag "-1" (letters, digits, "_", "." or "-", not starting with "." or "-", at most 128 characters)'],
        ],
        ["an image that is not a string", [{ id: "acme", image: 12 }], ['users.yaml: entry 1 (id "acme"): image must be an image reference string (got a number)']],
        [
            "settings that are a list",
            [{ id: "acme", settings: ["a"] }],
            ['users.yaml: entry 1 (id "acme"): settings must be a map of sections to maps of keys to values, { section: { key: value } } (got a list)'],
        ],
        ["a section that is a scalar", [{ id: "acme", settings: { server: 3 } }], ['users.yaml: entry 1 (id "acme"): settings.server must be a map of keys to values (got a number)']],
        [
            "a value that is not a scalar",
            [{ id: "acme", settings: { server: { x: { y: 1 } } } }],
            ['users.yaml: entry 1 (id "acme"): settings.server.x must be a string, number or boolean (got an object)'],
        ],
        [
            "a section name with other characters",
            [{ id: "acme", settings: { "my section": { x: 1 } } }],
            ['users.yaml: entry 1 (id "acme"): settings.my section is not a valid section name (a letter, then letters, digits, "_", "." or "-")'],
        ],
        [
            "a settings name that would set an object's prototype",
            [JSON.parse('{ "id": "acme", "settings": { "server": { "__proto__": "x" } } }')],
            ['users.yaml: entry 1 (id "acme"): settings.server.__proto__ is not a valid key (a letter, then letters, digits, "_", "." or "-")'],
        ],
        [
            "a setting PUG manages",
            [{ id: "acme", settings: { database: { host: "elsewhere:3306" } } }],
            ['users.yaml: entry 1 (id "acme"): settings.database.host is refused (Grafana reads it as GF_DATABASE_HOST): the database connection is PUG\'s: the user\'s own MySQL database'],
        ],
        [
            "a secret in settings",
            [{ id: "acme", settings: { smtp: { password: "hunter2" } } }],
            ["users.yaml: entry 1 (id \"acme\"): settings.smtp.password is refused (Grafana reads it as GF_SMTP_PASSWORD): mail is sent through the platform's relay settings, with credentials a user record must not carry"],
        ],
        ["an entry that is not an object", [{ id: "acme" }, "bob"], ["users.yaml: entry 2: must be a user record, an object with at least an id (got a string)"]],
        ["an entry that is null", [null], ["users.yaml: entry 1: must be a user record, an object with at least an id (got null)"]],
    ])("%s", (_, list, expected) => {
        expect(problemsOf("users.yaml", list)).toEqual(expected);
    });

    it("refuses a source that is not a list", () => {
        expect(problemsOf("https://users.example/api/users", { users: [] })).toEqual(["https://users.example/api/users: must be a list of user records (got an object)"]);
        expect(problemsOf("pug:users", "acme")).toEqual(["pug:users: must be a list of user records (got a string)"]);
    });

    it("reports every problem of every entry in one error", () => {
        expect(problemsOf("pug:users", [{ id: "ok" }, { id: "Bad", replicas: -1, theme: "x" }, { id: "ok", tehme: "dark" }])).toEqual([
            `pug:users: entry 2 (id "Bad"): id ${ID_RULE}`,
            'pug:users: entry 2 (id "Bad"): replicas must be a whole number >= 1',
            'pug:users: entry 2 (id "Bad"): theme must be one of light, dark, system (got "x")',
            'pug:users: entry 3 (id "ok"): tehme is not a known field (did you mean "theme"?)',
            'pug:users: entry 3 (id "ok"): id duplicates entry 1',
        ]);
    });

    it("lists at most 50 problems and counts the rest", () => {
        const problems = problemsOf("pug:users", Array.from({ length: 80 }, () => ({ replicas: 1 })));
        expect(problems).toHaveLength(51);
        expect(problems[50]).toBe("pug:users: ... and 30 more problems");
    });

    it("applies the defaults of a valid record", () => {
        expect(parseUserList("pug:users", [{ id: "acme" }, { id: "bob", active: false, image: "grafana/grafana:11.6.0" }])).toEqual([
            { id: "acme", active: true },
            { id: "bob", active: false, image: "grafana/grafana:11.6.0" },
        ]);
    });
});

const validId = fc.stringMatching(USER_ID_PATTERN).filter((id) => !Object.hasOwn(RESERVED_USER_IDS, id));

const validRecord: fc.Arbitrary<UserRecordInput> = fc.record(
    {
        id: validId,
        active: fc.boolean(),
        replicas: fc.integer({ min: 1, max: 10 }),
        image: fc.constantFrom("grafana/grafana:12.0.2", "registry.example.com:5000/pug/grafana:canary", `grafana/grafana@sha256:${"0".repeat(64)}`),
        theme: fc.constantFrom("light", "dark", "system"),
        settings: fc.dictionary(
            fc.constantFrom(...Object.keys(TENANT_SETTINGS)),
            fc.dictionary(fc.constantFrom(...Object.values(TENANT_SETTINGS).flat()), fc.oneof(fc.string().filter((v) => !v.includes("$")), fc.integer(), fc.boolean()), { maxKeys: 3 }),
            { maxKeys: 2 },
        ).map((sections) => Object.fromEntries(Object.entries(sections).map(([section, keys]) => [section, Object.fromEntries(Object.entries(keys).filter(([key]) => TENANT_SETTINGS[section].includes(key)))]))),
    },
    { requiredKeys: ["id"] },
);
const uniqueRecords = fc.uniqueArray(validRecord, { selector: (r) => r.id, minLength: 1, maxLength: 8 });

describe("parseUserList: replicas have an upper bound", () => {
    it("refuses more replicas than the bound, 10 unless configured", () => {
        expect(problemsOf("users.yaml", [{ id: "acme", replicas: 10 }])).toEqual([]);
        expect(problemsOf("users.yaml", [{ id: "acme", replicas: 11 }])).toEqual(['users.yaml: entry 1 (id "acme"): replicas must be at most 10 (pug:grafana.maxReplicas)']);
        expect(parseUserList("users.yaml", [{ id: "acme", replicas: 40 }], { maxReplicas: 40 })).toEqual([{ id: "acme", active: true, replicas: 40 }]);
    });
});

describe("parseUserList: properties", () => {
    it("accepts every id of the documented form that is not reserved", () => {
        fc.assert(
            fc.property(validId, (id) => {
                expect(parseUserList("p", [{ id }])).toEqual([{ id, active: true }]);
            }),
            { numRuns: 300 },
        );
    });

    it("refuses every other string as an id, naming the entry and the rule", () => {
        const notAnId = fc.string({ maxLength: 50 }).filter((s) => !USER_ID_PATTERN.test(s));
        fc.assert(
            fc.property(notAnId, (id) => {
                expect(problemsOf("p", [{ id }])).toEqual([`p: entry 1 (id ${JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id)}): id ${ID_RULE}`]);
            }),
            { numRuns: 300 },
        );
    });

    it("refuses two ids that differ only in case, wherever they stand", () => {
        const pair = validId.filter((id) => /[a-z]/.test(id)).chain((id) =>
            fc.tuple(fc.constant(id), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })),
        );
        fc.assert(
            fc.property(pair, ([id, before, between]) => {
                const others = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ id: `other-${tag}${i}` }));
                const list = [...others(before, "a"), { id }, ...others(between, "b"), { id: id.toUpperCase() }];
                const at = before + between + 2;
                expect(problemsOf("p", list)).toContain(
                    `p: entry ${at} (id ${JSON.stringify(id.toUpperCase())}): id duplicates entry ${before + 1} (${JSON.stringify(id)} and ${JSON.stringify(id.toUpperCase())} differ only in case)`,
                );
            }),
            { numRuns: 200 },
        );
    });

    it("keeps every valid record as written, with active defaulting to true", () => {
        fc.assert(
            fc.property(uniqueRecords, (records) => {
                expect(parseUserList("p", records)).toEqual(records.map((r) => ({ active: true, ...r })));
            }),
            { numRuns: 200 },
        );
    });

    it("blames exactly the entry and the field that were broken", () => {
        const breakage = fc.constantFrom<[string, unknown]>(
            ["replicas", 0],
            ["replicas", "two"],
            ["theme", "solarized"],
            ["image", "grafana/Grafana"],
            ["active", 1],
            ["settings", { server: [] }],
        );
        fc.assert(
            fc.property(uniqueRecords, fc.nat(), breakage, (records, pick, [field, value]) => {
                const index = pick % records.length;
                const list = records.map((r, i) => (i === index ? { ...r, [field]: value } : r));
                const problems = problemsOf("users.json", list);
                expect(problems).toHaveLength(1);
                expect(problems[0].startsWith(`users.json: entry ${index + 1} (id "${records[index].id}"): ${field}`)).toBe(true);
            }),
            { numRuns: 300 },
        );
    });
});

describe("every valid id makes names the platform's backends accept", () => {
    // Docker: service names are DNS labels of at most 63 characters; secret and config names at
    // most 64 of [a-zA-Z0-9-_.], alphanumeric at both ends. MySQL 8: database names at most 64,
    // user names at most 32 characters.
    const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
    const DOCKER_OBJECT = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;
    const names = (id: string) => ({
        service: tenantServiceName(id),
        database: tenantDatabaseName(id),
        dbUser: tenantDatabaseUser(id),
        redisPrefix: tenantRedisPrefix(id),
        secrets: Object.values(GRAFANA_SECRET_FILES).map((purpose) => dockerObjectName(`${tenantServiceName(id)}-${purpose}`, `value-of-${id}`)),
    });

    // Generated ids are mostly short: long ones, where the limits bite, are drawn on purpose.
    const anyLengthId = fc.oneof(validId, fc.stringMatching(/^[a-z][a-z0-9-]{18,38}[a-z0-9]$/));

    it("within Docker's and MySQL's limits", () => {
        fc.assert(
            fc.property(anyLengthId, (id) => {
                const n = names(id);
                expect(n.service).toMatch(DNS_LABEL);
                expect(n.database.length).toBeLessThanOrEqual(64);
                expect(n.dbUser.length).toBeLessThanOrEqual(32);
                for (const secret of n.secrets) {
                    expect(secret.length).toBeLessThanOrEqual(64);
                    expect(secret).toMatch(DOCKER_OBJECT);
                }
            }),
            { numRuns: 300 },
        );
    });

    it("distinct for distinct ids, long ones included", () => {
        fc.assert(
            fc.property(fc.uniqueArray(anyLengthId, { minLength: 2, maxLength: 6 }), (ids) => {
                for (const key of ["service", "database", "dbUser", "redisPrefix"] as const) {
                    expect(new Set(ids.map((id) => names(id)[key])).size).toBe(ids.length);
                }
                expect(new Set(ids.flatMap((id) => names(id).secrets)).size).toBe(ids.length * Object.keys(GRAFANA_SECRET_FILES).length);
            }),
            { numRuns: 300 },
        );
    });

    it("unchanged for ids short enough to fit as they are", () => {
        expect(tenantDatabaseUser("acme")).toBe("grafana_acme");
        expect(dockerObjectName("grafana-acme-grafana-db-password", "x")).toMatch(/^grafana-acme-grafana-db-password-[0-9a-f]{12}$/);
    });
});
