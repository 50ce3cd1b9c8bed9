import * as docker from "@pulumi/docker";
import * as mysql from "@pulumi/mysql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createPublicKey } from "crypto";
import { z } from "zod";
import { datasourceSecretProblems, SECRET_NAME_PATTERN } from "./specs/datasources";
import { hashedConfig, hashedSecret } from "./dockerObjects";
import { EmbeddedMysql, embeddedMysqlSettingsSchema, type EmbeddedMysqlSettings } from "./embeddedMysql";
import { FrontProxy, frontProxySettingsSchema, proxyJwtSchema, type FrontProxySettings, type ProxyJwt } from "./frontProxy";
import { GrafanaImage, grafanaImageProblem, registryServer, type RegistrySettings } from "./grafanaImage";
import { DEFAULT_GRAFANA_IMAGE, DEFAULT_MAX_REPLICAS, GrafanaTenant, grafanaServiceSettingsShape, grafanaTenantProblems, refineGrafanaService, type GrafanaServiceSettings, type GrafanaTenantArgs, MYSQL_TLS_MODES, type MysqlTls } from "./grafanaTenant";
import { LiveRedis, liveRedisSettingsSchema, type LiveRedisSettings } from "./liveRedis";
import { Monitoring, monitoringArgsSchema, type MonitoringArgs } from "./monitoring";
import { tenantServiceName, tenantUrl, type UrlMode } from "./specs/naming";
import { imageReferenceSchema } from "./specs/imageReference";
import { PUBLIC_HOST } from "./specs/nginxConfig";
import { channelsSchema, imageSettingsIssues, planRollout, userChannelProblems, type ReleaseChannel } from "./specs/releaseChannels";
import { Swarm, type SwarmArgs } from "./swarm";
import { TenantDatabase } from "./tenantDatabase";
import { settingsProblemLines } from "./specs/tenantSettings";
import { checkRestores } from "./users/userLifecycle";
import { USER_ID_PATTERN, type UserRecord } from "./users/users";
import { hostPort, repeats, schemaProblems, wholeAtLeast } from "./validation";

/*
 * The settings PugPlatform takes, as plain types of PUG's own: the stack's config reader
 * (stackConfig.ts) validates `pug:*` into them with zod schemas, and test/publicApi.test.ts checks
 * that those schemas produce exactly these types. They are written out rather than inferred from
 * the schemas so that the declarations another stack compiles against name no zod type (which a
 * consumer without esModuleInterop or skipLibCheck cannot type-check).
 */

/** A MySQL server of yours (`pug:mysql` with `endpoint`). */
export interface ExternalMysqlSettings {
    /** host:port `pulumi up` reaches the server at (the mysql provider). */
    endpoint: string;
    username: string;
    /** Made a Pulumi secret however it is passed. */
    password: pulumi.Input<string>;
    /** TLS to the server, for the mysql provider and every Grafana alike. @default none */
    tls?: MysqlTls;
    /** host:port the Grafanas reach the server at, when it differs from `endpoint`. @default endpoint */
    grafanaHost?: string;
}

/** MySQL for the users' databases: a server of yours, or one PUG runs in the Swarm. */
export type MysqlSettings = ({ mode: "external" } & ExternalMysqlSettings) | ({ mode: "embedded" } & EmbeddedMysqlSettings);

/** A Redis of yours for Grafana Live (`pug:redis` with `address`). */
export interface ExternalRedisSettings {
    /** host:port the Grafanas reach it at. */
    address: string;
    /** Made a Pulumi secret however it is passed. */
    password: pulumi.Input<string>;
}

/** Redis for Grafana Live: a server of yours, or one PUG runs in the Swarm. */
export type RedisSettings = ({ mode: "external" } & ExternalRedisSettings) | ({ mode: "embedded" } & LiveRedisSettings);

const mysqlTlsSchema = z
    .union([z.boolean(), z.string()])
    .transform((v) => String(v))
    .refine((v): v is MysqlTls => (MYSQL_TLS_MODES as readonly string[]).includes(v), {
        error: (iss) => `must be true, false or skip-verify, what the mysql provider takes (got ${JSON.stringify(iss.input)})`,
    });

/**
 * ExternalMysqlSettings' schema but the password, which the stack's config gives as a string and
 * a library caller as any Input. @internal
 */
export const externalMysqlSchema = z.strictObject({
    endpoint: hostPort,
    username: z.string({ error: "is required with endpoint" }).min(1, "is required with endpoint"),
    tls: mysqlTlsSchema.optional(),
    grafanaHost: hostPort.optional(),
});
/** ExternalRedisSettings' schema but the password (see externalMysqlSchema). @internal */
export const externalRedisSchema = z.strictObject({ address: hostPort });

/** The public host users' URLs are under (`pug:domain`). @internal */
export const domainSchema = z.string().regex(PUBLIC_HOST, "must be a host name (letters, digits, dots, dashes), optionally with :port");

/** Where users' Grafanas are served (`pug:urlMode`, see UrlMode). @internal */
export const urlModeSchema = z.enum(["path", "subdomain"], {
    error: 'must be "path" (https://DOMAIN/<id>/grafana/, the default) or "subdomain" (https://<id>.DOMAIN/)',
});

/**
 * Each user's secrets by name (`pug:userSecrets`): ids and names checked, the values' schema given
 * by the caller (strings from the config, any Input from code). @internal
 */
export function userSecretsSchema<Secret extends z.ZodType>(secret: Secret) {
    return z.record(z.string(), z.record(z.string(), secret)).superRefine((users, ctx) => {
        // key problems as refinements, so the message names the key
        for (const [user, secrets] of Object.entries(users)) {
            if (!USER_ID_PATTERN.test(user)) ctx.addIssue({ code: "custom", path: [user], message: "is not a user id" });
            for (const name of Object.keys(secrets as object)) {
                if (!SECRET_NAME_PATTERN.test(name)) ctx.addIssue({ code: "custom", path: [user, name], message: "a secret name is letters, digits, '_' or '-'" });
            }
        }
    });
}

/** Problems of a server setting, named under `key`: the external schema with a password required, or the embedded one. */
function serverProblems(key: string, settings: { mode: string; password?: unknown } | undefined, external: z.ZodObject, embedded: z.ZodObject): string[] {
    if (settings === undefined) return [];
    const { mode, ...fields } = settings;
    return schemaProblems(mode === "external" ? external.safeExtend({ password: z.custom((v) => v !== undefined && v !== "", "is required") }) : embedded, fields, key);
}

/** Defaults for every user's Grafana (`pug:grafana`): its service settings, its image or release channels. */
export interface GrafanaDefaults extends GrafanaServiceSettings {
    /** The image of every user when no channels are declared. @default DEFAULT_GRAFANA_IMAGE */
    image?: string;
    /** Replicas of a user who names none. @default 3 */
    replicas: number;
    /** The most replicas a user record may ask for. @default DEFAULT_MAX_REPLICAS (10) */
    maxReplicas: number;
    /** Release channels by name (see releaseChannels.ts). */
    channels?: Record<string, ReleaseChannel>;
    /** The channel of users who name none. */
    defaultChannel?: string;
}

/**
 * GrafanaDefaults' schema: the service settings' (GrafanaTenant's rules), the image or the
 * channels (releaseChannels' rules). `pug:grafana` is read with it, and PugPlatform checks its
 * `grafana` argument with it. @internal
 */
export const grafanaDefaultsSchema = z
    .strictObject({
        ...grafanaServiceSettingsShape,
        image: imageReferenceSchema.optional(),
        replicas: wholeAtLeast(1).default(3),
        maxReplicas: wholeAtLeast(1).default(DEFAULT_MAX_REPLICAS),
        channels: channelsSchema.optional(),
        defaultChannel: z.string().optional(),
    })
    .superRefine((v, ctx) => {
        refineGrafanaService(v, ctx);
        for (const issue of imageSettingsIssues(v)) ctx.addIssue({ code: "custom", ...issue });
    });

/** The platform's auth endpoint, and how every user's Grafana checks its tokens (`pug:proxy.jwt`). */
export interface ProxyJwtSettings extends ProxyJwt {
    /** The PEM public key the endpoint's tokens are signed with (the private key stays with the endpoint). */
    publicKey: string;
    /** Claim holding the login. @default "sub" */
    usernameClaim?: string;
    /** Claim holding the e-mail address. @default "email" */
    emailClaim?: string;
    /** JMESPath to the Grafana role in the claims (e.g. "role"). @default none (new users get Grafana's default role) */
    roleAttributePath?: string;
}

/** The front proxy and how users sign in (`pug:proxy`): FrontProxySettings, with the JWT's key and claims for the Grafanas. */
export interface ProxySettings extends Omit<FrontProxySettings, "jwt"> {
    /** The auth endpoint and its tokens; required when auth is "jwt", refused otherwise. */
    jwt?: ProxyJwtSettings;
}

/** Why `pem` cannot be the platform's public key for Grafana, or undefined. */
function publicKeyProblem(pem: string): string | undefined {
    if (/PRIVATE KEY/.test(pem)) return "is a private key: give the public key (the private key stays with the auth endpoint, and config values are stored in plain text)";
    if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) return "must be a PEM public key (-----BEGIN PUBLIC KEY-----)";
    try {
        createPublicKey(pem);
        return undefined;
    } catch (err) {
        return `is not a readable PEM public key (${(err as Error).message})`;
    }
}

/**
 * ProxySettings' schema: the front proxy's, its jwt extended with what the Grafanas need. The
 * stack's `pug:proxy` is read with it, and PugPlatform checks its `proxy` argument with it.
 * @internal
 */
export const proxySettingsSchema = frontProxySettingsSchema.safeExtend({
    jwt: proxyJwtSchema
        .safeExtend({
            publicKey: z.string().superRefine((pem, ctx) => {
                const problem = publicKeyProblem(pem);
                if (problem) ctx.addIssue({ code: "custom", message: problem });
            }),
            usernameClaim: z.string().min(1).optional(),
            emailClaim: z.string().min(1).optional(),
            roleAttributePath: z.string().min(1).optional(),
        })
        .optional(),
});

export interface PugPlatformArgs {
    /** Public host: user `<id>` is served at https://<domain>/<id>/grafana/ (or https://<id>.<domain>/, see urlMode). */
    domain: string;
    /** Where users' Grafanas are served: under a path of one origin, or one origin each (see UrlMode). @default "path" */
    urlMode?: UrlMode;
    /** The users, validated (see `parseUserList`). Inactive users keep their database, not their service. */
    users: UserRecord[];
    /** The Swarm manager and its networks. @default the local engine, unencrypted networks */
    swarm?: SwarmArgs & { managerAddress?: string };
    /** MySQL for the users' databases. @default an embedded MySQL service in the Swarm */
    mysql?: MysqlSettings;
    /** Redis for Grafana Live and alerting HA. @default an embedded Redis service in the Swarm */
    redis?: RedisSettings;
    /** Defaults for every user's Grafana; a user record overrides image and replicas. @default see GrafanaTenantArgs */
    grafana?: Partial<GrafanaDefaults>;
    /** The registry release channels' images are built into. @default none: channels run the official image at their version */
    registry?: RegistrySettings;
    /** Each user's secrets by name, which its datasources' credentials refer to. @default none */
    userSecrets?: Record<string, Record<string, pulumi.Input<string>>>;
    /**
     * Users added back after a removal, whose database still exists in MySQL: it is adopted
     * (imported) instead of created, which would fail. Each must be in `users`.
     * @default none
     */
    restoreUsers?: string[];
    /**
     * Prometheus (engines, proxy, every active user's Grafana) and the operations Grafana.
     * `enabled: false` leaves them out. Engine targets default to the swarm's declared nodes.
     * @default enabled, with MonitoringArgs' defaults
     */
    monitoring?: { enabled?: boolean } & Omit<MonitoringArgs, "users" | "networkIds">;
    /** The front proxy and how users sign in. @default grafana auth, see FrontProxySettings for the rest */
    proxy?: ProxySettings;
}

/**
 * Docker's default address pool for overlay networks: where the nginx exporter's address is, unless
 * the swarm was initialised with another pool (then set pug:proxy.statusAllow).
 */
export const SWARM_DEFAULT_ADDRESS_POOL = "10.0.0.0/8";

/** Whether the platform's monitoring scrapes the proxy's stub_status (through the nginx exporter). */
function proxyScraped(monitoring: PugPlatformArgs["monitoring"] = {}): boolean {
    return monitoring.enabled !== false && monitoring.proxyStatusUrl !== null;
}

/**
 * Who may read the proxy's stub_status: as configured, else, when the monitoring scrapes it, its
 * exporter (on the proxy network) too.
 */
function proxyStatusAllow(proxy: ProxySettings, scraped: boolean): string[] | undefined {
    return proxy.statusAllow ?? (scraped ? ["127.0.0.1", SWARM_DEFAULT_ADDRESS_POOL] : undefined);
}

/** What one channel's users run: a reference, and the GrafanaImage behind it for a channel with a version. */
interface ChannelImage {
    ref: pulumi.Input<string>;
    image?: GrafanaImage;
}

/** What would make the platform fail half-way, found up front: duplicates, each user's Grafana arguments, restores of unknown users. */
export function platformProblems(args: PugPlatformArgs): string[] {
    const problems: string[] = [];
    problems.push(...schemaProblems(domainSchema, args.domain, "domain"));
    problems.push(...schemaProblems(urlModeSchema, args.urlMode ?? "path", "urlMode"));
    problems.push(...schemaProblems(userSecretsSchema(z.unknown()), args.userSecrets ?? {}, "userSecrets"));
    problems.push(...serverProblems("mysql", args.mysql, externalMysqlSchema, embeddedMysqlSettingsSchema));
    problems.push(...serverProblems("redis", args.redis, externalRedisSchema, liveRedisSettingsSchema));
    // Monitoring is declared last: its settings are checked here, before anything is registered
    if (args.monitoring?.enabled !== false) problems.push(...schemaProblems(monitoringArgsSchema, args.monitoring ?? {}, "monitoring"));
    const grafana = args.grafana ?? {};
    problems.push(...schemaProblems(grafanaDefaultsSchema, grafana, "grafana"));
    for (const [channel, c] of Object.entries(grafana.channels ?? {})) {
        const problem = c.version === undefined ? undefined : grafanaImageProblem({ version: c.version, plugins: c.plugins, registry: args.registry });
        if (problem) problems.push(`grafana.channels.${channel}: ${problem}`);
    }
    problems.push(...userChannelProblems(args.users, grafana));
    problems.push(...schemaProblems(proxySettingsSchema, args.proxy ?? {}, "proxy"));
    problems.push(...repeats(args.users, (u) => u.id).map(({ item }) => `user "${item.id}" appears twice`));
    for (const user of args.users) {
        // the user's own replicas against the platform's bound (the defaults were checked above)
        if (user.replicas !== undefined) problems.push(...grafanaTenantProblems({ maxReplicas: grafana.maxReplicas, replicas: user.replicas }).map((p) => `user "${user.id}": ${p}`));
        problems.push(...datasourceSecretProblems(`user "${user.id}"`, user.id, user.datasources ?? [], Object.keys(args.userSecrets?.[user.id] ?? {})));
        problems.push(...settingsProblemLines(`user "${user.id}"`, user.settings));
    }
    const restoreConflicts = checkRestores(args.restoreUsers ?? [], args.users.map((u) => u.id)).problems;
    problems.push(...restoreConflicts.map((p) => `restoreUsers: ${p}`));
    return problems;
}

/**
 * The whole platform from a list of users: the Swarm's networks, MySQL (embedded or external),
 * the Live Redis (embedded or external), and per user a database and, while active, a Grafana.
 */
export class PugPlatform extends pulumi.ComponentResource {
    public readonly swarm: Swarm;
    /** Every user's id, active or not, in the order of the list: the mass-removal guard reads it back. */
    public readonly tenants: string[];
    /** The ids of the active users (those with a Grafana service): the guard counts deactivations by it. */
    public readonly activeTenants: string[];
    /** Public URL of each active user's Grafana, by user id. */
    public readonly urls: Record<string, string>;
    /** Swarm service name of each active user's Grafana, by user id. */
    public readonly serviceNames: Record<string, string>;
    public readonly databases: Record<string, TenantDatabase>;
    public readonly grafanas: Record<string, GrafanaTenant>;
    /** The image each active user's service runs, by user id: a digest when PUG built it. */
    public readonly images: Record<string, pulumi.Output<string>>;
    /** The images PUG builds, by release channel (channels with a version). */
    public readonly channelImages: Record<string, GrafanaImage>;
    /** Prometheus and the operations Grafana, unless disabled. */
    public readonly monitoring?: Monitoring;
    public readonly proxy: FrontProxy;

    constructor(name: string, args: PugPlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Everything a user record can get wrong is checked before super(), which registers the
        // component: one bad record stops the run with nothing changed, not half a platform.
        const problems = platformProblems(args);
        if (problems.length) throw new Error(problems.map((p) => `PugPlatform ${name}: ${p}`).join("\n"));
        super("pug:platform:PugPlatform", name, {}, opts);
        const restored = new Set(args.restoreUsers ?? []);

        this.swarm = new Swarm(`${name}-swarm`, args.swarm, { parent: this });
        const swarmManaged = { parent: this, providers: { docker: this.swarm.provider } };
        const dataNetworkIds = [this.swarm.dataNetwork.id];

        const database = this.databaseServer(name, args.mysql ?? { mode: "embedded" }, dataNetworkIds, args.swarm?.managerAddress, swarmManaged);
        const liveRedis = this.liveRedis(name, args.redis ?? { mode: "embedded" }, dataNetworkIds, swarmManaged);

        // One seed for the platform: each user's secret_key and admin password are derived from
        // it, so they survive the user's removal (see TenantDatabaseArgs.secretSeed).
        const secretSeed = new random.RandomPassword(`${name}-secret-seed`, { length: 64, special: false }, { parent: this });
        const grafana = args.grafana ?? {};
        const proxySettings = args.proxy ?? {};
        const { jwt: _grafanaSide, ...proxyArgs } = proxySettings;
        const jwt = proxySettings.auth === "jwt" ? proxySettings.jwt : undefined;
        // One key for every user's Grafana: not secret, so a Docker config.
        const jwtAuth: GrafanaTenantArgs["jwtAuth"] = jwt && {
            publicKey: hashedConfig(`${name}-jwt-public-key`, "pug-jwt-public-key", jwt.publicKey, { parent: this, provider: this.swarm.provider }),
            grafanaHeader: jwt.grafanaHeader,
            usernameClaim: jwt.usernameClaim,
            emailClaim: jwt.emailClaim,
            roleAttributePath: jwt.roleAttributePath,
        };
        const channelImages = this.releaseChannelImages(name, grafana.channels ?? {}, args.registry, swarmManaged);
        this.channelImages = {};
        for (const [channel, { image }] of Object.entries(channelImages)) if (image) this.channelImages[channel] = image;
        this.tenants = args.users.map((u) => u.id);
        this.activeTenants = args.users.filter((u) => u.active).map((u) => u.id);
        this.urls = {};
        this.serviceNames = {};
        this.databases = {};
        this.grafanas = {};
        this.images = {};
        // A user's children carry the platform's name, so two platforms can live in one stack; they
        // were named `user-<id>` before, and the alias moves such a stack's state without a change.
        const userChild = (id: string) => ({ name: `${name}-user-${id}`, aliases: [{ name: `user-${id}` }] });
        for (const user of args.users) {
            const child = userChild(user.id);
            this.databases[user.id] = new TenantDatabase(
                child.name,
                { userId: user.id, adoptExistingDatabase: restored.has(user.id), secretSeed: secretSeed.result },
                { parent: this, providers: { mysql: database.provider }, aliases: child.aliases },
            );
            if (!user.active) continue;
            this.urls[user.id] = tenantUrl(args.domain, user.id, args.urlMode);
            this.serviceNames[user.id] = tenantServiceName(user.id);
        }

        // Services are declared wave by wave: each waits for the previous wave's services, so one
        // `pulumi up` moves the canary users first and stops if their rollout fails.
        const active = new Map(args.users.filter((u) => u.active).map((u) => [u.id, u]));
        const rollout = planRollout([...active.values()], grafana);
        for (const id of rollout.order) {
            const user = active.get(id)!;
            const store = this.databases[id];
            const source = rollout.sources[id];
            const image = source.kind === "channel" ? channelImages[source.channel].ref : source.image;
            // PUG's own builds are pulled from the registry with its credentials
            const registry = source.kind === "channel" && channelImages[source.channel].image?.image ? args.registry : undefined;
            const child = userChild(id);
            this.grafanas[id] = new GrafanaTenant(
                child.name,
                {
                    ...grafana,
                    userId: id,
                    domain: args.domain,
                    urlMode: args.urlMode,
                    image,
                    registryAuth: registry?.username ? { server: registryServer(registry.repository), username: registry.username, password: registry.password } : undefined,
                    replicas: user.replicas ?? grafana.replicas,
                    theme: user.theme,
                    settings: user.settings,
                    datasources: user.datasources ? { list: user.datasources, secrets: args.userSecrets?.[id] } : undefined,
                    store,
                    databaseHost: database.grafanaHost,
                    databaseTls: database.tls,
                    liveRedis,
                    networkIds: [this.swarm.proxyNetwork.id, this.swarm.dataNetwork.id],
                    jwtAuth,
                    endpointMode: this.swarm.endpointMode,
                },
                // The service is created after the grant, so Grafana's first start can migrate.
                { ...swarmManaged, aliases: child.aliases, dependsOn: [store, ...rollout.waitsFor[id].map((earlier) => this.grafanas[earlier])] },
            );
            this.images[id] = pulumi.output(image);
        }

        // Routes the active users only: an inactive user's path answers 404.
        this.proxy = new FrontProxy(
            `${name}-proxy`,
            {
                ...proxyArgs,
                jwt: jwt && { endpoint: jwt.endpoint, tokenHeader: jwt.tokenHeader, grafanaHeader: jwt.grafanaHeader },
                statusAllow: proxyStatusAllow(proxySettings, proxyScraped(args.monitoring)),
                userIds: [...active.keys()],
                urls: args.urlMode === "subdomain" ? { mode: "subdomain", domain: args.domain } : { mode: "path" },
                networkIds: [this.swarm.proxyNetwork.id],
                endpointMode: this.swarm.endpointMode,
            },
            swarmManaged,
        );

        const monitoring = args.monitoring ?? {};
        if (monitoring.enabled !== false) {
            this.monitoring = new Monitoring(
                `${name}-monitoring`,
                {
                    ...monitoring,
                    users: Object.keys(this.grafanas),
                    urlMode: args.urlMode,
                    // Prometheus reaches every user's replicas, and the proxy, on the proxy network.
                    networkIds: [this.swarm.proxyNetwork.id],
                    endpointMode: this.swarm.endpointMode,
                    engineTargets: { ...this.swarm.engineMetricsTargets, ...monitoring.engineTargets },
                    grafanaImage: monitoring.grafanaImage ?? grafana.image ?? DEFAULT_GRAFANA_IMAGE,
                },
                swarmManaged,
            );
        }
        this.registerOutputs({ tenants: this.tenants, activeTenants: this.activeTenants, urls: this.urls, serviceNames: this.serviceNames, images: this.images, proxyPublishedPort: this.proxy.publishedPort });
    }

    /**
     * Each release channel's image: a GrafanaImage (built when there is a registry) for a channel
     * with a version, the reference itself for a channel with a ready-made image.
     */
    private releaseChannelImages(
        name: string,
        channels: Record<string, ReleaseChannel>,
        registry: RegistrySettings | undefined,
        opts: pulumi.ComponentResourceOptions,
    ): Record<string, ChannelImage> {
        const images: Record<string, ChannelImage> = {};
        for (const [channel, c] of Object.entries(channels)) {
            if (c.version === undefined) {
                images[channel] = { ref: c.image! };
                continue;
            }
            const image = new GrafanaImage(`${name}-grafana-${channel}`, { version: c.version, plugins: c.plugins, registry }, opts);
            images[channel] = { ref: image.ref, image };
        }
        return images;
    }

    /** MySQL: the provider that creates users' databases, and the host Grafana connects to. */
    private databaseServer(
        name: string,
        settings: MysqlSettings,
        networkIds: pulumi.Input<string>[],
        managerAddress: string | undefined,
        opts: pulumi.ComponentResourceOptions,
    ): { provider: mysql.Provider; grafanaHost: string; tls?: MysqlTls } {
        if (settings.mode === "external") {
            const provider = new mysql.Provider(
                `${name}-mysql`,
                // a secret however the caller passed it: a plain string must not reach the state as one
                { endpoint: settings.endpoint, username: settings.username, password: pulumi.secret(settings.password), tls: settings.tls },
                { parent: this },
            );
            return { provider, grafanaHost: settings.grafanaHost ?? settings.endpoint, tls: settings.tls };
        }
        const embedded = new EmbeddedMysql(
            `${name}-mysql`,
            {
                networkIds,
                managerAddress: managerAddress ?? this.swarm.managerAddress,
                image: settings.image,
                publishedPort: settings.publishedPort,
                memoryLimitMb: settings.memoryLimitMb,
                endpointMode: this.swarm.endpointMode,
            },
            opts,
        );
        const provider = new mysql.Provider(
            `${name}-mysql`,
            { endpoint: embedded.providerEndpoint, username: "root", password: embedded.rootPassword },
            // The provider connects when a database is created: only once the server runs.
            { parent: this, dependsOn: [embedded] },
        );
        return { provider, grafanaHost: embedded.address };
    }

    /** Redis for Live: its address on the overlay and a Docker secret with its password. */
    private liveRedis(
        name: string,
        settings: RedisSettings,
        networkIds: pulumi.Input<string>[],
        opts: pulumi.ComponentResourceOptions,
    ): { address: string; passwordSecret: docker.Secret } {
        if (settings.mode === "external") {
            const passwordSecret = hashedSecret(`${name}-live-redis-password`, "pug-live-redis-password", settings.password, {
                parent: this,
                provider: this.swarm.provider,
            });
            return { address: settings.address, passwordSecret };
        }
        const redis = new LiveRedis(
            `${name}-live-redis`,
            { networkIds, image: settings.image, memoryLimitMb: settings.memoryLimitMb, endpointMode: this.swarm.endpointMode },
            opts,
        );
        return { address: redis.address, passwordSecret: redis.passwordSecret };
    }
}
