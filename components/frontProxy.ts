import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { configMount, durationMs, hashedConfig, swarmDuration, swarmService } from "./dockerObjects";
import { GRAFANA_PORT } from "./grafanaTenant";
import { DEFAULT_JWT_HEADER } from "./specs/naming";
import type { EndpointMode } from "./swarm";
import { USER_ID_PATTERN } from "./users/users";
import { portNumber, repeats, schemaProblems, wholeAtLeast } from "./validation";
import {
    ADDRESS_OR_CIDR,
    BARE_TOKEN,
    DEFAULT_PROXY_LIMITS,
    DEFAULT_TOKEN_HEADER,
    ENDPOINT_URL,
    HEADER_NAME,
    LIVE_PING_INTERVAL_SECONDS,
    MIN_OPEN_FILES_PER_WORKER,
    nginxConfig,
    PUBLIC_HOST,
    type NginxProxySpec,
    type ProxyUrls,
} from "./specs/nginxConfig";

/** The proxy's Swarm service, also its name on the overlay network. */
export const DEFAULT_PROXY_SERVICE_NAME = "pug-proxy";
/** The official nginx image; 1.28 is the stable line. */
export const DEFAULT_NGINX_IMAGE = "nginx:1.28.0-alpine";
/** Where users (or the TLS terminator) connect inside the task; published on the node. */
export const PROXY_LISTEN_PORT = 8080;
/** The monitoring listener (stub_status); never published. */
export const PROXY_STATUS_PORT = 8081;
/** Where the official image reads its configuration. */
const NGINX_CONF_PATH = "/etc/nginx/nginx.conf";
/** FrontProxySettings.updateOrder when none is given. */
const DEFAULT_UPDATE_ORDER = "start-first";
/** FrontProxySettings.stopGracePeriod when none is given. */
const DEFAULT_STOP_GRACE_PERIOD = "30s";
/** Time Docker needs after nginx has exited to remove its container, which the docker provider waits for within the grace period. */
const CONTAINER_REMOVAL_SECONDS = 5;

/** The platform's auth endpoint, as the proxy asks it (auth "jwt"). */
export interface ProxyJwt {
    /** The platform's auth endpoint (http:// or https://), asked about every request. */
    endpoint: string;
    /** Header of the endpoint's answer that holds the signed JWT. @default "X-Pug-Token" */
    tokenHeader?: string;
    /** Header the proxy passes the JWT to Grafana in, which Grafana's [auth.jwt] reads. @default "X-JWT-Assertion" */
    grafanaHeader?: string;
}

/**
 * The front proxy's settings: FrontProxyArgs but the users and the networks, which the platform
 * supplies. `pug:proxy` takes these as they are (plus the JWT's key and claims for the Grafanas).
 */
export interface FrontProxySettings {
    /**
     * How users sign in: Grafana's own login, or the platform's auth endpoint, which nginx asks
     * about every request (auth_request) and whose signed JWT it passes to Grafana, replacing
     * whatever the client sent.
     * @default "grafana"
     */
    auth?: "grafana" | "jwt";
    /** The auth endpoint; required when auth is "jwt", refused otherwise. */
    jwt?: ProxyJwt;
    /** The nginx image: the official one, or one built from it. @default DEFAULT_NGINX_IMAGE */
    image?: string;
    /** Tasks, at most one per node (each publishes the port on its node). @default 2 */
    replicas?: number;
    /** Port published in host mode on every node that runs a task. @default 80 */
    publishedPort?: number;
    /**
     * Rolling-update order. `start-first` starts the new task before stopping the old one, so it
     * needs an eligible node without a proxy task (a host-mode port is taken on the old task's
     * node); with no such node the update waits forever. Use `stop-first` where every eligible
     * node runs a task (a one-node Swarm).
     * @default "start-first"
     */
    updateOrder?: "start-first" | "stop-first";
    /**
     * How long a stopping task (SIGQUIT) may run before Swarm kills it. It is also how long the
     * docker provider waits for the task's container to be gone when it deletes the service
     * (`pulumi destroy`, a replacement): a container still there fails the deletion.
     * @default "30s"
     */
    stopGracePeriod?: string;
    /**
     * Seconds a stopping nginx lets running requests and open connections go on before it closes
     * them and exits. Live WebSockets never end by themselves, so a stopping task lasts this long
     * whenever anyone has Grafana open; with `stop-first` nothing listens on the node's port
     * meanwhile, so users are refused this long on every update of the proxy (a changed user
     * list). Must end at least 5 s before `stopGracePeriod`, for Docker to remove the container.
     * @default 3 with stop-first, 20 with start-first
     */
    shutdownTimeoutSeconds?: number;
    /** Memory limit per task, MiB. @default 512 */
    memoryLimitMb?: number;
    /** Concurrent WebSockets (Grafana Live) one task must hold; each costs two connections. @default 10000 */
    webSockets?: number;
    /** Open files one nginx worker may use: at most the nodes' hard limit per process. @default 20000 */
    openFilesPerWorker?: number;
    /** Seconds a connection may stay silent before nginx drops it; above Live's 25 s ping interval. @default 90 */
    idleTimeoutSeconds?: number;
    /** Largest request body (dashboard imports), MiB. @default 32 */
    clientMaxBodyMb?: number;
    /** Proxies in front (the TLS terminator) whose X-Forwarded-For/-Proto are believed. @default none */
    trustedProxies?: string[];
    /** Addresses/CIDRs that may read stub_status on port 8081. @default ["127.0.0.1"] */
    statusAllow?: string[];
    /** Placement constraints of the tasks. @default none */
    placementConstraints?: string[];
}

/** A duration as Swarm takes it: a whole number of ms, s, m or h. */
const DURATION = /^\d+(ms|s|m|h)$/;
const headerName = z.string().regex(HEADER_NAME, "must be a header name (letters, digits, dashes)");
const addressOrCidr = z.string().regex(ADDRESS_OR_CIDR, "must be an IP address or CIDR");

/** The auth endpoint's fields. @internal */
export const proxyJwtSchema = z.strictObject({
    endpoint: z.string().regex(ENDPOINT_URL, "must be an http:// or https:// URL"),
    tokenHeader: headerName.optional(),
    grafanaHeader: headerName.optional(),
});

/**
 * FrontProxySettings' schema: their one set of checks, for the component's arguments and for
 * `pug:proxy` alike (test/publicApi.test.ts checks it gives exactly FrontProxySettings).
 * @internal
 */
export const frontProxySettingsSchema = z
    .strictObject({
        auth: z.enum(["grafana", "jwt"], { error: 'must be "grafana" or "jwt"' }).optional(),
        jwt: proxyJwtSchema.optional(),
        image: z.string().min(1).optional(),
        replicas: wholeAtLeast(1).optional(),
        publishedPort: portNumber.optional(),
        updateOrder: z.enum(["start-first", "stop-first"], { error: 'must be "start-first" or "stop-first"' }).optional(),
        stopGracePeriod: z.string().regex(DURATION, 'must be a duration like "30s"').optional(),
        shutdownTimeoutSeconds: wholeAtLeast(1).optional(),
        memoryLimitMb: wholeAtLeast(64).optional(),
        webSockets: wholeAtLeast(1).optional(),
        openFilesPerWorker: wholeAtLeast(MIN_OPEN_FILES_PER_WORKER).optional(),
        idleTimeoutSeconds: z
            .number()
            .int(`must be a whole number above Live's ping interval of ${LIVE_PING_INTERVAL_SECONDS}s`)
            .min(LIVE_PING_INTERVAL_SECONDS + 1, `must be a whole number above Live's ping interval of ${LIVE_PING_INTERVAL_SECONDS}s`)
            .optional(),
        clientMaxBodyMb: wholeAtLeast(1).optional(),
        trustedProxies: z.array(addressOrCidr).optional(),
        statusAllow: z.array(addressOrCidr).optional(),
        placementConstraints: z.array(z.string()).optional(),
    })
    .superRefine((v, ctx) => {
        if (v.auth === "jwt" && !v.jwt) ctx.addIssue({ code: "custom", path: ["jwt"], message: 'is required when auth is "jwt" ({ endpoint, ... })' });
        if (v.auth !== "jwt" && v.jwt) ctx.addIssue({ code: "custom", path: ["jwt"], message: 'applies only when auth is "jwt"' });
        // a grace period that is no duration has its own problem already
        if (v.stopGracePeriod !== undefined && !DURATION.test(v.stopGracePeriod)) return;
        const grace = v.stopGracePeriod ?? DEFAULT_STOP_GRACE_PERIOD;
        const shutdown = proxyShutdownTimeoutSeconds(v);
        if (shutdown + CONTAINER_REMOVAL_SECONDS > durationMs(grace) / 1000) {
            const which = v.shutdownTimeoutSeconds === undefined ? `${shutdown}, the default with ${v.updateOrder ?? DEFAULT_UPDATE_ORDER}` : String(shutdown);
            ctx.addIssue({
                code: "custom",
                path: ["shutdownTimeoutSeconds"],
                message: `(${which}) must end at least ${CONTAINER_REMOVAL_SECONDS}s before stopGracePeriod (${grace}), for Docker to remove the container before the docker provider stops waiting`,
            });
        }
    });

export interface FrontProxyArgs extends FrontProxySettings {
    /** Users routed to (the active ones): `/<id>/grafana/` goes to the service `grafana-<id>`. */
    userIds: string[];
    /** Whether the path or the host (`<id>.<domain>`) names the user. @default { mode: "path" } */
    urls?: ProxyUrls;
    /** How the proxy's own service is addressed on the overlay (see EndpointMode). @default "vip" */
    endpointMode?: EndpointMode;
    /** Overlay networks (ids) on which the users' Grafanas are reached: the Swarm's proxy network. */
    networkIds: pulumi.Input<string>[];
    /** DNS server that knows the users' service names. @default "127.0.0.11" (Docker's embedded DNS) */
    resolver?: string;
    /** Name of the Swarm service. @default "pug-proxy" */
    serviceName?: string;
}

/** FrontProxyArgs' schema: the settings', and the platform's side. */
const frontProxyArgsSchema = frontProxySettingsSchema.safeExtend({
    userIds: z.array(z.string().regex(USER_ID_PATTERN, `is not a user id (${USER_ID_PATTERN})`)).superRefine((ids, ctx) => {
        for (const { item, index } of repeats(ids, (id) => id)) ctx.addIssue({ code: "custom", path: [index], message: `"${item}" appears twice` });
    }),
    urls: z
        .discriminatedUnion("mode", [z.strictObject({ mode: z.literal("path") }), z.strictObject({ mode: z.literal("subdomain"), domain: z.string().regex(PUBLIC_HOST, "must be a host name, optionally with :port") })])
        .optional(),
    endpointMode: z.enum(["vip", "dnsrr"]).optional(),
    networkIds: z.array(z.unknown()),
    resolver: z.string().regex(BARE_TOKEN, "must be an address or host name").optional(),
    serviceName: z.string().min(1).optional(),
});

/** `defaults`, each replaced by the value `given` has for it unless that is undefined. */
function withDefaults<T extends object>(defaults: T, given: Partial<T> = {}): T {
    return Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, given[k as keyof T] ?? v])) as T;
}

/** The nginx spec a FrontProxy with these arguments runs, defaults applied. */
export function frontProxySpec(args: Omit<FrontProxyArgs, "networkIds">): NginxProxySpec {
    const jwt = args.auth === "jwt" ? args.jwt : undefined;
    return {
        userIds: args.userIds,
        urls: args.urls ?? { mode: "path" },
        grafanaPort: GRAFANA_PORT,
        auth: jwt ? { mode: "jwt", endpoint: jwt.endpoint, tokenHeader: jwt.tokenHeader ?? DEFAULT_TOKEN_HEADER, grafanaHeader: jwt.grafanaHeader ?? DEFAULT_JWT_HEADER } : { mode: "grafana" },
        limits: withDefaults(DEFAULT_PROXY_LIMITS, { webSockets: args.webSockets, openFilesPerWorker: args.openFilesPerWorker, idleTimeoutSeconds: args.idleTimeoutSeconds, clientMaxBodyMb: args.clientMaxBodyMb }),
        resolver: args.resolver ?? "127.0.0.11",
        // Docker's DNS says 600 s; a task that moved is followed within 10 s instead.
        resolverValidSeconds: 10,
        listenPort: PROXY_LISTEN_PORT,
        shutdownTimeoutSeconds: proxyShutdownTimeoutSeconds(args),
        statusPort: PROXY_STATUS_PORT,
        statusAllow: args.statusAllow ?? ["127.0.0.1"],
        trustedProxies: args.trustedProxies ?? [],
    };
}

/** Why these arguments cannot make a proxy, one line per problem naming the field. */
export function frontProxyProblems(args: FrontProxyArgs): string[] {
    return schemaProblems(frontProxyArgsSchema, args);
}

/**
 * How long a stopping nginx waits for open connections: long enough for running requests with
 * start-first, where another task already serves; short with stop-first, where the node's port
 * refuses users until the old task has gone (open WebSockets held it for the whole grace
 * period before: 30 s without a proxy, measured by the drills).
 */
export function proxyShutdownTimeoutSeconds(args: Pick<FrontProxySettings, "updateOrder" | "shutdownTimeoutSeconds">): number {
    return args.shutdownTimeoutSeconds ?? ((args.updateOrder ?? DEFAULT_UPDATE_ORDER) === "stop-first" ? 3 : 20);
}

/** One task at a time; a new task that does not stay healthy rolls the update back. */
export function frontProxyUpdatePolicy(order: "start-first" | "stop-first") {
    return { parallelism: 1, order, failureAction: "rollback", monitor: "30s", maxFailureRatio: "0", delay: "10s" } as const;
}

/** The health check: nginx answers /healthz itself (busybox wget in the Alpine image, curl in others). */
export function frontProxyHealthCheck(): string[] {
    const url = `http://127.0.0.1:${PROXY_LISTEN_PORT}/healthz`;
    return ["CMD-SHELL", `wget -q -O /dev/null ${url} || curl -fsS -o /dev/null ${url}`];
}

/**
 * The front proxy: nginx routing https://DOMAIN/<id>/grafana/ to each user's Grafana over the
 * overlay, carrying WebSockets (Grafana Live), keeping users apart (see nginxConfig.ts), and in
 * jwt mode asking the platform's auth endpoint about every request. Its nginx.conf is a Docker
 * config named by content hash, so a changed user list rolls the tasks onto a new config.
 */
export class FrontProxy extends pulumi.ComponentResource {
    /** The nginx.conf the tasks run. */
    public readonly configText: string;
    public readonly config: docker.ServiceConfig;
    public readonly service: docker.Service;
    /** The port users (or the TLS terminator) reach on every node that runs a task. */
    public readonly publishedPort: number;

    constructor(name: string, args: FrontProxyArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Checked before super(), which registers the component: bad arguments change nothing.
        const problems = frontProxyProblems(args);
        if (problems.length) throw new Error(`FrontProxy ${name}: ${problems.join("; ")}`);
        super("pug:proxy:FrontProxy", name, {}, opts);

        const serviceName = args.serviceName ?? DEFAULT_PROXY_SERVICE_NAME;
        this.publishedPort = args.publishedPort ?? 80;
        this.configText = nginxConfig(frontProxySpec(args));
        this.config = hashedConfig(`${name}-nginx-conf`, `${serviceName}-nginx-conf`, this.configText, { parent: this });
        const order = args.updateOrder ?? DEFAULT_UPDATE_ORDER;

        this.service = swarmService(
            name,
            {
                name: serviceName,
                role: "proxy",
                replicas: args.replicas ?? 2,
                container: {
                    image: args.image ?? DEFAULT_NGINX_IMAGE,
                    configs: [configMount(this.config, NGINX_CONF_PATH, 0o444)],
                    env: { NGINX_ENTRYPOINT_QUIET_LOGS: "1" },
                    healthcheck: { tests: frontProxyHealthCheck(), interval: "10s", timeout: "3s", retries: 3, startPeriod: "5s" },
                    // SIGQUIT is nginx's graceful stop: no new connections, running requests
                    // finish; what is still open after shutdownTimeoutSeconds (Live WebSockets)
                    // nginx closes itself (worker_shutdown_timeout), well before the kill.
                    stopSignal: "SIGQUIT",
                    stopGracePeriod: swarmDuration(args.stopGracePeriod ?? DEFAULT_STOP_GRACE_PERIOD),
                },
                networkIds: args.networkIds,
                // Two tasks on one node would both need the node's published port.
                placement: { constraints: args.placementConstraints, maxReplicas: 1 },
                memoryLimitMb: args.memoryLimitMb ?? 512,
                restart: { delay: "2s" },
                endpointMode: args.endpointMode ?? "vip",
                // Host mode: the routing mesh (ingress) is not used; each node's own task answers.
                ports: [{ targetPort: PROXY_LISTEN_PORT, publishedPort: this.publishedPort, publishMode: "host", protocol: "tcp" }],
                lifecycle: { updateConfig: frontProxyUpdatePolicy(order), rollbackConfig: { ...frontProxyUpdatePolicy(order), failureAction: "pause" } },
            },
            { parent: this },
        );
        this.registerOutputs({ configName: this.config.name, publishedPort: this.publishedPort });
    }
}
