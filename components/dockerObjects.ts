import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { contentHash } from "./specs/naming";

/**
 * Docker secrets and configs are immutable: the engine refuses to change their data. Naming each
 * by a hash of its content makes a changed value a new object: Pulumi creates it, moves the
 * service to it (a rolling update), then deletes the old one. A fixed name would collide with
 * the old object during that create-before-delete replacement.
 */

/** Docker refuses secret and config names longer than this. */
export const DOCKER_OBJECT_NAME_MAX_LENGTH = 64;

/**
 * `<baseName>-<hash of content>`, the name of an immutable Docker secret or config. A base name
 * that would make it longer than Docker accepts (a long user id) is cut, and a hash of the whole
 * base name keeps the names of different owners apart.
 */
export function dockerObjectName(baseName: string, content: string): string {
    const hash = contentHash(content);
    const name = `${baseName}-${hash}`;
    if (name.length <= DOCKER_OBJECT_NAME_MAX_LENGTH) return name;
    const baseHash = contentHash(baseName).slice(0, 8);
    return `${baseName.slice(0, DOCKER_OBJECT_NAME_MAX_LENGTH - hash.length - baseHash.length - 2)}-${baseHash}-${hash}`;
}

/** A Docker secret holding `value`, named `<baseName>-<hash of value>`; its data stays a Pulumi secret. */
export function hashedSecret(
    resourceName: string,
    baseName: string,
    value: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): docker.Secret {
    const secretValue = pulumi.secret(value);
    return new docker.Secret(
        resourceName,
        {
            // The hash is of a generated password (or an operator's secret); 48 bits of a SHA-256
            // tell nothing usable about it, and an unsecret name keeps `pulumi preview` readable.
            name: pulumi.unsecret(secretValue.apply((v) => dockerObjectName(baseName, v))),
            data: secretValue.apply((v) => Buffer.from(v, "utf8").toString("base64")),
            labels: [{ label: "pug.managed-by", value: "pug" }],
        },
        opts,
    );
}

/** A Docker config holding `content` (not secret), named `<baseName>-<hash of content>`. */
export function hashedConfig(
    resourceName: string,
    baseName: string,
    content: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): docker.ServiceConfig {
    const text = pulumi.output(content);
    return new docker.ServiceConfig(
        resourceName,
        {
            name: text.apply((v) => dockerObjectName(baseName, v)),
            data: text.apply((v) => Buffer.from(v, "utf8").toString("base64")),
        },
        opts,
    );
}

/** Where a secret is mounted in a task: Docker's own location, readable only by `uid`. */
export function secretMount(secret: docker.Secret, fileName: string, uid = "0"): docker.types.input.ServiceTaskSpecContainerSpecSecret {
    return { secretId: secret.id, secretName: secret.name, fileName, fileUid: uid, fileGid: uid, fileMode: 0o400 };
}

/**
 * Where a config is mounted in a task, at `fileName`, with `mode`; owned by `owner` when given
 * (else by the image's default user).
 */
export function configMount(
    config: docker.ServiceConfig,
    fileName: string,
    mode: number,
    owner?: { uid: string; gid: string },
): docker.types.input.ServiceTaskSpecContainerSpecConfig {
    return { configId: config.id, configName: config.name, fileName, ...(owner ? { fileUid: owner.uid, fileGid: owner.gid } : {}), fileMode: mode };
}

/** The path at which `secretMount(…, fileName)` appears inside the container. */
export function secretPath(fileName: string): string {
    return `/run/secrets/${fileName}`;
}

/**
 * A task's attachments to overlay networks, by network id. The docker provider reads back only a
 * network's `id`: `name` (deprecated, and ForceNew) never matches what it reads, so a service
 * attached by `name` would be replaced on every `pulumi up`.
 */
export function networkAttachments(networkIds: pulumi.Input<pulumi.Input<string>[]>): pulumi.Output<docker.types.input.ServiceTaskSpecNetworksAdvanced[]> {
    return pulumi.output(networkIds).apply((ids) => ids.map((id) => ({ id })));
}

/** Milliseconds in a duration written like Go's ("30s", "1m30s", "500ms", "2h"). */
export function durationMs(text: string): number {
    const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (!parts.length || parts.map((p) => p[0]).join("") !== text) throw new Error(`"${text}" is not a duration like "30s" or "1m30s"`);
    return Math.round(parts.reduce((total, [, n, unit]) => total + Number(n) * units[unit], 0));
}

/**
 * What a task does when it stops: restart on any exit after `delay`. The window is written out as
 * the Swarm reports it when none is set ("0s", unbounded): left out, the docker provider reads
 * "0s" back and every preview plans an update of the service.
 */
export function restartOnExit(delay: string, window = "0s"): docker.types.input.ServiceTaskSpecRestartPolicy {
    return { condition: "any", delay: swarmDuration(delay), window: swarmDuration(window) };
}

/**
 * A duration ("60s", "90s", "500ms", "1h30m") as the docker provider reads it back from the Swarm:
 * Go's time.Duration.String() without a trailing "0s" after minutes or "0m" after hours ("1m",
 * "1m30s", "500ms", "1h30m"). A service spec that says "60s" never matches what the provider
 * reads, so every preview would plan an update of the service.
 */
export function swarmDuration(text: string): string {
    const ms = durationMs(text);
    if (ms === 0) return "0s";
    if (ms < 1_000) return `${ms}ms`;
    const h = Math.floor(ms / 3_600_000);
    const m = Math.floor((ms % 3_600_000) / 60_000);
    const s = (ms % 60_000) / 1_000;
    const go = h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
    return go.replace(/m0s$/, "m").replace(/h0m$/, "h");
}

/** What differs between PUG's Swarm services; everything else is written once, in swarmService. */
export interface SwarmServiceSpec {
    /** The service's name in Swarm, also its DNS name on the overlay networks. */
    name: string;
    /** What the service is to PUG, its `pug.role` label: the policy pack and dashboards select by it. */
    role: string;
    /** Labels besides `pug.role` (a user's Grafana carries `pug.user`). */
    labels?: docker.types.input.ServiceLabel[];
    replicas: pulumi.Input<number>;
    container: docker.types.input.ServiceTaskSpecContainerSpec;
    /** Overlay networks (ids: a name would replace the service on every run). */
    networkIds: pulumi.Input<pulumi.Input<string>[]>;
    placement?: docker.types.input.ServiceTaskSpecPlacement;
    /** Hard memory limit of a task, in MiB. */
    memoryLimitMb: number;
    /** Memory Swarm reserves on a node for a task, in MiB; none when absent. */
    memoryReservationMb?: number;
    /** Restarted after any exit, after `delay`, counted over `window` (see restartOnExit). */
    restart: { delay: string; window?: string };
    endpointMode: "vip" | "dnsrr";
    /** Ports published on the node where a task runs (host mode: no routing mesh). */
    ports?: docker.types.input.ServiceEndpointSpecPort[];
    /** How the service is updated, rolled back and awaited, and its registry credentials. */
    lifecycle?: Pick<docker.ServiceArgs, "updateConfig" | "rollbackConfig" | "convergeConfig" | "auth">;
}

const MIB = 1024 * 1024;

/** A Swarm service of PUG: replicated, on the overlays by id, memory-limited, restarted on any exit. */
export function swarmService(resourceName: string, spec: SwarmServiceSpec, opts: pulumi.CustomResourceOptions): docker.Service {
    return new docker.Service(
        resourceName,
        {
            name: spec.name,
            labels: [...(spec.labels ?? []), { label: "pug.role", value: spec.role }],
            mode: { replicated: { replicas: spec.replicas } },
            taskSpec: {
                containerSpec: spec.container,
                networksAdvanceds: networkAttachments(spec.networkIds),
                placement: spec.placement,
                resources: {
                    limits: { memoryBytes: spec.memoryLimitMb * MIB },
                    reservation: spec.memoryReservationMb === undefined ? undefined : { memoryBytes: spec.memoryReservationMb * MIB },
                },
                restartPolicy: restartOnExit(spec.restart.delay, spec.restart.window),
            },
            endpointSpec: { mode: spec.endpointMode, ports: spec.ports },
            ...spec.lifecycle,
        },
        opts,
    );
}
