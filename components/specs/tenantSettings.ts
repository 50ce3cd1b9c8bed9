import { nearestName } from "../validation";

/** Grafana's built-in themes. */
export const THEMES = ["light", "dark", "system"] as const;
export type Theme = (typeof THEMES)[number];

/** grafana.ini overrides: section → key → scalar value. */
export type GrafanaSettings = Record<string, Record<string, string | number | boolean>>;

/**
 * The policy on a user's own grafana.ini overrides (`settings` of a user record), in one place:
 * the user list's validation, PugPlatform and GrafanaTenant all ask `settingsProblems`.
 *
 * Settings reach Grafana as environment variables, and Grafana looks a setting up by its variable
 * name alone: `GF_<SECTION>_<KEY>`, upper-cased, `.` and `-` turned into `_`. So
 * `{ auth: { "proxy.enabled": true } }`, `{ "auth.proxy": { enabled: true } }` and
 * `{ auth_proxy: { enabled: true } }` are all `GF_AUTH_PROXY_ENABLED`, and the official image's
 * entrypoint also reads `GF_<...>__FILE` (a file's content as the value) and `GF_INSTALL_PLUGINS`.
 * The policy therefore judges the variable name, never the spelling, and it lets through only
 * the settings listed below (an allowlist: a setting Grafana adds in a later version is refused
 * until someone decides it is harmless).
 */

/**
 * What a user may set, as Grafana's documentation spells it. Each changes only what the user's own
 * Grafana shows or does for its own users; none reads a file, touches sign-in, the database, the
 * URL, Live, alerting HA, plugins' installation or HTML sanitising.
 */
export const TENANT_SETTINGS: Readonly<Record<string, readonly string[]>> = {
    analytics: ["reporting_enabled", "check_for_updates", "check_for_plugin_updates", "feedback_links_enabled"],
    dashboards: ["min_refresh_interval", "versions_to_keep"],
    date_formats: [
        "full_date", "interval_second", "interval_minute", "interval_hour", "interval_day", "interval_month", "interval_year",
        "use_browser_locale", "default_timezone", "default_week_start",
    ],
    explore: ["enabled"],
    help: ["enabled"],
    news: ["news_feed_enabled"],
    panels: ["enable_alpha"],
    // Only plugins already in the release channel's image can load: installing is PUG's.
    plugins: ["allow_loading_unsigned_plugins", "enable_alpha"],
    query_history: ["enabled"],
    unified_alerting: ["evaluation_timeout", "max_attempts", "min_interval"],
    users: ["viewers_can_edit", "editors_can_admin", "home_page", "default_language"],
};

/** The environment variable Grafana reads for `[section] key`: GF_<SECTION>_<KEY>, `.` and `-` as `_`. */
export function grafanaEnvName(section: string, key: string): string {
    return `GF_${section}_${key}`.toUpperCase().replace(/[.-]/g, "_");
}

/** Allowed variable name → the setting as documented, for hints. */
const ALLOWED = new Map(Object.entries(TENANT_SETTINGS).flatMap(([section, keys]) => keys.map((key) => [grafanaEnvName(section, key), `${section}.${key}`] as const)));
const ALLOWED_NAMES = [...ALLOWED.values()];

/**
 * Why a variable outside the allowlist is refused, for the families that matter (first match).
 * The allowlist alone decides; these only make the message say why.
 */
const REFUSAL_REASONS: readonly [RegExp, string][] = [
    [/^GF_AUTH/, "sign-in is PUG's to set for every user: a user's own auth settings could let anyone in as admin"],
    [/^GF_SECURITY_/, "security settings (admin account, secret key, cookies, content security policy) are PUG's"],
    [/^GF_USERS_/, "user administration and sign-up are PUG's (the theme has a field of its own)"],
    [/^GF_DATABASE_/, "the database connection is PUG's: the user's own MySQL database"],
    [/^GF_PATHS_/, "paths in the container are PUG's"],
    [/^GF_SERVER_/, "the server's identity and URL (root_url, sub path, ports) are PUG's"],
    [/^GF_LIVE_/, "Grafana Live's Redis, prefix and origins are PUG's: another value could share other users' channels"],
    [/^GF_UNIFIED_ALERTING_HA_/, "alerting HA runs over PUG's Redis under the user's own prefix"],
    [/^GF_(PLUGINS_|INSTALL_PLUGINS)/, "plugins are installed into release channels' images by PUG, never at start"],
    [/^GF_PANELS_DISABLE_SANITIZE_HTML/, "unsanitised HTML lets dashboards run scripts in pages other users' Grafanas share an origin with"],
    [/^GF_SMTP_/, "mail is sent through the platform's relay settings, with credentials a user record must not carry"],
    [/^GF_EXTERNAL_IMAGE_STORAGE/, "image storage takes credentials, which a user record must not carry"],
    [/^GF_FEATURE_TOGGLES_/, "feature toggles can change how Grafana authenticates and sanitises"],
];

/** A grafana.ini override PUG refuses, and why (the message follows the field's name). */
export interface SettingProblem {
    section: string;
    key: string;
    message: string;
}

/**
 * The overrides PUG refuses: anything outside TENANT_SETTINGS (judged by the variable name Grafana
 * reads), two spellings of one variable, and values Grafana would expand. Checked before anything
 * is registered.
 */
export function settingsProblems(settings: Record<string, Record<string, unknown>> = {}): SettingProblem[] {
    const problems: SettingProblem[] = [];
    const firstSpelling = new Map<string, string>();
    for (const [section, keys] of Object.entries(settings)) {
        for (const [key, value] of Object.entries(keys)) {
            const env = grafanaEnvName(section, key);
            const problem = (message: string) => problems.push({ section, key, message });
            if (!ALLOWED.has(env)) {
                problem(`is refused (Grafana reads it as ${env}): ${refusalReason(env, `${section}.${key}`)}`);
                continue;
            }
            const earlier = firstSpelling.get(env);
            if (earlier !== undefined) problem(`sets ${env} again (as settings.${earlier} does): write it once`);
            else firstSpelling.set(env, `${section}.${key}`);
            // Grafana expands `$__file{...}`, `$__env{...}` and `${VAR}` in every setting: a value
            // could read the container's secret files (the Live Redis password is shared by all users).
            if (typeof value === "string" && value.includes("$")) problem(`must not contain "$": Grafana would expand it ($__file{...} reads files in the container)`);
        }
    }
    return problems;
}

function refusalReason(env: string, written: string): string {
    const reason = REFUSAL_REASONS.find(([pattern]) => pattern.test(env))?.[1];
    if (reason) return reason;
    const hint = nearestName(written, ALLOWED_NAMES);
    return `not among the settings a user may change (${hint ? `did you mean ${hint}?` : `some keys of ${Object.keys(TENANT_SETTINGS).join(", ")}: see the README`})`;
}

/** `settingsProblems` as lines naming the owner and the field, e.g. `user "acme": settings.database.host is refused: …`. */
export function settingsProblemLines(owner: string, settings: Record<string, Record<string, unknown>> = {}): string[] {
    return settingsProblems(settings).map((p) => `${owner}: settings.${p.section}.${p.key} ${p.message}`);
}

/**
 * A user's grafana.ini overrides as environment variables; throws listing every refused one.
 * `owner` names the user in errors.
 */
export function settingsEnvironment(owner: string, settings: GrafanaSettings = {}): Record<string, string> {
    const problems = settingsProblemLines(owner, settings);
    if (problems.length) throw new Error(problems.join("\n"));
    return Object.fromEntries(
        Object.entries(settings).flatMap(([section, keys]) => Object.entries(keys).map(([key, value]) => [grafanaEnvName(section, key), String(value)])),
    );
}
