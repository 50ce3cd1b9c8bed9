import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { datasourceProvisioning, type TenantDatasources } from "./specs/datasources";
import { configMount, durationMs, hashedSecret, secretMount, secretPath, swarmDuration, swarmService } from "./dockerObjects";
import { DEFAULT_JWT_HEADER, tenantHost, tenantJwtAudience, tenantObjectName, tenantRedisPrefix, tenantServiceName, tenantUrl, type UrlMode } from "./specs/naming";
import type { EndpointMode } from "./swarm";
import { settingsEnvironment, type GrafanaSettings, type Theme } from "./specs/tenantSettings";
import { z } from "zod";
import { schemaProblems, wholeAtLeast } from "./validation";

/** The image every user runs unless the stack or the user says otherwise (11.3+ for Live's ha_prefix). */
export const DEFAULT_GRAFANA_IMAGE = "grafana/grafana:12.0.2";
/** Open files per Grafana task (each Live WebSocket holds one). */
export const DEFAULT_OPEN_FILES_LIMIT = 65536;

/**
 * The most replicas a user's Grafana may have unless the stack says otherwise
 * (`pug:grafana.maxReplicas`): a user record asking for hundreds would take the Swarm's capacity
 * from everyone else.
 */
export const DEFAULT_MAX_REPLICAS = 10;

/** Memory of one Grafana task, in MiB: its hard limit, and what Swarm reserves on a node for it. */
const DEFAULT_MEMORY = { limitMb: 512, reservationMb: 128 } as const;

/**
 * What the mysql provider takes as `tls`, and nothing else (it refuses `preferred` only at
 * `pulumi up`, after other resources changed). A YAML boolean reads as its string. Grafana's
 * `[database] ssl_mode` takes the same three values, so both connections get the same.
 */
export const MYSQL_TLS_MODES = ["true", "false", "skip-verify"] as const;
export type MysqlTls = (typeof MYSQL_TLS_MODES)[number];

/** Grafana's port inside the container. */
export const GRAFANA_PORT = 3000;
/** The uid the official Grafana image runs as: secret files are readable by it alone. */
const GRAFANA_UID = "472";
/** Where a user's Grafana finds the platform's public key for JWTs (a Docker config). */
export const JWT_PUBLIC_KEY_PATH = "/etc/grafana/pug-jwt-public-key.pem";

/** Secret files in a Grafana task, by purpose. */
export const GRAFANA_SECRET_FILES = {
    databasePassword: "grafana-db-password",
    adminPassword: "grafana-admin-password",
    secretKey: "grafana-secret-key",
    liveRedisPassword: "live-redis-password",
} as const;

/** Plain data a user's Grafana environment is built from. */
export interface GrafanaEnvironmentSpec {
    userId: string;
    domain: string;
    /** host:port of MySQL as Grafana reaches it. */
    databaseHost: string;
    databaseName: string;
    databaseUser: string;
    /** TLS to MySQL ([database] ssl_mode), as the mysql provider connects. @default Grafana's (none) */
    databaseTls?: MysqlTls;
    /** host:port of the Live Redis as Grafana reaches it. */
    redisAddress: string;
    liveMaxConnections: number;
    theme?: Theme;
    settings?: GrafanaSettings;
    /** Sign-in with the platform's JWTs (front proxy in jwt mode). */
    jwt?: GrafanaJwtSpec;
    /** Where the Grafana is served (see UrlMode). @default "path" */
    urlMode?: UrlMode;
}

/**
 * Grafana's default content security policy (12.0), narrowed for path mode, where every user's
 * Grafana shares one origin: a page may fetch, open WebSockets to and post forms only under its
 * own user's path (`$ROOT_PATH` is root_url without its scheme, e.g. DOMAIN/acme/grafana/; a
 * source ending in `/` matches that path and below, and `http:`/`ws:` sources match `https:`/
 * `wss:` too), and may be framed by no one. So a script that runs in one user's Grafana cannot
 * call another user's API with the cookies the browser holds for it. It narrows, but is no
 * boundary (a script can still open another user's page in a window of the same origin): that is
 * subdomain mode.
 */
export const PATH_MODE_CSP_TEMPLATE = [
    "script-src 'self' 'unsafe-eval' 'unsafe-inline' 'strict-dynamic' $NONCE",
    "object-src 'none'",
    "font-src 'self'",
    "style-src 'self' 'unsafe-inline' blob:",
    "img-src * data:",
    "base-uri 'self'",
    "connect-src http://$ROOT_PATH ws://$ROOT_PATH grafana.com",
    "manifest-src 'self'",
    "media-src 'none'",
    "form-action http://$ROOT_PATH",
    "frame-ancestors 'none'",
].join(";") + ";";

/** How a user's Grafana reads the platform's JWTs, which the front proxy passes in jwt mode. */
export interface GrafanaJwtSpec {
    /** Header the proxy passes the token in (ProxyJwt's grafanaHeader). @default "X-JWT-Assertion" */
    grafanaHeader?: string;
    /** Claim holding the login. @default "sub" */
    usernameClaim?: string;
    /** Claim holding the e-mail address. @default "email" */
    emailClaim?: string;
    /** JMESPath to the Grafana role in the claims (e.g. "role"). @default none (new users get Grafana's default role) */
    roleAttributePath?: string;
}

/**
 * [auth.jwt] for a user: tokens verified with the platform's public key, and only those whose
 * audience names this user (`tenantJwtAudience`).
 */
function jwtEnvironment(userId: string, jwt: GrafanaJwtSpec): Record<string, string> {
    return {
        GF_AUTH_JWT_ENABLED: "true",
        GF_AUTH_JWT_HEADER_NAME: jwt.grafanaHeader ?? DEFAULT_JWT_HEADER,
        GF_AUTH_JWT_KEY_FILE: JWT_PUBLIC_KEY_PATH,
        GF_AUTH_JWT_EXPECT_CLAIMS: JSON.stringify({ aud: tenantJwtAudience(userId) }),
        GF_AUTH_JWT_USERNAME_CLAIM: jwt.usernameClaim ?? "sub",
        GF_AUTH_JWT_EMAIL_CLAIM: jwt.emailClaim ?? "email",
        GF_AUTH_JWT_AUTO_SIGN_UP: "true",
        ...(jwt.roleAttributePath ? { GF_AUTH_JWT_ROLE_ATTRIBUTE_PATH: jwt.roleAttributePath } : {}),
    };
}

/**
 * The environment of a user's Grafana. It holds no secret: every password is a `__FILE` path into
 * a Docker secret, which the official image's entrypoint (run.sh) reads at start.
 */
export function grafanaEnvironment(spec: GrafanaEnvironmentSpec): Record<string, string> {
    const owner = `user "${spec.userId}"`;
    const prefix = tenantRedisPrefix(spec.userId);
    const overrides = settingsEnvironment(owner, spec.settings);
    const file = (purpose: keyof typeof GRAFANA_SECRET_FILES) => secretPath(GRAFANA_SECRET_FILES[purpose]);
    const mode = spec.urlMode ?? "path";
    const host = tenantHost(spec.domain, spec.userId, mode);
    return {
        ...overrides,
        GF_SERVER_DOMAIN: host,
        GF_SERVER_ROOT_URL: tenantUrl(spec.domain, spec.userId, mode),
        GF_SERVER_SERVE_FROM_SUB_PATH: String(mode === "path"),
        // Grafana's cookies already carry root_url's path (so each user's session cookie goes to
        // that user's path only); what a page may reach is narrowed by the policy.
        ...(mode === "path" ? { GF_SECURITY_CONTENT_SECURITY_POLICY: "true", GF_SECURITY_CONTENT_SECURITY_POLICY_TEMPLATE: PATH_MODE_CSP_TEMPLATE } : {}),

        GF_DATABASE_TYPE: "mysql",
        GF_DATABASE_HOST: spec.databaseHost,
        GF_DATABASE_NAME: spec.databaseName,
        GF_DATABASE_USER: spec.databaseUser,
        GF_DATABASE_PASSWORD__FILE: file("databasePassword"),
        // A server that requires TLS from the provider requires it from Grafana too.
        ...(spec.databaseTls ? { GF_DATABASE_SSL_MODE: spec.databaseTls } : {}),
        // Three replicas start together: only one may run the migrations.
        GF_DATABASE_MIGRATION_LOCKING: "true",
        // Below MySQL's default wait_timeout (8h), so Grafana never uses a connection MySQL closed.
        GF_DATABASE_CONN_MAX_LIFETIME: "14400",

        GF_SECURITY_ADMIN_PASSWORD__FILE: file("adminPassword"),
        GF_SECURITY_SECRET_KEY__FILE: file("secretKey"),

        GF_LIVE_HA_ENGINE: "redis",
        GF_LIVE_HA_ENGINE_ADDRESS: spec.redisAddress,
        GF_LIVE_HA_ENGINE_PASSWORD__FILE: file("liveRedisPassword"),
        GF_LIVE_HA_PREFIX: prefix,
        GF_LIVE_MAX_CONNECTIONS: String(spec.liveMaxConnections),
        GF_LIVE_ALLOWED_ORIGINS: `https://${host}`,

        // Alerting HA over the same Redis, so three replicas send each notification once.
        GF_UNIFIED_ALERTING_HA_REDIS_ADDRESS: spec.redisAddress,
        GF_UNIFIED_ALERTING_HA_REDIS_PASSWORD__FILE: file("liveRedisPassword"),
        GF_UNIFIED_ALERTING_HA_REDIS_PREFIX: prefix,

        ...(spec.theme ? { GF_USERS_DEFAULT_THEME: spec.theme } : {}),
        ...(spec.jwt ? jwtEnvironment(spec.userId, spec.jwt) : {}),
    };
}

/** The store a user's Grafana keeps its data in: TenantDatabase provides it. */
export interface TenantStore {
    databaseName: string;
    username: string;
    password: pulumi.Input<string>;
    secretKey: pulumi.Input<string>;
    adminPassword: pulumi.Input<string>;
}

/** The rolling-update policy of a user's Grafana: one replica at a time, new before old, back on failure. */
export const GRAFANA_UPDATE_POLICY = {
    parallelism: 1,
    order: "start-first",
    failureAction: "rollback",
    // A replica must stay healthy this long after it starts, or the update rolls back.
    monitor: "1m",
    maxFailureRatio: "0",
    delay: "10s",
} as const;

/**
 * The health check of a user's Grafana: liveness, through Grafana's `/healthz`, which answers 200
 * while its web server runs and never asks the database (pkg/api/http_server.go). Not
 * `/api/health`: that one checks the database, so a MySQL outage fails every replica's check at
 * once and Swarm replaces every replica of every user together; the new ones cannot start without
 * their database, and while MySQL's name resolves to no task the answer is slower than any short
 * timeout (the fault drills measured both). A Grafana that starts serves only after it migrated
 * its database, so a rolling update still fails on a version that cannot use it.
 */
export function grafanaHealthCheck(port: number): string {
    return `curl -fsS --max-time 4 http://localhost:${port}/healthz`;
}

/** How long a new replica has before its health checks count. */
const START_PERIOD_SECONDS = 90;

/**
 * How `pulumi up` waits for a user's service: until every replica runs the new spec and passed
 * the monitor window, or until Swarm rolled the update back, which fails the step (and with it
 * the run, before services that wait for this one are touched). The timeout covers a full
 * rollout and a full rollback, one replica at a time.
 */
export function grafanaConvergeConfig(replicas: number): { delay: string; timeout: string } {
    const perReplica = START_PERIOD_SECONDS + (durationMs(GRAFANA_UPDATE_POLICY.monitor) + durationMs(GRAFANA_UPDATE_POLICY.delay)) / 1_000;
    return { delay: "7s", timeout: `${2 * replicas * perReplica + 60}s` };
}

/** Rolling back follows the same care: one at a time, new before old; pause if even that fails. */
export const GRAFANA_ROLLBACK_POLICY = {
    parallelism: 1,
    order: "start-first",
    failureAction: "pause",
    monitor: "1m",
    maxFailureRatio: "0",
} as const;

/** How a user's Grafana service runs: what `pug:grafana` sets for every user (a record may set replicas). */
export interface GrafanaServiceSettings {
    /** Replicas of the service. @default 3 */
    replicas?: number;
    /** The most replicas allowed. @default DEFAULT_MAX_REPLICAS (10) */
    maxReplicas?: number;
    /** Grafana Live connections per replica (0 disables Live). @default 200 */
    liveMaxConnections?: number;
    /** Memory limit per replica, in MiB. @default 512 */
    memoryLimitMb?: number;
    /** Memory reserved per replica, in MiB (the scheduler places by it). @default 128 */
    memoryReservationMb?: number;
    /**
     * Open-files limit of the Grafana process. Each Live WebSocket holds a descriptor; the limit is
     * set before the official entrypoint starts, and a node whose hard limit is lower fails the
     * task visibly (and the update rolls back) instead of refusing connections later.
     * @default 65536
     */
    openFilesLimit?: number;
    /** The image's entrypoint, started after the limit is set. @default "/run.sh" (the official image's) */
    entrypoint?: string;
    /** Node label the replicas are spread over (e.g. a zone label set on the nodes). @default "node.labels.zone" */
    spreadOver?: string;
    /** At most this many of the user's replicas on one node. @default no limit (a one-node Swarm must fit all) */
    maxReplicasPerNode?: number;
    /** Placement constraints of the replicas. @default none */
    placementConstraints?: string[];
}

/** The cross-field rules of GrafanaServiceSettings (each field's own are in the schema). */
function grafanaServiceIssues(v: GrafanaServiceSettings): Array<{ path: string[]; message: string }> {
    const issues: Array<{ path: string[]; message: string }> = [];
    const maxReplicas = v.maxReplicas ?? DEFAULT_MAX_REPLICAS;
    if (v.replicas !== undefined && v.replicas > maxReplicas) issues.push({ path: ["replicas"], message: `must be at most maxReplicas (${maxReplicas})` });
    const limit = v.memoryLimitMb ?? DEFAULT_MEMORY.limitMb;
    const reservation = v.memoryReservationMb ?? DEFAULT_MEMORY.reservationMb;
    if (reservation > limit) issues.push({ path: ["memoryReservationMb"], message: `(${reservation}) exceeds memoryLimitMb (${limit})` });
    if (v.liveMaxConnections !== undefined && v.openFilesLimit !== undefined && v.liveMaxConnections > v.openFilesLimit - 256) {
        issues.push({ path: ["openFilesLimit"], message: `(${v.openFilesLimit}) leaves too few descriptors for liveMaxConnections (${v.liveMaxConnections})` });
    }
    return issues;
}

/** Each GrafanaServiceSettings field's schema: `pug:grafana` is these and the platform's own. @internal */
export const grafanaServiceSettingsShape = {
    replicas: wholeAtLeast(1).optional(),
    maxReplicas: wholeAtLeast(1).optional(),
    liveMaxConnections: z.number().int("must be a whole number >= -1").min(-1, "must be a whole number >= -1").optional(),
    memoryLimitMb: wholeAtLeast(128).optional(),
    memoryReservationMb: wholeAtLeast(0).optional(),
    openFilesLimit: wholeAtLeast(1024).optional(),
    entrypoint: z.string().min(1).optional(),
    spreadOver: z.string().min(1).optional(),
    maxReplicasPerNode: wholeAtLeast(1).optional(),
    placementConstraints: z.array(z.string()).optional(),
};

/** Adds the cross-field rules' issues to a zod refinement: one place for them, whichever schema reads the settings. @internal */
export function refineGrafanaService(v: GrafanaServiceSettings, ctx: z.RefinementCtx): void {
    for (const issue of grafanaServiceIssues(v)) ctx.addIssue({ code: "custom", ...issue });
}

/** GrafanaServiceSettings' schema (other fields of the arguments pass through unchecked). */
const grafanaServiceSettingsSchema = z.object(grafanaServiceSettingsShape).superRefine(refineGrafanaService);

export interface GrafanaTenantArgs extends GrafanaServiceSettings {
    /** The user's id: names the service (`grafana-<id>`), the URL path and the Redis prefix. */
    userId: string;
    /** Public host: the Grafana is served at https://<domain>/<id>/grafana/ (or https://<id>.<domain>/, see urlMode). */
    domain: string;
    /** Where the Grafana is served (see UrlMode). @default "path" */
    urlMode?: UrlMode;
    /** The Grafana image (official image, or one built from it with plugins baked in). */
    image: pulumi.Input<string>;
    /** Credentials the Swarm pulls `image` with (a private registry). @default none: the nodes' own docker login */
    registryAuth?: { server: string; username?: string; password?: pulumi.Input<string> };
    /** Datasources provisioned into the Grafana (a Docker config, or a secret when they carry credentials). @default none */
    datasources?: TenantDatasources;
    /** Default UI theme of the user's Grafana. @default Grafana's own (dark) */
    theme?: Theme;
    /** grafana.ini overrides, section → key → value; only those `settingsProblems` lets through. @default none */
    settings?: GrafanaSettings;
    /** The user's database and the secrets bound to it. */
    store: TenantStore;
    /** host:port of MySQL on the overlay network. */
    databaseHost: string;
    /** TLS to MySQL, as `pug:mysql.tls` (the provider's modes). @default none (Grafana's default) */
    databaseTls?: MysqlTls;
    /** The Live Redis: its address on the overlay and the Docker secret holding its password. */
    liveRedis: { address: string; passwordSecret: docker.Secret };
    /** Overlay networks (ids) the service joins: the proxy's and the data network. */
    networkIds: pulumi.Input<string>[];
    /**
     * Sign-in with the platform's JWTs (front proxy in jwt mode): tokens must be signed by the key
     * in `publicKey` (a Docker config holding the PEM) and name this user as their audience.
     * @default none (Grafana's own login)
     */
    jwtAuth?: GrafanaJwtSpec & { publicKey: docker.ServiceConfig };
    /** How the proxy reaches the service by name (see EndpointMode). @default "vip" */
    endpointMode?: EndpointMode;
}

/** Why these arguments cannot make a service, one line per problem naming the field. */
export function grafanaTenantProblems(args: GrafanaServiceSettings): string[] {
    return schemaProblems(grafanaServiceSettingsSchema, args);
}

/**
 * One user's Grafana: a Swarm service with its own secrets, reachable by the proxy at
 * `grafana-<id>` on the proxy network, storing everything in the user's own database and sharing
 * only the Live Redis, under a prefix of its own.
 */
export class GrafanaTenant extends pulumi.ComponentResource {
    public readonly service: docker.Service;
    public readonly serviceName: string;
    public readonly url: string;

    constructor(name: string, args: GrafanaTenantArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Everything that can be refused is checked before super(), which registers the component:
        // a bad argument leaves the stack untouched.
        const problems = grafanaTenantProblems(args);
        if (problems.length) throw new Error(`GrafanaTenant ${name} (user "${args.userId}"): ${problems.join("; ")}`);
        const env = grafanaEnvironment({
            userId: args.userId,
            domain: args.domain,
            databaseHost: args.databaseHost,
            databaseTls: args.databaseTls,
            databaseName: args.store.databaseName,
            databaseUser: args.store.username,
            redisAddress: args.liveRedis.address,
            liveMaxConnections: args.liveMaxConnections ?? 200,
            theme: args.theme,
            settings: args.settings,
            jwt: args.jwtAuth,
            urlMode: args.urlMode,
        });
        super("pug:grafana:GrafanaTenant", name, {}, opts);
        this.serviceName = tenantServiceName(args.userId);
        this.url = tenantUrl(args.domain, args.userId, args.urlMode);

        const secret = (purpose: "databasePassword" | "adminPassword" | "secretKey", short: "db" | "admin" | "key", value: pulumi.Input<string>) =>
            hashedSecret(`${name}-${GRAFANA_SECRET_FILES[purpose]}`, tenantObjectName(args.userId, short), value, { parent: this });
        const secrets = [
            secretMount(secret("databasePassword", "db", args.store.password), GRAFANA_SECRET_FILES.databasePassword, GRAFANA_UID),
            secretMount(secret("adminPassword", "admin", args.store.adminPassword), GRAFANA_SECRET_FILES.adminPassword, GRAFANA_UID),
            secretMount(secret("secretKey", "key", args.store.secretKey), GRAFANA_SECRET_FILES.secretKey, GRAFANA_UID),
            secretMount(args.liveRedis.passwordSecret, GRAFANA_SECRET_FILES.liveRedisPassword, GRAFANA_UID),
        ];

        const datasources = datasourceProvisioning(`${name}-datasources`, tenantObjectName(args.userId, "ds"), args.datasources, GRAFANA_UID, { parent: this });
        const configs = [
            ...(datasources.configs ?? []),
            ...(args.jwtAuth
                ? [configMount(args.jwtAuth.publicKey, JWT_PUBLIC_KEY_PATH, 0o444, { uid: GRAFANA_UID, gid: GRAFANA_UID })]
                : []),
        ];

        const userLabel = { label: "pug.user", value: args.userId };
        const openFiles = args.openFilesLimit ?? DEFAULT_OPEN_FILES_LIMIT;
        this.service = swarmService(
            name,
            {
                name: this.serviceName,
                role: "grafana",
                labels: [userLabel],
                replicas: args.replicas ?? 3,
                container: {
                    image: args.image,
                    commands: ["/bin/sh", "-c", `ulimit -n ${openFiles} && exec ${args.entrypoint ?? "/run.sh"}`],
                    env,
                    secrets: [...secrets, ...datasources.secrets],
                    configs: configs.length ? configs : undefined,
                    labels: [userLabel],
                    healthcheck: {
                        tests: ["CMD-SHELL", grafanaHealthCheck(GRAFANA_PORT)],
                        interval: "10s",
                        timeout: "5s",
                        retries: 3,
                        // migrations on a fresh database take a while
                        startPeriod: swarmDuration(`${START_PERIOD_SECONDS}s`),
                    },
                    stopGracePeriod: "30s",
                },
                networkIds: args.networkIds,
                placement: {
                    constraints: args.placementConstraints,
                    prefs: [`spread=${args.spreadOver ?? "node.labels.zone"}`],
                    maxReplicas: args.maxReplicasPerNode,
                },
                memoryLimitMb: args.memoryLimitMb ?? DEFAULT_MEMORY.limitMb,
                memoryReservationMb: args.memoryReservationMb ?? DEFAULT_MEMORY.reservationMb,
                restart: { delay: "5s", window: "2m" },
                endpointMode: args.endpointMode ?? "vip",
                lifecycle: {
                    ...(args.registryAuth
                        ? { auth: { serverAddress: args.registryAuth.server, username: args.registryAuth.username, password: args.registryAuth.password && pulumi.secret(args.registryAuth.password) } }
                        : {}),
                    updateConfig: { ...GRAFANA_UPDATE_POLICY },
                    rollbackConfig: { ...GRAFANA_ROLLBACK_POLICY },
                    convergeConfig: grafanaConvergeConfig(args.replicas ?? 3),
                },
            },
            { parent: this },
        );
        this.registerOutputs({ serviceName: this.serviceName, url: this.url });
    }
}
