/**
 * The real Pulumi engine for the end-to-end test: `pulumi` and its plugins from
 * tools/engine/ensure.sh, a file backend in the run's own folder, and a stack of the project's own
 * program (index.ts, Pulumi.yaml) or of a project that imports PUG, whose config lives in that
 * folder too (--config-file), so no project gets a Pulumi.<stack>.yaml. Every command runs with
 * plugin downloads and the update check off: nothing is fetched at run time.
 */
import { execFile, execFileSync, type ChildProcess } from "child_process";
import { randomBytes } from "crypto";
import { build } from "esbuild";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { parse, stringify } from "yaml";
import { PROJECT_ROOT } from "../harness/stackFiles";


export interface Engine {
    /** Directories to put first on PATH: the engine's, then the stand-in plugins' (if any). */
    path: string[];
    /** Plugins the test supplies as stand-ins because no real one could be had here. */
    standIns: string[];
}

/**
 * The engine (built, or the installed one), plus a STAND-IN plugin for each of `mysql` and
 * `random` that the engine lacks: they cannot be built from what the Go module proxy serves
 * (standinProviders.ts says what they do and do not prove).
 */
export async function provideEngine(workDir: string): Promise<Engine> {
    const binDir = execFileSync("bash", [path.join(PROJECT_ROOT, "tools/engine/ensure.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 40 * 60_000 })
        .trim()
        .split("\n")
        .pop()!;
    const hasPlugin = (name: string) => {
        const found = execFileSync("sh", ["-c", `PATH="${binDir}:$PATH" command -v pulumi-resource-${name} || true`], { encoding: "utf8" }).trim();
        return found !== "";
    };
    const standIns = ["mysql", "random"].filter((name) => !hasPlugin(name));
    if (!standIns.length) return { path: [binDir], standIns };
    const standInDir = path.join(workDir, "standin-plugins");
    mkdirSync(standInDir, { recursive: true });
    const bundle = path.join(standInDir, "standinProviders.js");
    await build({ entryPoints: [path.join(__dirname, "standinProviders.ts")], bundle: true, platform: "node", target: "node20", format: "cjs", outfile: bundle, logLevel: "error" });
    for (const name of standIns) {
        const launcher = path.join(standInDir, `pulumi-resource-${name}`);
        writeFileSync(launcher, `#!/bin/sh\nexec node ${JSON.stringify(bundle)} ${name} "$@"\n`);
        chmodSync(launcher, 0o755);
    }
    return { path: [binDir, standInDir], standIns };
}

export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** One step of a plan (`pulumi preview --json`). */
export interface PlanStep {
    op: string;
    urn: string;
    type: string;
    name: string;
    /** The properties whose change makes the step (the provider's diff). */
    diffReasons: string[];
    /** The inputs the resource is planned with (secrets shown as "[secret]", unknowns as "output<string>"). */
    inputs: Record<string, any>;
}

/** A resource of the exported state, secrets shown as plain values when asked for. */
export interface StateResource {
    urn: string;
    type: string;
    name: string;
    id?: string;
    inputs: Record<string, any>;
    outputs: Record<string, any>;
    retainOnDelete?: boolean;
}

/** The MySQL root login the stack's mysql provider uses, from the exported state. */
export function mysqlRoot(resources: StateResource[]): { username: string; password: string } {
    const [provider] = resources.filter((r) => r.type === "pulumi:providers:mysql");
    return provider.inputs as { username: string; password: string };
}

const nameOf = (urn: string) => urn.split("::").pop()!;
const typeOf = (urn: string) => urn.split("::")[2].split("$").pop()!;

/** Replaces every exported secret by its plain value. */
function revealSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(revealSecrets);
    if (value && typeof value === "object") {
        if (value[specialSigKey] === specialSecretSig) return "plaintext" in value ? revealSecrets(JSON.parse(value.plaintext)) : value;
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
    }
    return value;
}

/** Every leaf of a config value as [path, value], the way `pulumi config set --path` takes it. */
export function configLeaves(key: string, value: unknown): Array<[string, string | number | boolean]> {
    if (Array.isArray(value)) return value.flatMap((v, i) => configLeaves(`${key}[${i}]`, v));
    if (value && typeof value === "object") {
        return Object.entries(value).flatMap(([k, v]) => configLeaves(/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${key}.${k}` : `${key}[${JSON.stringify(k)}]`, v));
    }
    return [[key, value as string | number | boolean]];
}

export class PulumiStack {
    readonly configFile: string;
    private readonly env: NodeJS.ProcessEnv;
    /** The config (and its secret keys) the config file holds, as setConfig last wrote it. */
    private configSet?: string;

    /**
     * A stack whose config file is kept in `workDir`. By default everything else is there too (a
     * file backend, PULUMI_HOME, a random passphrase): a test's stack, gone with the folder. With
     * `backend`, the caller's passphrase, its backend (else the one `pulumi login` chose) and the
     * user's own PULUMI_HOME are used. The program is the project in `projectDir` (Pulumi.yaml and
     * its program): PUG's own by default, or a stack that imports PUG.
     */
    constructor(
        readonly stack: string,
        readonly workDir: string,
        engine: Engine,
        backend?: { url?: string; passphrase: string },
        readonly projectDir: string = PROJECT_ROOT,
    ) {
        this.configFile = path.join(workDir, `Pulumi.${stack}.yaml`);
        const own = !backend;
        if (own) mkdirSync(path.join(workDir, "state"), { recursive: true });
        this.env = {
            ...process.env,
            PATH: [...engine.path, process.env.PATH].join(":"),
            ...(own ? { PULUMI_HOME: path.join(workDir, "pulumi-home") } : {}),
            ...(own ? { PULUMI_BACKEND_URL: `file://${path.join(workDir, "state")}` } : backend.url ? { PULUMI_BACKEND_URL: backend.url } : {}),
            PULUMI_CONFIG_PASSPHRASE: backend?.passphrase ?? randomBytes(16).toString("hex"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_SKIP_CONFIRMATIONS: "true",
        };
    }

    /**
     * `pulumi ARGS` in the project's folder (or `cwd`); throws on a non-zero exit unless
     * `allowFailure`. `started` gets the process, e.g. to interrupt it.
     */
    run(args: string[], opts: { allowFailure?: boolean; timeoutMs?: number; cwd?: string; started?: (child: ChildProcess) => void } = {}): Promise<CommandResult> {
        const started = Date.now();
        return new Promise((resolve, reject) => {
            const child = execFile(
                "pulumi",
                [...args, "--non-interactive", "--color", "never"],
                { cwd: opts.cwd ?? this.projectDir, env: this.env, maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 20 * 60_000 },
                (err, stdout, stderr) => {
                    const result = { code: err ? ((err as any).code ?? 1) : 0, stdout, stderr, seconds: (Date.now() - started) / 1000 };
                    if (err && !opts.allowFailure) reject(new Error(`pulumi ${args.join(" ")} failed (${result.code}):\n${stdout.slice(-6000)}\n${stderr.slice(-4000)}`));
                    else resolve(result);
                },
            );
            opts.started?.(child);
        });
    }

    private withStack(args: string[]): string[] {
        return [...args, "--stack", this.stack, "--config-file", this.configFile];
    }

    /**
     * `pulumi stack init`. It takes no --config-file and writes the passphrase's salt into the
     * project's Pulumi.<stack>.yaml: run it beside a Pulumi.yaml of the same project name in
     * `workDir`, so the salt lands in this stack's config file.
     */
    async init(): Promise<void> {
        const project = (parse(readFileSync(path.join(this.projectDir, "Pulumi.yaml"), "utf8")) as { name: string; runtime: unknown }).name;
        writeFileSync(path.join(this.workDir, "Pulumi.yaml"), stringify({ name: project, runtime: "nodejs" }));
        await this.run(["stack", "init", this.stack], { cwd: this.workDir });
    }

    /**
     * Sets the stack's whole configuration, one `pulumi config set --path` per value, the keys in
     * `secretKeys` with --secret; config set before and not given now is removed.
     */
    async setConfig(config: Record<string, unknown>, secretKeys: string[] = []): Promise<void> {
        // a preview and the up after it set the same config: one `pulumi config set` per value is enough
        const wanted = JSON.stringify([config, secretKeys]);
        if (wanted === this.configSet) return;
        // keep the rest of the file (the passphrase's salt)
        const file = existsSync(this.configFile) ? ((parse(readFileSync(this.configFile, "utf8")) as Record<string, unknown> | null) ?? {}) : {};
        writeFileSync(this.configFile, stringify({ ...file, config: {} }));
        for (const [key, value] of Object.entries(config)) {
            for (const [leaf, v] of configLeaves(key, value)) {
                // a secret is a string; a plain value keeps its type ("007" stays a string)
                const type = typeof v === "number" ? (Number.isInteger(v) ? "int" : "float") : typeof v === "boolean" ? "bool" : "string";
                await this.run(this.withStack(["config", "set", "--path", ...(secretKeys.includes(key) ? ["--secret"] : ["--type", type]), leaf, String(v)]));
            }
        }
        this.configSet = wanted;
    }

    /** `pulumi preview` as a person reads it: policy violations are printed there, not in `--json`. */
    previewText(extra: string[] = []): Promise<CommandResult> {
        return this.run(this.withStack(["preview", ...extra]), { allowFailure: true });
    }

    /** `pulumi preview --json`: the plan's steps, or the failure's output. */
    async preview(extra: string[] = [], opts: { started?: (child: ChildProcess) => void } = {}): Promise<{ steps: PlanStep[]; result: CommandResult; json: any }> {
        const result = await this.run(this.withStack(["preview", "--json", ...extra]), { allowFailure: true, ...opts });
        let json: any = {};
        try {
            json = JSON.parse(result.stdout);
        } catch {
            // a failed preview may print no JSON
        }
        const steps = ((json.steps ?? []) as Array<{ op: string; urn: string; diffReasons?: string[]; newState?: { inputs?: Record<string, any> } }>).map((s) => ({
            op: s.op,
            urn: s.urn,
            type: typeOf(s.urn),
            name: nameOf(s.urn),
            diffReasons: s.diffReasons ?? [],
            inputs: s.newState?.inputs ?? {},
        }));
        return { steps, result, json };
    }

    up(extra: string[] = [], opts: { allowFailure?: boolean; started?: (child: ChildProcess) => void } = {}): Promise<CommandResult> {
        return this.run(this.withStack(["up", "--yes", "--skip-preview", ...extra]), opts);
    }

    refresh(): Promise<CommandResult> {
        return this.run(this.withStack(["refresh", "--yes", "--skip-preview"]));
    }

    destroy(): Promise<CommandResult> {
        return this.run(this.withStack(["destroy", "--yes", "--skip-preview"]));
    }

    /** The state as `pulumi stack export` writes it (secrets encrypted unless `showSecrets`). */
    async exportText(showSecrets = false): Promise<string> {
        return (await this.run(["stack", "export", "--stack", this.stack, ...(showSecrets ? ["--show-secrets"] : [])])).stdout;
    }

    async resources(): Promise<StateResource[]> {
        const deployment = revealSecrets(JSON.parse(await this.exportText(true))).deployment;
        return ((deployment.resources ?? []) as any[]).map((r) => ({ ...r, type: typeOf(r.urn), name: nameOf(r.urn), inputs: r.inputs ?? {}, outputs: r.outputs ?? {} }));
    }

    async outputs(): Promise<Record<string, any>> {
        return JSON.parse((await this.run(["stack", "output", "--json", "--show-secrets", "--stack", this.stack])).stdout);
    }
}
