/**
 * The settings of the Grafana STAND-IN (see standin.ts), read the way Grafana and its official
 * image read them, so that the end-to-end test exercises the environment PUG declares and not a
 * simplified one. Pure functions: tested in `npm test` beside this file.
 */

/**
 * What the official image's run.sh does before starting Grafana: every `GF_<X>__FILE` variable is
 * replaced by `GF_<X>` holding the file's content (trailing newlines dropped, as `$(< file)` does),
 * and setting both forms is an error.
 */
export function resolveFileVariables(env: NodeJS.ProcessEnv, readFile: (path: string) => string): Record<string, string> {
    const resolved: Record<string, string> = {};
    for (const [key, value] of Object.entries(env)) if (value !== undefined) resolved[key] = value;
    for (const key of Object.keys(resolved).filter((k) => k.startsWith("GF_") && k.endsWith("__FILE"))) {
        const target = key.slice(0, -"__FILE".length);
        if (resolved[target] !== undefined) throw new Error(`both ${target} and ${key} are set (but are exclusive)`);
        resolved[target] = readFile(resolved[key]).replace(/\n+$/, "");
        delete resolved[key];
    }
    return resolved;
}

export interface StandinSettings {
    /** The user this Grafana serves: the first segment of root_url's path (PUG's URL layout). */
    userId: string;
    /** The path Grafana serves under, with both slashes; "/" without serve_from_sub_path. */
    subPath: string;
    rootUrl: URL;
    httpPort: number;
    database: { host: string; port: number; name: string; user: string; password: string; migrationLocking: boolean };
    /** Grafana Live's HA engine; undefined when Live runs without one. */
    live?: RedisPeer;
    /** Alerting's HA peer over Redis ([unified_alerting] ha_redis_*); undefined when alerting runs alone. */
    alertingHa?: RedisPeer;
    /** [live] allowed_origins. */
    allowedOrigins: string[];
}

/** A Redis that Grafana reaches for one of its HA features, and the prefix its keys go under. */
export interface RedisPeer {
    host: string;
    port: number;
    password?: string;
    prefix: string;
}

function hostAndPort(value: string, defaultPort: number): { host: string; port: number } {
    const at = value.lastIndexOf(":");
    return at < 0 ? { host: value, port: defaultPort } : { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}

/** A duration as Go's time.ParseDuration takes it, e.g. 30s, 1m30s, 1.5h. */
const GO_DURATION = /^[-+]?(0|(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/;

/** The settings from a resolved environment; a missing one is named in the error, as Grafana would fail. */
export function readSettings(env: Record<string, string>): StandinSettings {
    const need = (name: string) => {
        const value = env[name];
        if (value === undefined || value === "") throw new Error(`${name} is not set`);
        return value;
    };
    if (need("GF_DATABASE_TYPE") !== "mysql") throw new Error(`GF_DATABASE_TYPE is ${env.GF_DATABASE_TYPE}: the stand-in speaks mysql only`);
    // Grafana parses [unified_alerting] evaluation_timeout at start and does not start on a bad
    // one: a user's setting that crash-loops their Grafana (the fault drills use it)
    const evaluationTimeout = env.GF_UNIFIED_ALERTING_EVALUATION_TIMEOUT;
    if (evaluationTimeout !== undefined && !GO_DURATION.test(evaluationTimeout)) {
        throw new Error(`invalid [unified_alerting] evaluation_timeout "${evaluationTimeout}": time: invalid duration`);
    }
    const rootUrl = new URL(need("GF_SERVER_ROOT_URL"));
    const fromSubPath = env.GF_SERVER_SERVE_FROM_SUB_PATH === "true";
    const subPath = fromSubPath ? rootUrl.pathname.replace(/\/?$/, "/") : "/";
    const userId = rootUrl.pathname.split("/").filter(Boolean)[0] ?? "";
    const live =
        env.GF_LIVE_HA_ENGINE === "redis"
            ? { ...hostAndPort(env.GF_LIVE_HA_ENGINE_ADDRESS ?? "127.0.0.1:6379", 6379), password: env.GF_LIVE_HA_ENGINE_PASSWORD, prefix: env.GF_LIVE_HA_PREFIX ?? "" }
            : undefined;
    return {
        userId,
        subPath,
        rootUrl,
        httpPort: Number(env.GF_SERVER_HTTP_PORT ?? "3000"),
        database: {
            ...hostAndPort(need("GF_DATABASE_HOST"), 3306),
            name: need("GF_DATABASE_NAME"),
            user: need("GF_DATABASE_USER"),
            password: need("GF_DATABASE_PASSWORD"),
            migrationLocking: env.GF_DATABASE_MIGRATION_LOCKING !== "false",
        },
        live,
        alertingHa: env.GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS
            ? { ...hostAndPort(env.GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS, 6379), password: env.GF_UNIFIED_ALERTING_HA_REDIS_PASSWORD, prefix: env.GF_UNIFIED_ALERTING_HA_REDIS_PREFIX ?? "" }
            : undefined,
        allowedOrigins: (env.GF_LIVE_ALLOWED_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean),
    };
}

/** Where Live keeps its keys and channels in Redis: `<ha_prefix>.gf_live`, or `gf_live` without a prefix. */
export function liveKeyPrefix(prefix: string): string {
    return prefix ? `${prefix}.gf_live` : "gf_live";
}

function globToRegExp(glob: string): RegExp {
    return new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
}

/**
 * Grafana Live's origin check on the WebSocket upgrade: no Origin is allowed; an Origin whose host
 * is the request's Host is allowed; otherwise it must be root_url's scheme and host, or match an
 * allowed_origins glob.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, settings: Pick<StandinSettings, "rootUrl" | "allowedOrigins">): boolean {
    if (!origin) return true;
    let url: URL;
    try {
        url = new URL(origin);
    } catch {
        return false;
    }
    if (host && url.host.toLowerCase() === host.toLowerCase()) return true;
    if (url.origin === settings.rootUrl.origin) return true;
    return settings.allowedOrigins.some((glob) => glob === "*" || globToRegExp(glob).test(url.origin));
}
