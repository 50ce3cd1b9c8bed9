import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { hashedSecret, secretMount, secretPath, swarmService } from "./dockerObjects";
import type { EndpointMode } from "./swarm";
import { z } from "zod";
import { imageReferenceSchema } from "./specs/imageReference";
import { safePassword } from "./specs/passwords";
import { portNumber, schemaProblems, wholeAtLeast } from "./validation";

const ROOT_PASSWORD_FILE = "mysql-root-password";
const MYSQL_PORT = 3306;

/** What a stack sets of the embedded MySQL (`pug:mysql` without `endpoint`). */
export interface EmbeddedMysqlSettings {
    /** The MySQL image (MySQL 8 or a compatible MariaDB). @default "mysql:8.4" */
    image?: string;
    /** The port published in host mode on the manager. @default 3306 */
    publishedPort?: number;
    /** Memory limit of the task, in MiB. @default 1024 */
    memoryLimitMb?: number;
}

/** EmbeddedMysqlSettings' schema, for the component's arguments and `pug:mysql` alike. @internal */
export const embeddedMysqlSettingsSchema = z.strictObject({
    image: imageReferenceSchema.optional(),
    publishedPort: portNumber.optional(),
    memoryLimitMb: wholeAtLeast(256).optional(),
});

export interface EmbeddedMysqlArgs extends EmbeddedMysqlSettings {
    /** Overlay networks (ids) the users' Grafanas reach MySQL on. */
    networkIds: pulumi.Input<string>[];
    /**
     * The manager's address as seen from where `pulumi up` runs: the mysql provider connects to
     * `<managerAddress>:<publishedPort>` to create users' databases.
     */
    managerAddress: string;
    /**
     * Placement constraints: the task must run on the node `managerAddress` names, where the port
     * is published, and stay there (the volume is local to a node).
     * @default ["node.role == manager"]
     */
    placementConstraints?: string[];
    /** Name of the Swarm service, also its DNS name on the overlay. @default "pug-mysql" */
    serviceName?: string;
    /** How Grafanas reach the service by name (see EndpointMode). @default "vip" */
    endpointMode?: EndpointMode;
}

/**
 * MySQL inside the Swarm, for when no external server is configured: root password from a Docker
 * secret (the official image reads MYSQL_ROOT_PASSWORD_FILE), data on a named volume that is
 * retained if the service is ever deleted, a health check, and a port published in host mode on
 * the manager so the mysql provider can reach it from `pulumi up`.
 */
export class EmbeddedMysql extends pulumi.ComponentResource {
    /** host:port on the overlay network, for Grafana. */
    public readonly address: string;
    /** host:port for the mysql provider, from where `pulumi up` runs. */
    public readonly providerEndpoint: string;
    public readonly rootPassword: pulumi.Output<string>;
    public readonly service: docker.Service;
    public readonly volume: docker.Volume;

    constructor(name: string, args: EmbeddedMysqlArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Checked before super(), which registers the component: bad arguments change nothing.
        const problems = schemaProblems(z.object(embeddedMysqlSettingsSchema.shape), args);
        if (problems.length) throw new Error(`EmbeddedMysql ${name}: ${problems.join("; ")}`);
        super("pug:mysql:EmbeddedMysql", name, {}, opts);
        const serviceName = args.serviceName ?? "pug-mysql";
        const publishedPort = args.publishedPort ?? MYSQL_PORT;
        const rootPassword = safePassword(`${name}-root-password`, 32, { parent: this });
        this.rootPassword = pulumi.secret(rootPassword.result);
        const rootSecret = hashedSecret(`${name}-root-password`, `${serviceName}-root-password`, rootPassword.result, { parent: this });
        // Every user's data lives here: never dropped with the service or the stack.
        this.volume = new docker.Volume(`${name}-data`, { name: `${serviceName}-data` }, { parent: this, retainOnDelete: true });

        this.service = swarmService(
            name,
            {
                name: serviceName,
                role: "mysql",
                replicas: 1,
                container: {
                    image: args.image ?? "mysql:8.4",
                    env: { MYSQL_ROOT_PASSWORD_FILE: secretPath(ROOT_PASSWORD_FILE) },
                    secrets: [secretMount(rootSecret, ROOT_PASSWORD_FILE, "999")],
                    mounts: [{ type: "volume", source: this.volume.name, target: "/var/lib/mysql" }],
                    // `mysqladmin ping` answers 0 once the server accepts connections, even
                    // without credentials: no password in the health check.
                    healthcheck: {
                        tests: ["CMD-SHELL", "mysqladmin ping -h 127.0.0.1 --silent"],
                        interval: "10s", timeout: "5s", retries: 5, startPeriod: "1m",
                    },
                    stopGracePeriod: "1m",
                },
                networkIds: args.networkIds,
                placement: { constraints: args.placementConstraints ?? ["node.role == manager"] },
                memoryLimitMb: args.memoryLimitMb ?? 1024,
                restart: { delay: "5s" },
                endpointMode: args.endpointMode ?? "vip",
                ports: [{ targetPort: MYSQL_PORT, publishedPort, publishMode: "host", protocol: "tcp" }],
                lifecycle: {
                    // One task on one volume: never two servers on the same data files.
                    updateConfig: { parallelism: 1, order: "stop-first", failureAction: "pause" },
                    // Wait until the task runs before the mysql provider tries to connect.
                    convergeConfig: { delay: "5s", timeout: "5m" },
                },
            },
            { parent: this },
        );
        this.address = `${serviceName}:${MYSQL_PORT}`;
        this.providerEndpoint = `${args.managerAddress}:${publishedPort}`;
        this.registerOutputs({ address: this.address, providerEndpoint: this.providerEndpoint });
    }
}
