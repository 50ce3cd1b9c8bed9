import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { isProductionStackName, nodeSetupSchema, quorumWarnings, SwarmNodes, swarmNodesSchema, type SwarmNode, type SwarmNodesArgs } from "./swarmNodes";
import { schemaProblems } from "./validation";

/**
 * How a service's name resolves on the overlay networks: "vip", one virtual IP balanced by the
 * kernel's IPVS (Swarm's default), or "dnsrr", the name resolves to the addresses of the running
 * tasks. Nodes whose kernel has no IPVS cannot route a VIP: use "dnsrr" there.
 */
export type EndpointMode = "vip" | "dnsrr";

/** TLS material for a Docker engine reached over TCP. */
export interface DockerTlsMaterial {
    /** PEM of the CA that signed the engine's certificate. */
    caCert: pulumi.Input<string>;
    /** PEM of the client certificate. */
    cert: pulumi.Input<string>;
    /** PEM of the client key; kept a Pulumi secret. */
    key: pulumi.Input<string>;
}

export interface SwarmArgs {
    /**
     * The Docker engine of a Swarm manager: `unix:///var/run/docker.sock`, `ssh://user@host[:port]`
     * or `tcp://host:2376` (TCP requires `tls`).
     * @default the local engine (DOCKER_HOST, else the local socket)
     */
    host?: string;
    /** Extra options for `ssh` when `host` is `ssh://…` (e.g. `-i key`, `-o StrictHostKeyChecking=yes`). @default none */
    sshOpts?: string[];
    /** Client TLS material for a `tcp://` host. @default none (and then a `tcp://` host is refused) */
    tls?: DockerTlsMaterial;
    /**
     * Encrypt traffic on the overlay networks (IPsec between nodes). Costs CPU; worth it when nodes
     * talk over a network you do not control.
     * @default false
     */
    encryptNetworks?: boolean;
    /** Prefix of the overlay network names. @default "pug" */
    networkPrefix?: string;
    /**
     * Bare hosts to make the swarm of, over SSH (see SwarmNodes): the first manager initialises it,
     * the others join, and the docker provider talks to the first manager. Excludes `host` and `tls`.
     * @default none: `host` (or the local engine) is a manager of an existing swarm
     */
    nodes?: SwarmNode[];
    /** How the nodes are set up: engine metrics port, daemon.json path, engine restart, drain wait. @default see SwarmNodesArgs */
    nodeSetup?: Omit<SwarmNodesArgs, "nodes">;
    /**
     * Whether this swarm serves production: fewer than 3 managers is then warned about at preview.
     * @default true when the stack is named `prod`, `production`, or starts with `prod-`/`production-`
     */
    production?: boolean;
    /**
     * How the platform's services are addressed on the overlay networks (see EndpointMode): every
     * component on this Swarm uses it.
     * @default "vip"
     */
    endpointMode?: EndpointMode;
}

/** Why a host string is refused, or undefined when it is usable with these options. */
export function dockerHostProblem(args: Pick<SwarmArgs, "host" | "sshOpts"> & { tls?: unknown; nodes?: unknown[] }): string | undefined {
    const host = args.host;
    if (args.nodes?.length) {
        if (host !== undefined) return `host and nodes exclude each other: with nodes, the docker provider talks to the first manager (ssh://user@host of that node)`;
        if (args.tls) return `tls applies to a tcp:// host, not to nodes (reached over SSH)`;
        return undefined;
    }
    const scheme = host === undefined ? "local" : /^([a-z]+):\/\//.exec(host)?.[1];
    if (host !== undefined && !["unix", "ssh", "tcp"].includes(scheme ?? "")) {
        return `host "${host}" must start with unix://, ssh:// or tcp://`;
    }
    if (scheme === "tcp" && !args.tls) return `host "${host}" is TCP: give tls (caCert, cert, key), or use ssh:// — an unauthenticated Docker API is root on the manager`;
    if (args.tls && scheme !== "tcp") return `tls applies to a tcp:// host only, not to ${host ?? "the local engine"}`;
    if (args.sshOpts?.length && scheme !== "ssh") return `sshOpts apply to an ssh:// host only, not to ${host ?? "the local engine"}`;
    return undefined;
}

/**
 * SwarmArgs' schema: one definition for the component's arguments and `pug:docker`. The secrets
 * (TLS key and material, the nodes' private keys) are strings in the stack's config and any Input
 * from a library caller, so the caller gives their schema; the stack's config is strict about
 * unknown keys, a component's arguments may carry others.
 * @internal
 */
export function swarmSchema<Secret extends z.ZodType>(secret: Secret, object: typeof z.object | typeof z.strictObject = z.object) {
    return object({
        host: z.string().optional(),
        sshOpts: z.array(z.string()).optional(),
        tls: z.strictObject({ caCert: secret, cert: secret, key: secret }).optional(),
        encryptNetworks: z.boolean().optional(),
        networkPrefix: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, "must be a lowercase letter, then letters, digits or dashes (at most 20)").optional(),
        nodes: swarmNodesSchema(secret).optional(),
        nodeSetup: nodeSetupSchema.optional(),
        production: z.boolean().optional(),
        endpointMode: z.enum(["vip", "dnsrr"], { error: 'must be "vip" or "dnsrr"' }).optional(),
    }).superRefine((v, ctx) => {
        // its messages name the fields they are about
        const problem = dockerHostProblem(v);
        if (problem) ctx.addIssue({ code: "custom", message: problem, path: [] });
        if (v.nodeSetup && !v.nodes?.length) ctx.addIssue({ code: "custom", message: "applies to declared nodes only: add nodes, or remove nodeSetup", path: ["nodeSetup"] });
    });
}

/** Why these arguments cannot make a Swarm, one line per problem naming the field. */
export function swarmProblems(args: SwarmArgs): string[] {
    return schemaProblems(swarmSchema(z.unknown()), args);
}

/**
 * The host name a Swarm manager can be reached at from where `pulumi up` runs: the host of an
 * ssh:// or tcp:// address, or loopback for the local engine. Services published in host mode on
 * that manager (the embedded MySQL) are reached there.
 */
export function managerAddress(host: string | undefined): string {
    if (!host || host.startsWith("unix://")) return "127.0.0.1";
    return new URL(host).hostname;
}

/**
 * A Docker Swarm as PUG uses it: the provider for one of its managers, and the overlay networks
 * between the platform's services. Everything refers to the networks by id (a name would show a
 * diff on every preview).
 */
export class Swarm extends pulumi.ComponentResource {
    /** The docker provider for the manager; pass it to every component that creates Swarm objects. */
    public readonly provider: docker.Provider;
    /** Front proxy ↔ users' Grafanas. */
    public readonly proxyNetwork: docker.Network;
    /** Users' Grafanas ↔ MySQL and the Live Redis (when those run in the Swarm). */
    public readonly dataNetwork: docker.Network;
    /** Where services published in host mode on the manager are reached from `pulumi up`. */
    public readonly managerAddress: string;
    /** The nodes PUG made the swarm of, when `nodes` was given. */
    public readonly nodes?: SwarmNodes;
    /** host:port of each node's engine metrics, by host (empty for an existing swarm: PUG does not know its nodes). */
    public readonly engineMetricsTargets: Record<string, string>;
    /** How services on this Swarm are addressed; pass it to every service-creating component. */
    public readonly endpointMode: EndpointMode;

    constructor(name: string, args: SwarmArgs = {}, opts: pulumi.ComponentResourceOptions = {}) {
        // Refused before super(), which registers the component: a bad argument changes nothing.
        const problems = swarmProblems(args);
        if (problems.length) throw new Error(`Swarm ${name}: ${problems.join("; ")}`);
        super("pug:swarm:Swarm", name, {}, opts);

        if (args.nodes?.length) {
            const production = args.production ?? isProductionStackName(pulumi.getStack());
            for (const warning of quorumWarnings(args.nodes, production)) pulumi.log.warn(`Swarm ${name}: ${warning}`, this);
            this.nodes = new SwarmNodes(`${name}-nodes`, { ...args.nodeSetup, nodes: args.nodes }, { parent: this });
        }
        const host = this.nodes?.dockerHost ?? args.host;
        this.managerAddress = this.nodes ? this.nodes.firstManager.host : managerAddress(args.host);
        this.engineMetricsTargets = this.nodes?.engineMetricsTargets ?? {};
        this.endpointMode = args.endpointMode ?? "vip";
        this.provider = new docker.Provider(
            `${name}-manager`,
            {
                host,
                sshOpts: args.sshOpts,
                caMaterial: args.tls?.caCert,
                certMaterial: args.tls?.cert,
                keyMaterial: args.tls ? pulumi.secret(args.tls.key) : undefined,
            },
            // Swarm objects are created once every declared node has joined and carries its
            // labels, so the first services spread over all of them.
            { parent: this, dependsOn: this.nodes?.ready },
        );

        const prefix = args.networkPrefix ?? "pug";
        const overlay = (role: string, purpose: string) =>
            new docker.Network(
                `${name}-${role}`,
                {
                    name: `${prefix}-${role}`,
                    driver: "overlay",
                    // attachable: operators can attach a debugging container to reach a service
                    attachable: true,
                    options: args.encryptNetworks ? { encrypted: "true" } : undefined,
                    labels: [{ label: "pug.purpose", value: purpose }],
                },
                { parent: this, provider: this.provider },
            );
        this.proxyNetwork = overlay("proxy", "front proxy to users' Grafanas");
        this.dataNetwork = overlay("data", "users' Grafanas to MySQL and Redis");

        this.registerOutputs({ proxyNetworkId: this.proxyNetwork.id, dataNetworkId: this.dataNetwork.id });
    }
}
