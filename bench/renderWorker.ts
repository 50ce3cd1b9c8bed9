/**
 * One timed run of benchmark 3, in a process of its own so its memory figures are its own:
 *
 * - `renderWorker.ts stack <users> <shape file>`: the stack program (index.ts) under the mock
 *   runtime with the dev stack's settings and `<users>` users; writes what it registered (each
 *   resource's type, name, parent and inputs as the engine received them) to the shape file.
 * - `renderWorker.ts baseline <shape file>`: registers the same resources bare: each custom
 *   resource through its own class (docker.Service, mysql.Grant, ...) with its recorded inputs as
 *   plain values, each component as an empty component, with the same parents, under the same
 *   mocks. That is the SDK's own cost for those resources; what the stack run takes beyond it is
 *   the program's work: validation, building specs, wiring outputs into inputs, secrets.
 *
 * Both load the whole module graph of index.ts before the clock starts. Prints one JSON line:
 * `RenderRun`.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as mysql from "@pulumi/mysql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { readFileSync, writeFileSync } from "fs";
import { setupPulumiMocks, settled } from "../test/harness/pulumiMocks";
import { loadStackFile } from "../test/harness/stackFiles";
import { runStackProgram } from "../test/harness/stackProgram";
import { benchUsers } from "./users";

/** One registered resource, as the baseline registers it again. */
export interface ShapeEntry {
    type: string;
    name: string;
    custom: boolean;
    /** Index of its parent in the list; -1: none. */
    parent: number;
    /** Its inputs as the engine received them, secrets unwrapped. */
    inputs: Record<string, unknown>;
}

export interface RenderRun {
    /** From the program's start (or the first registration) until every registration settled, ms. */
    ms: number;
    /** The process's peak RSS, KiB. */
    peakRssKiB: number;
    resources: number;
}

/** A bare component: registers, has children, outputs nothing. */
class BareComponent extends pulumi.ComponentResource {
    constructor(name: string, opts: pulumi.ComponentResourceOptions) {
        super("bench:index:Component", name, {}, opts);
        this.registerOutputs({});
    }
}

type ResourceClass = new (name: string, args: any, opts: pulumi.CustomResourceOptions) => pulumi.Resource;

/** The provider packages' resource classes by type token (providers as `pulumi:providers:<package>`). */
function resourceClasses(): Map<string, ResourceClass> {
    const classes = new Map<string, ResourceClass>();
    const collect = (module: object) => {
        for (const value of Object.values(module)) {
            if (typeof value === "function" && typeof (value as { __pulumiType?: unknown }).__pulumiType === "string") {
                const type = (value as unknown as { __pulumiType: string }).__pulumiType;
                classes.set(type.includes(":") ? type : `pulumi:providers:${type}`, value as ResourceClass);
            } else if (value && typeof value === "object" && value !== module) {
                collect(value);
            }
        }
    };
    for (const module of [docker, mysql, random, command.remote, command.local, { Provider: command.Provider }]) collect(module);
    return classes;
}

function registerShape(shape: ShapeEntry[], classes: Map<string, ResourceClass>): void {
    const made: pulumi.Resource[] = [];
    const bare = (entry: ShapeEntry, opts: pulumi.CustomResourceOptions): pulumi.Resource => {
        if (!entry.custom) return new BareComponent(entry.name, opts);
        if (entry.type === "pulumi:pulumi:StackReference") return new pulumi.StackReference(entry.name, { name: String(entry.inputs.name) }, opts);
        const Class = classes.get(entry.type);
        if (!Class) throw new Error(`no resource class for ${entry.type}`);
        return new Class(entry.name, entry.inputs, opts);
    };
    for (const entry of shape) made.push(bare(entry, entry.parent >= 0 ? { parent: made[entry.parent] } : {}));
}

async function stack(users: number, shapeFile: string): Promise<RenderRun> {
    const dev = loadStackFile("dev");
    await import("../index");
    const start = performance.now();
    const run = await runStackProgram({ ...dev.config, "pug:users": benchUsers(users) }, dev.secretKeys);
    const ms = performance.now() - start;
    const index = new Map(run.resources.map((r, i) => [r.urn, i]));
    const shape: ShapeEntry[] = run.resources.map((r, i) => {
        const parent = index.get(r.parentUrn) ?? -1;
        return { type: r.type, name: r.name, custom: r.custom, parent: parent < i ? parent : -1, inputs: r.inputs };
    });
    writeFileSync(shapeFile, JSON.stringify(shape));
    return { ms, peakRssKiB: process.resourceUsage().maxRSS, resources: run.resources.length };
}

async function baseline(shapeFile: string): Promise<RenderRun> {
    const mocks = await setupPulumiMocks();
    await import("../index");
    const classes = resourceClasses();
    const shape = JSON.parse(readFileSync(shapeFile, "utf8")) as ShapeEntry[];
    const start = performance.now();
    registerShape(shape, classes);
    await settled();
    const ms = performance.now() - start;
    return { ms, peakRssKiB: process.resourceUsage().maxRSS, resources: mocks.resources.length };
}
if (require.main === module) {
    const [mode, ...args] = process.argv.slice(2);
    const run = mode === "stack" ? stack(Number(args[0]), args[1]) : mode === "baseline" ? baseline(args[0]) : Promise.reject(new Error(`unknown mode ${mode}`));
    run.then(
        (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
        (err) => {
            process.stderr.write(`renderWorker: ${(err as Error).stack}\n`);
            process.exit(1);
        },
    );
}
