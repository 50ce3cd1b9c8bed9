import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { hashedSecret, secretMount, secretPath, swarmService } from "./dockerObjects";
import type { EndpointMode } from "./swarm";
import { z } from "zod";
import { imageReferenceSchema } from "./specs/imageReference";
import { safePassword } from "./specs/passwords";
import { schemaProblems, wholeAtLeast } from "./validation";

const PASSWORD_FILE = "live-redis-password";
const REDIS_PORT = 6379;

/** What a stack sets of the embedded Redis (`pug:redis` without `address`). */
export interface LiveRedisSettings {
    /** The Redis image. @default "redis:7.4-alpine" */
    image?: string;
    /** Memory limit of the task, in MiB; Live keeps only presence and the last frames. @default 256 */
    memoryLimitMb?: number;
}

/** LiveRedisSettings' schema, for the component's arguments and `pug:redis` alike. @internal */
export const liveRedisSettingsSchema = z.strictObject({
    image: imageReferenceSchema.optional(),
    memoryLimitMb: wholeAtLeast(64).optional(),
});

export interface LiveRedisArgs extends LiveRedisSettings {
    /** Overlay networks (ids) the users' Grafanas reach Redis on. */
    networkIds: pulumi.Input<string>[];
    /** Name of the Swarm service, also its DNS name on the overlay. @default "pug-live-redis" */
    serviceName?: string;
    /** The uid redis-server runs as and that owns the password file (the official images' `redis`). @default "999" */
    uid?: string;
    /** How Grafanas reach the service by name (see EndpointMode). @default "vip" */
    endpointMode?: EndpointMode;
}

/**
 * The shell script the Redis task runs. The password reaches redis-server through its standard
 * input (`redis-server -` reads configuration from stdin), so it is never on a command line (visible
 * in `ps` on the node), in the environment, or in a file outside the secret mount. No persistence:
 * Live's state is ephemeral, and a restart only drops presence that clients re-announce.
 */
export function liveRedisStartScript(passwordFile: string, maxMemoryMb: number, port = REDIS_PORT): string {
    return [
        "set -e",
        `pw="$(cat ${passwordFile})"`,
        `exec redis-server - <<EOF`,
        `requirepass $pw`,
        `save ""`,
        `appendonly no`,
        `maxmemory ${Math.floor(maxMemoryMb * 0.8)}mb`,
        `maxmemory-policy volatile-lru`,
        `protected-mode no`,
        `port ${port}`,
        `EOF`,
    ].join("\n");
}

/** The health check command: PING authenticated through REDISCLI_AUTH, never through `-a`. */
export function liveRedisHealthCheck(passwordFile: string, port = REDIS_PORT): string[] {
    return ["CMD-SHELL", `REDISCLI_AUTH="$(cat ${passwordFile})" redis-cli -p ${port} ping | grep -q PONG`];
}

/**
 * Grafana Live's HA engine: one Redis task (Live supports neither Sentinel nor Cluster), password
 * from a Docker secret, no persistence, a health check. Users' Grafanas keep their traffic apart
 * with distinct key prefixes (see GrafanaTenant).
 */
export class LiveRedis extends pulumi.ComponentResource {
    /** host:port on the overlay network. */
    public readonly address: string;
    /** The Docker secret with the password; users' Grafanas mount it too. */
    public readonly passwordSecret: docker.Secret;
    public readonly service: docker.Service;

    constructor(name: string, args: LiveRedisArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Checked before super(), which registers the component: bad arguments change nothing.
        const problems = schemaProblems(z.object(liveRedisSettingsSchema.shape), args);
        if (problems.length) throw new Error(`LiveRedis ${name}: ${problems.join("; ")}`);
        super("pug:redis:LiveRedis", name, {}, opts);
        const serviceName = args.serviceName ?? "pug-live-redis";
        const memoryLimitMb = args.memoryLimitMb ?? 256;
        const uid = args.uid ?? "999";
        const password = safePassword(`${name}-password`, 32, { parent: this });
        this.passwordSecret = hashedSecret(`${name}-password`, `${serviceName}-password`, password.result, { parent: this });
        const passwordFile = secretPath(PASSWORD_FILE);

        this.service = swarmService(
            name,
            {
                name: serviceName,
                role: "live-redis",
                replicas: 1,
                container: {
                    image: args.image ?? "redis:7.4-alpine",
                    commands: ["/bin/sh", "-c", liveRedisStartScript(passwordFile, memoryLimitMb)],
                    user: uid,
                    secrets: [secretMount(this.passwordSecret, PASSWORD_FILE, uid)],
                    healthcheck: { tests: liveRedisHealthCheck(passwordFile), interval: "10s", timeout: "3s", retries: 3, startPeriod: "5s" },
                },
                networkIds: args.networkIds,
                memoryLimitMb,
                restart: { delay: "2s" },
                endpointMode: args.endpointMode ?? "vip",
                // One task: stop the old before starting the new, or two Redis would split the clients.
                lifecycle: { updateConfig: { parallelism: 1, order: "stop-first", failureAction: "rollback", monitor: "15s" } },
            },
            { parent: this },
        );
        this.address = `${serviceName}:${REDIS_PORT}`;
        this.registerOutputs({ address: this.address });
    }
}
