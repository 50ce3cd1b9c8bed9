import { remote } from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
    DEFAULT_CLAIM_FILE,
    drainScript,
    joinTokensScript,
    leaveScript,
    memberScript,
    nodeSettingsScript,
    parseJoinTokens,
    parseNodeId,
    PUG_LABEL_PREFIX,
    removeNodeScript,
} from "./specs/swarmScripts";
import { z } from "zod";
import { portNumber, repeats, schemaProblems, wholeAtLeast } from "./validation";

/** A host PUG makes a Swarm node of, over SSH. */
export interface SwarmNode {
    /** Where the node is reached over SSH; also its Swarm address unless `advertiseAddress` is given. */
    host: string;
    /** SSH port. @default 22 */
    port?: number;
    /** SSH user: root, or in the docker group with passwordless sudo (daemon.json, engine restart). */
    user: string;
    /** PEM of the SSH private key; kept a Pulumi secret. @default the SSH agent (SSH_AUTH_SOCK) */
    privateKey?: pulumi.Input<string>;
    /** The node's SSH host key (`ssh-ed25519 AAAA…`), checked when given. @default not checked */
    hostKey?: string;
    /** Manager (Raft member, schedules tasks) or worker (runs tasks). The first manager listed initialises the swarm. */
    role: "manager" | "worker";
    /** --advertise-addr: the IP (or interface) other nodes reach this one at. @default `host` when it is an IP, else Docker's choice */
    advertiseAddress?: string;
    /** Node labels, e.g. `{ zone: "a" }` (users' Grafanas spread their replicas over `node.labels.zone`). Keys starting `pug.` are PUG's. @default none */
    labels?: Record<string, string>;
}

export interface SwarmNodesArgs {
    /** The nodes; at least one manager. Order matters only for managers: the first one initialises the swarm, the others join one at a time. */
    nodes: SwarmNode[];
    /** Port of the Docker engine's Prometheus endpoint on every node (daemon.json `metrics-addr`, on all interfaces). @default 9323 */
    engineMetricsPort?: number;
    /** The engine's configuration file on the nodes. @default "/etc/docker/daemon.json" */
    daemonConfigPath?: string;
    /** How the engine is restarted after daemon.json changed. @default "systemctl restart docker" */
    restartCommand?: string;
    /** How long a leaving node's tasks get to move elsewhere before it leaves anyway, in seconds. @default 120 */
    drainWaitSeconds?: number;
    /** How long a node that left gets to show as down before `docker node rm` gives up, in seconds. @default 60 */
    downWaitSeconds?: number;
}

const IP_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+:[0-9a-f:.]*)$/i;
const SWARM_PORT = 2377;
/** How long a leaving node's tasks get to move elsewhere before it leaves anyway (nodeSetup.drainWaitSeconds). */
export const DEFAULT_DRAIN_WAIT_SECONDS = 120;

/** Why these nodes cannot make a swarm together, as issues at their place (each node's own fields are the schema's). */
function swarmNodesIssues(nodes: readonly SwarmNode[]): Array<{ path: (string | number)[]; message: string }> {
    const issues: Array<{ path: (string | number)[]; message: string }> = [];
    if (!nodes.some((n) => n.role === "manager")) issues.push({ path: [], message: "at least one node must be a manager (the first manager initialises the swarm)" });
    for (const { item, index } of repeats(nodes, (n) => n.host)) issues.push({ path: [index, "host"], message: `"${item.host}" appears twice` });
    for (const [index, node] of nodes.entries()) {
        const reserved = Object.keys(node.labels ?? {}).find((k) => k.startsWith(PUG_LABEL_PREFIX));
        if (reserved) issues.push({ path: [index, "labels"], message: `${node.host}: label "${reserved}" uses the prefix "${PUG_LABEL_PREFIX}", which PUG keeps for its own labels` });
    }
    return issues;
}

/**
 * The nodes' schema: each node's fields, and the rules across them. `privateKey` is a string in
 * the stack's config and any Input from a library caller, so the caller gives its schema.
 * @internal
 */
export function swarmNodesSchema<Secret extends z.ZodType>(privateKey: Secret) {
    return z
        .array(
            z.strictObject({
                host: z.string().regex(/^([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[?[0-9a-f:]+\]?)$/i, "must be a host name or IP address (no port: give port)"),
                port: portNumber.optional(),
                user: z.string().regex(/^[a-z_][a-z0-9_.-]*$/i, "must be a user name"),
                privateKey: privateKey.optional(),
                hostKey: z.string().regex(/^(ssh|ecdsa)-\S+ \S+/, "must be a public host key line, e.g. ssh-ed25519 AAAA…").optional(),
                role: z.enum(["manager", "worker"], { error: "must be manager or worker" }),
                advertiseAddress: z.string().regex(IP_ADDRESS, "must be an IP address").optional(),
                labels: z
                    .record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, "a label key is letters, digits, '.', '_' or '-'"), z.string().regex(/^[^\n\r]*$/, "a label value is one line"))
                    .optional(),
            }),
        )
        .min(1, "lists at least one node (or leave nodes out to use an existing swarm)")
        .superRefine((nodes, ctx) => {
            for (const issue of swarmNodesIssues(nodes as unknown as SwarmNode[])) ctx.addIssue({ code: "custom", ...issue });
        });
}

/** How the nodes are set up (SwarmNodesArgs but the nodes; `pug:docker.nodeSetup`). @internal */
export const nodeSetupSchema = z.strictObject({
    engineMetricsPort: portNumber.optional(),
    daemonConfigPath: z.string().regex(/^\/\S+$/, "must be an absolute path").optional(),
    restartCommand: z.string().min(1).optional(),
    drainWaitSeconds: wholeAtLeast(0).optional(),
    downWaitSeconds: wholeAtLeast(0).optional(),
});

/** SwarmNodesArgs' schema, the private keys any Input. */
const swarmNodesArgsSchema = nodeSetupSchema.safeExtend({ nodes: swarmNodesSchema(z.unknown()) });

/** Why these arguments cannot make a swarm, one line per problem naming the field. */
export function swarmNodesProblems(args: SwarmNodesArgs): string[] {
    return schemaProblems(swarmNodesArgsSchema, args);
}

/**
 * Raft keeps a swarm writable while a majority of managers is up: an even count tolerates no more
 * failures than the odd count below it, and fewer than 3 tolerate none.
 */
export function quorumWarnings(nodes: Pick<SwarmNode, "role">[], production: boolean): string[] {
    const managers = nodes.filter((n) => n.role === "manager").length;
    const warnings: string[] = [];
    if (managers > 0 && managers % 2 === 0) {
        warnings.push(`${managers} managers: an even number tolerates no more manager failures than ${managers - 1} (Raft needs a majority, ${managers / 2 + 1}); declare an odd number`);
    }
    if (production && managers < 3) {
        warnings.push(`${managers} manager${managers === 1 ? "" : "s"} on a production stack: losing ${managers === 1 ? "it" : "one"} stops all scheduling and updates; declare 3 (or 5) managers`);
    }
    return warnings;
}

/** Whether a stack name means production, when the configuration does not say: `prod`, `production`, or `prod-…`/`production-…`. */
export function isProductionStackName(stack: string): boolean {
    return /^prod(uction)?($|[-_.])/.test(stack);
}

/** The address other nodes and Prometheus reach a node at. */
export function nodeAddress(node: SwarmNode): string {
    return node.advertiseAddress ?? node.host;
}

/** The docker provider's address for a node: `ssh://user@host[:port]`. */
export function sshDockerHost(node: SwarmNode): string {
    const host = node.host.includes(":") ? `[${node.host}]` : node.host;
    return `ssh://${node.user}@${host}${node.port && node.port !== 22 ? `:${node.port}` : ""}`;
}

function connectionOf(node: SwarmNode): remote.CommandArgs["connection"] {
    return {
        host: node.host,
        port: node.port ?? 22,
        user: node.user,
        privateKey: node.privateKey === undefined ? undefined : pulumi.secret(node.privateKey),
        hostKey: node.hostKey,
    };
}

/** A name for a node's resources that stays the same when the list is reordered. */
function nodeKey(node: SwarmNode): string {
    return node.host.replace(/[^a-zA-Z0-9.-]/g, "_");
}

/**
 * A Docker Swarm made from bare hosts over SSH: the first manager initialises it, the other nodes
 * join it (managers one at a time), every node serves engine metrics and carries its labels, and
 * a node removed from the list is drained, leaves and is removed. Every script checks the node's
 * state first (see swarmScripts.ts), so running again changes nothing.
 *
 * Per node, in order: a registration (on the first manager; its delete removes the node once it
 * has left), the membership (on the node: metrics, init or join; its delete leaves), and the
 * settings (on the first manager: role and labels; its delete drains and demotes). Pulumi deletes
 * in the reverse order, which is the order a node must leave in.
 */
export class SwarmNodes extends pulumi.ComponentResource {
    /** The manager that initialised the swarm; the docker provider talks to it. */
    public readonly firstManager: SwarmNode;
    /** `ssh://user@host` of the first manager, for the docker provider. */
    public readonly dockerHost: string;
    /** Every node's settings: a Swarm object created after these lands on a complete, labelled swarm. */
    public readonly ready: pulumi.Resource[];
    /** Swarm node id by host. */
    public readonly nodeIds: pulumi.Output<Record<string, string>>;
    /** host:port of every node's engine metrics, by host. */
    public readonly engineMetricsTargets: Record<string, string>;

    constructor(name: string, args: SwarmNodesArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Checked before super(), which registers the component: bad arguments change nothing.
        const problems = swarmNodesProblems(args);
        if (problems.length) throw new Error(`SwarmNodes ${name}: ${problems.join("; ")}`);
        super("pug:swarm:SwarmNodes", name, {}, opts);

        const first = args.nodes.find((n) => n.role === "manager")!;
        this.firstManager = first;
        this.dockerHost = sshDockerHost(first);
        const metricsPort = args.engineMetricsPort ?? 9323;
        const metrics = {
            address: `0.0.0.0:${metricsPort}`,
            daemonConfigPath: args.daemonConfigPath ?? "/etc/docker/daemon.json",
            restartCommand: args.restartCommand ?? "systemctl restart docker",
        };
        const joinAddress = `${nodeAddress(first)}:${SWARM_PORT}`;
        const onFirstManager = connectionOf(first);
        const advertised = (node: SwarmNode) => node.advertiseAddress ?? (IP_ADDRESS.test(node.host) ? node.host : undefined);

        // A claim per node changes exactly when a connection its commands use changes, which is
        // when Pulumi replaces them: the replaced commands' deletes then find a newer claim on the
        // node and leave it alone (see swarmScripts.ts).
        const claimOf = (node: SwarmNode) =>
            new random.RandomId(
                `${name}-${nodeKey(node)}-claim`,
                { byteLength: 8, keepers: { node: pulumi.secret(pulumi.jsonStringify(connectionOf(node))), manager: pulumi.secret(pulumi.jsonStringify(onFirstManager)) } },
                { parent: this },
            ).hex;

        const bootstrap = this.declareNode(name, first, claimOf(first), { onFirstManager, metrics, joinAddress, advertised, args, registrationAfter: [], memberAfter: [] });
        const tokens = new remote.Command(
            `${name}-join-tokens`,
            { connection: onFirstManager, create: joinTokensScript(), logging: "none" },
            // The tokens let anyone join the swarm: secret in the state, never in the logs.
            { parent: this, dependsOn: [bootstrap.member], additionalSecretOutputs: ["stdout"] },
        );
        const joinTokens = pulumi.secret(tokens.stdout).apply(parseJoinTokens);

        const declared = [bootstrap];
        let previousManager = bootstrap.member;
        for (const node of args.nodes) {
            if (node === first) continue;
            const joined = this.declareNode(name, node, claimOf(node), {
                onFirstManager,
                metrics,
                joinAddress,
                advertised,
                args,
                token: joinTokens.apply((t) => t[node.role]),
                registrationAfter: [bootstrap.member],
                // Raft takes one membership change at a time: managers join one after another.
                memberAfter: [bootstrap.member, tokens, ...(node.role === "manager" ? [previousManager] : [])],
            });
            if (node.role === "manager") previousManager = joined.member;
            declared.push(joined);
        }

        this.ready = declared.map((d) => d.settings);
        this.nodeIds = pulumi
            .all(declared.map((d) => d.nodeId.apply((id): [string, string] => [d.node.host, id])))
            .apply((pairs): Record<string, string> => Object.fromEntries(pairs));
        this.engineMetricsTargets = Object.fromEntries(args.nodes.map((n) => [n.host, `${nodeAddress(n)}:${metricsPort}`]));
        this.registerOutputs({ dockerHost: this.dockerHost, nodeIds: this.nodeIds });
    }

    private declareNode(
        name: string,
        node: SwarmNode,
        claim: pulumi.Output<string>,
        ctx: {
            onFirstManager: remote.CommandArgs["connection"];
            metrics: { address: string; daemonConfigPath: string; restartCommand: string };
            joinAddress: string;
            advertised: (node: SwarmNode) => string | undefined;
            args: SwarmNodesArgs;
            /** The join token on the node's stdin; absent for the first manager, which initialises the swarm. */
            token?: pulumi.Output<string>;
            registrationAfter: pulumi.Resource[];
            memberAfter: pulumi.Resource[];
        },
    ): { node: SwarmNode; member: remote.Command; settings: remote.Command; nodeId: pulumi.Output<string> } {
        const key = `${name}-${nodeKey(node)}`;
        const bootstrap = ctx.token === undefined;
        const registration = new remote.Command(
            `${key}-registration`,
            {
                connection: ctx.onFirstManager,
                // Nothing to do on create: the registration exists so that its delete (removing
                // the node from the swarm) runs after the node has left.
                create: "true",
                delete: claim.apply((c) => removeNodeScript({ host: node.host, claim: c, downWaitSeconds: ctx.args.downWaitSeconds ?? 60 })),
            },
            { parent: this, dependsOn: ctx.registrationAfter },
        );
        const member = new remote.Command(
            `${key}-member`,
            {
                connection: connectionOf(node),
                create: claim.apply((c) =>
                    memberScript({
                        role: node.role,
                        bootstrap,
                        advertiseAddress: ctx.advertised(node),
                        joinAddress: ctx.joinAddress,
                        claim: c,
                        claimFile: DEFAULT_CLAIM_FILE,
                        metrics: ctx.metrics,
                    }),
                ),
                stdin: ctx.token,
                delete: claim.apply((c) => leaveScript({ claim: c, claimFile: DEFAULT_CLAIM_FILE })),
            },
            { parent: this, dependsOn: [registration, ...ctx.memberAfter] },
        );
        const nodeId = member.stdout.apply(parseNodeId);
        const settings = new remote.Command(
            `${key}-settings`,
            {
                connection: ctx.onFirstManager,
                create: pulumi.all([nodeId, claim]).apply(([id, c]) =>
                    nodeSettingsScript({ nodeId: id, host: node.host, role: node.role, labels: node.labels ?? {}, claim: c }),
                ),
                delete: pulumi.all([nodeId, claim]).apply(([id, c]) =>
                    drainScript({ nodeId: id, host: node.host, claim: c, drainWaitSeconds: ctx.args.drainWaitSeconds ?? DEFAULT_DRAIN_WAIT_SECONDS }),
                ),
            },
            { parent: this, dependsOn: [member] },
        );
        return { node, member, settings, nodeId };
    }
}
