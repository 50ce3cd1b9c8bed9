import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { registrySchema, type RegistrySettings } from "../components/grafanaImage";
import { embeddedMysqlSettingsSchema } from "../components/embeddedMysql";
import { liveRedisSettingsSchema } from "../components/liveRedis";
import { monitoringSettingsSchema, type MonitoringSettings } from "../components/monitoring";
import { channelRegistryProblems } from "../components/specs/releaseChannels";
import { swarmSchema } from "../components/swarm";
import type { SwarmNode } from "../components/swarmNodes";
import type { UrlMode } from "../components/specs/naming";
import { domainSchema, externalMysqlSchema, externalRedisSchema, grafanaDefaultsSchema, proxySettingsSchema, urlModeSchema, userSecretsSchema, type GrafanaDefaults, type MysqlSettings, type ProxySettings, type RedisSettings } from "../components/pugPlatform";
import { DuplicateKeyError, InvalidInputError, parseJsonText, parseOrThrow, problemCollector } from "../components/validation";

/**
 * The stack's configuration: the user-facing contract of `pulumi config`. Every key is validated
 * here, before any resource is registered, and errors name the key and the field.
 */

/** `pug:docker`: the Swarm's settings (secrets as strings), and the manager's address for the mysql provider. */
export const dockerConfigSchema = swarmSchema(z.string(), z.strictObject).safeExtend({ managerAddress: z.string().min(1).optional() });

/** `pug:monitoring`: the monitoring's settings, and whether it runs at all. */
export const monitoringSchema = monitoringSettingsSchema.safeExtend({ enabled: z.boolean().default(true) });

/** `pug:mysql` with `endpoint`: an external MySQL server, its password a string here. */
const externalMysqlConfigSchema = externalMysqlSchema.safeExtend({
    password: z.string({ error: "is required with endpoint (set it with `pulumi config set --secret --path pug:mysql.password`)" }).min(1),
});
/** `pug:redis` with `address`: an external Redis, its password a string here. */
const externalRedisConfigSchema = externalRedisSchema.safeExtend({
    password: z.string({ error: "is required with address (set it with `pulumi config set --secret --path pug:redis.password`)" }).min(1),
});

/** `pug:userSecrets`: per user, secrets by name, strings here (made Pulumi secrets on reading). */
const userSecretsConfigSchema = userSecretsSchema(z.string().min(1));

export type DockerConfig = z.output<typeof dockerConfigSchema>;
/** `pug:docker` as the platform takes it: the nodes' private keys are Pulumi secrets. */
export type DockerSettings = Omit<DockerConfig, "nodes"> & { nodes?: SwarmNode[] };

/** The stack's settings, validated; secrets wrapped as Pulumi secrets. */
export interface StackSettings {
    domain: string;
    /** `pug:urlMode`: where users' Grafanas are served. */
    urlMode: UrlMode;
    docker: DockerSettings;
    mysql: MysqlSettings;
    redis: RedisSettings;
    grafana: GrafanaDefaults;
    /** The registry channel images are built into. @default none: channels run official images */
    registry?: RegistrySettings;
    /** Each user's secrets by name, as Pulumi secrets. */
    userSecrets: Record<string, Record<string, pulumi.Output<string>>>;
    monitoring: MonitoringSettings & { enabled: boolean };
    proxy: ProxySettings;
}

function hasKey(value: unknown, k: string): boolean {
    return typeof value === "object" && value !== null && k in value;
}

/**
 * Reads a key that names either an external server (when `marker` is present) or settings of the
 * embedded one. The marker decides the mode, so a typo in the other fields is reported precisely
 * instead of as "matches neither"; the external server's password becomes a Pulumi secret.
 */
function readServerSettings<External extends z.ZodType<{ password: string }>, Embedded extends z.ZodType<object>>(
    config: pulumi.Config,
    k: string,
    marker: string,
    externalSchema: External,
    embeddedSchema: Embedded,
) {
    const raw = readObject(config, k) ?? {};
    const source = `${config.name}:${k}`;
    if (hasKey(raw, marker)) {
        const v = parseOrThrow(externalSchema, source, raw);
        return { mode: "external" as const, ...v, password: pulumi.secret(v.password) };
    }
    return { mode: "embedded" as const, ...parseOrThrow(embeddedSchema, source, raw) };
}

/**
 * Reads a structured key as plain data; a value that is not JSON, or gives a key twice (which
 * JSON.parse, and so config.getObject, would settle silently), is reported under its key.
 */
function readObject(config: pulumi.Config, key: string): unknown {
    const raw = config.get(key);
    if (raw === undefined) return undefined;
    try {
        return parseJsonText(raw);
    } catch (err) {
        if (err instanceof DuplicateKeyError) throw new InvalidInputError([`${config.name}:${key}: ${err.message}`]);
        throw new InvalidInputError([`${config.name}:${key}: is not valid JSON/YAML structure (${(err as Error).message})`]);
    }
}

/**
 * Reads and validates every platform key of `config` (all but the user list, which has sources of
 * its own). Collects the problems of all keys before throwing, so one run shows them all.
 */
export function readStackSettings(config: pulumi.Config): StackSettings {
    const { problems, attempt, throwIfAny } = problemCollector();
    const key = (k: string) => `${config.name}:${k}`;

    const domain = attempt(() => {
        const value = config.get("domain");
        if (value === undefined) throw new InvalidInputError([`${key("domain")}: is required (the public host, e.g. grafana.example.com)`]);
        return parseOrThrow(domainSchema, key("domain"), value);
    });
    const urlMode = attempt(() => parseOrThrow(urlModeSchema, key("urlMode"), config.get("urlMode") ?? "path"));
    const docker = attempt((): DockerSettings => {
        const v = parseOrThrow(dockerConfigSchema, key("docker"), readObject(config, "docker") ?? {});
        return { ...v, nodes: v.nodes?.map((n) => ({ ...n, privateKey: n.privateKey === undefined ? undefined : pulumi.secret(n.privateKey) })) };
    });
    const mysql = attempt((): MysqlSettings => readServerSettings(config, "mysql", "endpoint", externalMysqlConfigSchema, embeddedMysqlSettingsSchema));
    const redis = attempt((): RedisSettings => readServerSettings(config, "redis", "address", externalRedisConfigSchema, liveRedisSettingsSchema));
    const grafana = attempt(() => parseOrThrow(grafanaDefaultsSchema, key("grafana"), readObject(config, "grafana") ?? {}));
    let registryGiven = false;
    const registry = attempt((): RegistrySettings | undefined => {
        const raw = readObject(config, "registry");
        if (raw === undefined) return undefined;
        registryGiven = true;
        const v = parseOrThrow(registrySchema, key("registry"), raw);
        return { ...v, password: v.password === undefined ? undefined : pulumi.secret(v.password) };
    });
    const userSecrets = attempt(() =>
        Object.fromEntries(
            Object.entries(parseOrThrow(userSecretsConfigSchema, key("userSecrets"), readObject(config, "userSecrets") ?? {})).map(([user, secrets]) => [
                user,
                Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, pulumi.secret(value)])),
            ]),
        ),
    );
    if (grafana && !registryGiven) problems.push(...channelRegistryProblems(grafana.channels, false).map((p) => `${key("grafana")}: ${p}`));
    const monitoring = attempt(() => parseOrThrow(monitoringSchema, key("monitoring"), readObject(config, "monitoring") ?? {}));
    if (docker?.nodes?.length && monitoring?.engineTargets) {
        problems.push(`${key("monitoring")}: engineTargets: PUG scrapes the engines of pug:docker.nodes itself; engineTargets is for a swarm PUG did not make`);
    }

    const proxy = attempt(() => parseOrThrow(proxySettingsSchema, key("proxy"), readObject(config, "proxy") ?? {}));

    throwIfAny();
    return { domain: domain!, urlMode: urlMode!, docker: docker!, mysql: mysql!, redis: redis!, grafana: grafana!, registry, userSecrets: userSecrets!, monitoring: monitoring!, proxy: proxy! };
}
