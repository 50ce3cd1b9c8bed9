/**
 * A user's `settings` are judged by the environment variable Grafana will read, whatever the
 * spelling: case, `.`/`-`/`_`, and where the section ends and the key starts. Checked at the three
 * doors a record comes through: the user list, PugPlatform and GrafanaTenant's environment.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACME_ENVIRONMENT_SPEC } from "../../test/harness/grafanaSpecs";
import { grafanaEnvironment } from "../grafanaTenant";
import { platformProblems } from "../pugPlatform";
import { parseUserList } from "../users/users";
import { InvalidInputError } from "../validation";

const spec = ACME_ENVIRONMENT_SPEC;

type Settings = Record<string, Record<string, string | number | boolean>>;

function listProblems(settings: Settings): string[] {
    try {
        parseUserList("users.yaml", [{ id: "acme", settings }]);
        return [];
    } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError);
        return (err as InvalidInputError).problems;
    }
}

/**
 * Settings a user must never reach, as the variable names Grafana (or the official image's
 * entrypoint) reads. Each takes over, escapes or reads beyond the user's own Grafana.
 */
const DANGEROUS = [
    "GF_AUTH_PROXY_ENABLED",
    "GF_AUTH_PROXY_HEADER_NAME",
    "GF_AUTH_PROXY_WHITELIST",
    "GF_AUTH_JWT_ENABLED",
    "GF_AUTH_JWT_JWK_SET_URL",
    "GF_AUTH_ANONYMOUS_ENABLED",
    "GF_AUTH_ANONYMOUS_ORG_ROLE",
    "GF_AUTH_BASIC_ENABLED",
    "GF_AUTH_GENERIC_OAUTH_ENABLED",
    "GF_AUTH_DISABLE_LOGIN_FORM",
    "GF_SECURITY_ADMIN_USER",
    "GF_SECURITY_ADMIN_PASSWORD",
    "GF_SECURITY_SECRET_KEY",
    "GF_SECURITY_COOKIE_SAMESITE",
    "GF_SECURITY_CONTENT_SECURITY_POLICY",
    "GF_USERS_ALLOW_SIGN_UP",
    "GF_USERS_AUTO_ASSIGN_ORG_ROLE",
    "GF_DATABASE_HOST",
    "GF_DATABASE_URL",
    "GF_PATHS_DATA",
    "GF_PATHS_PROVISIONING",
    "GF_SERVER_ROOT_URL",
    "GF_SERVER_DOMAIN",
    "GF_SERVER_SERVE_FROM_SUB_PATH",
    "GF_LIVE_HA_PREFIX",
    "GF_LIVE_HA_ENGINE_ADDRESS",
    "GF_LIVE_ALLOWED_ORIGINS",
    "GF_UNIFIED_ALERTING_HA_PEERS",
    "GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS",
    "GF_UNIFIED_ALERTING_HA_REDIS_PREFIX",
    "GF_PLUGINS_PREINSTALL",
    "GF_PLUGINS_PREINSTALL_SYNC",
    "GF_INSTALL_PLUGINS",
    "GF_PANELS_DISABLE_SANITIZE_HTML",
    "GF_SMTP_HOST",
    "GF_SMTP_PASSWORD",
    "GF_EXTERNAL_IMAGE_STORAGE_S3_SECRET_KEY",
    "GF_FEATURE_TOGGLES_ENABLE",
    // the entrypoint puts a file's content into the variable without the suffix
    "GF_DATE_FORMATS_FULL_DATE__FILE",
    "GF_USERS_HOME_PAGE__FILE",
];

/** A few settings a user may change, as their variable names. */
const HARMLESS = ["GF_DASHBOARDS_MIN_REFRESH_INTERVAL", "GF_DATE_FORMATS_FULL_DATE", "GF_UNIFIED_ALERTING_EVALUATION_TIMEOUT", "GF_USERS_VIEWERS_CAN_EDIT"];

/**
 * Any spelling of a variable name as `{ section: { key } }`: its words (without GF_) joined by
 * random separators, each letter in a random case, split into section and key at any boundary.
 * `__FILE` stays a double separator (the entrypoint reads exactly that).
 */
function spellings(env: string): fc.Arbitrary<{ section: string; key: string }> {
    const words = env.replace(/^GF_/, "").replace("__FILE", "_\u0000FILE").split("_");
    const sep = fc.constantFrom(".", "-", "_");
    return fc
        .tuple(fc.array(sep, { minLength: words.length - 1, maxLength: words.length - 1 }), fc.integer({ min: 1, max: words.length - 1 }), fc.array(fc.boolean(), { minLength: env.length, maxLength: env.length }))
        .map(([seps, split, upper]) => {
            let i = 0;
            const cased = (w: string) => [...w].map((c) => (upper[i++ % upper.length] ? c.toUpperCase() : c.toLowerCase())).join("");
            const part = (from: number, to: number) =>
                words
                    .slice(from, to)
                    .map((w, j) => (j === 0 ? "" : seps[from + j - 1]) + cased(w.replace("\u0000", "_")))
                    .join("");
            return { section: part(0, split), key: part(split, words.length) };
        })
        .filter(({ section, key }) => /^[a-zA-Z]/.test(section) && /^[a-zA-Z]/.test(key));
}

describe("settings are judged by the variable Grafana reads", () => {
    it("refuses every spelling of what would take over or escape a user's Grafana, at every door", () => {
        fc.assert(
            fc.property(fc.constantFrom(...DANGEROUS).chain((env) => fc.tuple(fc.constant(env), spellings(env))), ([env, { section, key }]) => {
                const settings = { [section]: { [key]: "x" } };
                const problems = listProblems(settings);
                expect(problems).toHaveLength(1);
                expect(problems[0]).toContain(`users.yaml: entry 1 (id "acme"): settings.${section}.${key} is refused (Grafana reads it as ${env}): `);
                expect(() => grafanaEnvironment({ ...spec, settings })).toThrow(`settings.${section}.${key} is refused`);
                expect(platformProblems({ domain: "d.example", users: [{ id: "acme", active: true, settings }] })).toContain(
                    `user "acme": settings.${section}.${key} ${problems[0].split(`settings.${section}.${key} `)[1]}`,
                );
            }),
            { numRuns: 1000 },
        );
    });

    it("accepts the settings a user may change in any spelling, as the variable documented", () => {
        fc.assert(
            fc.property(fc.constantFrom(...HARMLESS).chain((env) => fc.tuple(fc.constant(env), spellings(env))), ([env, { section, key }]) => {
                const settings = { [section]: { [key]: "10s" } };
                expect(listProblems(settings)).toEqual([]);
                expect(grafanaEnvironment({ ...spec, settings })[env]).toBe("10s");
            }),
            { numRuns: 300 },
        );
    });

    it("accepts nothing that becomes a variable of a refused family, whatever the words", () => {
        // words of dangerous and harmless settings mixed: what passes must be on the safe side
        const words = ["auth", "proxy", "jwt", "security", "admin", "user", "users", "database", "paths", "server", "live", "ha", "unified", "alerting", "plugins", "panels", "disable", "sanitize", "html", "smtp", "dashboards", "min", "refresh", "interval", "file", "date", "formats", "full"];
        const name = fc.array(fc.tuple(fc.constantFrom(...words), fc.constantFrom(".", "-", "_")), { minLength: 1, maxLength: 4 }).map((parts) => parts.map(([w, s], i) => (i ? s : "") + w).join(""));
        const refusedFamily = /^GF_(AUTH|SECURITY|DATABASE|PATHS|SERVER|LIVE|UNIFIED_ALERTING_HA|PLUGINS_PREINSTALL|INSTALL|PANELS_DISABLE|SMTP|FEATURE_TOGGLES)|__FILE$|_(PASSWORD|SECRET|TOKEN|KEY)(_|$)/;
        fc.assert(
            fc.property(name, name, (section, key) => {
                if (listProblems({ [section]: { [key]: "1" } }).length) return;
                // Grafana's own rule (pkg/setting: EnvKey), written out here independently
                expect(`GF_${section}_${key}`.toUpperCase().replace(/[.-]/g, "_")).not.toMatch(refusedFamily);
            }),
            { numRuns: 2000 },
        );
    });

    it("names the user entry, the field, the variable and why", () => {
        expect(listProblems({ auth: { "proxy.enabled": true } })).toEqual([
            `users.yaml: entry 1 (id "acme"): settings.auth.proxy.enabled is refused (Grafana reads it as GF_AUTH_PROXY_ENABLED): sign-in is PUG's to set for every user: a user's own auth settings could let anyone in as admin`,
        ]);
        expect(listProblems({ panels: { disable_sanitize_html: true } })[0]).toContain("unsanitised HTML lets dashboards run scripts in pages other users' Grafanas share an origin with");
        expect(listProblems({ dashboards: { min_refresh_intervall: "5s" } })).toEqual([
            `users.yaml: entry 1 (id "acme"): settings.dashboards.min_refresh_intervall is refused (Grafana reads it as GF_DASHBOARDS_MIN_REFRESH_INTERVALL): not among the settings a user may change (did you mean dashboards.min_refresh_interval?)`,
        ]);
    });

    it("refuses a value Grafana would expand, such as a file of the container", () => {
        expect(listProblems({ date_formats: { full_date: "$__file{/run/secrets/live-redis-password}" } })).toEqual([
            `users.yaml: entry 1 (id "acme"): settings.date_formats.full_date must not contain "$": Grafana would expand it ($__file{...} reads files in the container)`,
        ]);
    });

    it("refuses two spellings of one variable, which would leave the value to chance", () => {
        expect(listProblems({ dashboards: { min_refresh_interval: "5s", "min-refresh-interval": "1h" } })).toEqual([
            `users.yaml: entry 1 (id "acme"): settings.dashboards.min-refresh-interval sets GF_DASHBOARDS_MIN_REFRESH_INTERVAL again (as settings.dashboards.min_refresh_interval does): write it once`,
        ]);
    });
});
