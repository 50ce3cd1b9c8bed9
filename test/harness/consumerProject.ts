/**
 * A stack that imports PUG the way a platform team does: a project made like `pulumi new
 * typescript` makes it (its package.json dependencies, its tsconfig:
 * test/fixtures/pulumi-new-typescript), with PUG installed by `npm install` of the packed tarball
 * or of a git URL, and one program (CONSUMER_PROGRAM) whose stack config says what differs between
 * its stacks. test/consumer.test.ts runs it under Pulumi's mocks, test/e2e/consumer.e2e.ts previews
 * it with the real engine.
 *
 * What is installed is the work tree as it would be committed (tracked and untracked files that
 * git does not ignore), copied into a scratch repository with one commit: the git route clones
 * that, offline, and the tarball is packed from it, so this never builds the repository's own
 * dist/ while test/packaging.test.ts does. npm takes the packages from its cache when it can.
 */
import { execFileSync } from "child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import * as path from "path";
import { PROJECT_ROOT } from "./stackFiles";

export const PUG_PACKAGE = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { name: string }).name;
export const TEMPLATE = path.join(PROJECT_ROOT, "test", "fixtures", "pulumi-new-typescript");
/** The consumer's Pulumi project name: its stack config keys are `consumer:<key>`. */
export const CONSUMER_PROJECT = "consumer";

/** The package.json `pulumi new typescript` writes (pulumi/templates, typescript/package.json). */
const TEMPLATE_PACKAGE = {
    name: CONSUMER_PROJECT,
    main: "index.ts",
    devDependencies: { "@types/node": "^18", typescript: "^5.0.0" },
    dependencies: { "@pulumi/pulumi": "^3.113.0" },
};

/**
 * The consumer's program: PugPlatform with its defaults (monitoring on) and a user source of its
 * own. Its stack config (`consumer:*`) holds what a team sets per stack: the Swarm (else the local
 * engine), the release channels and their registry (else the official image), and the key of
 * payments' Graphite datasource (a secret, `consumer:graphiteKey`).
 */
export const CONSUMER_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { loadUsers, PugPlatform, type GrafanaDefaults, type RegistrySettings, type SwarmArgs, type UserSource } from "${PUG_PACKAGE}";

// A list the stack builds itself (a CRM query, say): PUG validates it like its own.
const teams: UserSource = {
    describe: () => "consumer teams",
    load: async () => [
        {
            id: "payments",
            datasources: [{ name: "Graphite", type: "graphite", url: "https://graphite.example.org", basicAuth: true, basicAuthUser: "payments", secureJsonData: { basicAuthPassword: { secret: "graphite-key" } } }],
        },
        { id: "search", channel: "canary" },
    ],
};

export = async () => {
    const config = new pulumi.Config();
    const users = await loadUsers(teams);
    const platform = new PugPlatform("pug", {
        domain: "grafana.example.org",
        users,
        swarm: config.getObject<SwarmArgs>("swarm"),
        registry: config.getObject<RegistrySettings>("registry"),
        grafana: config.getObject<Partial<GrafanaDefaults>>("grafana"),
        userSecrets: { payments: { "graphite-key": config.requireSecret("graphiteKey") } },
    });
    return { tenants: platform.tenants, urls: platform.urls };
};
`;

/** Runs a command, its output in the error when it fails. */
export function run(command: string, args: string[], cwd: string): string {
    try {
        return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 5 * 60_000 });
    } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    }
}
const git = (cwd: string, ...args: string[]) => run("git", ["-c", "user.name=consumer test", "-c", "user.email=consumer@test.invalid", ...args], cwd).trim();

/** The work tree as committed, in `<scratch>/pug` (one commit), and the tarball packed from it into `scratch`. */
export function packWorkTree(scratch: string): { source: string; commit: string; tarball: string } {
    const source = path.join(scratch, "pug");
    mkdirSync(source);
    const files = git(PROJECT_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0").filter((f) => f && existsSync(path.join(PROJECT_ROOT, f)));
    for (const file of files) cpSync(path.join(PROJECT_ROOT, file), path.join(source, file), { recursive: true });
    git(source, "init", "-q");
    git(source, "add", "-A");
    git(source, "commit", "-q", "-m", "the work tree");
    const commit = git(source, "rev-parse", "HEAD");
    // `npm pack` builds dist/ through `prepare` with this repository's devDependencies
    symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(source, "node_modules"), "dir");
    const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", scratch], source)) as { filename: string }[];
    return { source, commit, tarball: path.join(scratch, packed.filename) };
}

/** A project as `pulumi new typescript` makes it, in `dir`, running CONSUMER_PROGRAM, with PUG installed from `spec`. */
export function consumerProject(dir: string, spec: string): string {
    mkdirSync(dir);
    writeFileSync(path.join(dir, "package.json"), JSON.stringify(TEMPLATE_PACKAGE, null, 4));
    writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${CONSUMER_PROJECT}\nruntime: nodejs\n`);
    cpSync(path.join(TEMPLATE, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    writeFileSync(path.join(dir, "index.ts"), CONSUMER_PROGRAM);
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", spec], dir);
    return dir;
}
