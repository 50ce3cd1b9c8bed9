/**
 * PUG imported the way a platform team imports it: `npm install` of the packed tarball, and of a
 * git URL of the repository, into projects made like `pulumi new typescript` makes them (its
 * package.json dependencies, its tsconfig: test/fixtures/pulumi-new-typescript). Each project's
 * program uses PugPlatform with its defaults (monitoring on), a release channel built into a
 * registry, and a user source of its own; it is type-checked by the project's own tsc and
 * tsconfig, then run under Pulumi's mocks.
 *
 * What is installed is the work tree as it would be committed (tracked and untracked files that
 * git does not ignore), copied into a scratch repository with one commit: the git route clones
 * that, offline, and the tarball is packed from it, so this never builds the repository's own
 * dist/ while test/packaging.test.ts does. npm takes the packages from its cache when it can.
 */
import { execFileSync } from "child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { createRequire } from "module";
import { tmpdir } from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settled, setupPulumiMocks, type MockSetup } from "./harness/pulumiMocks";
import { PROJECT_ROOT } from "./harness/stackFiles";

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { name: string };
const TEMPLATE = path.join(PROJECT_ROOT, "test", "fixtures", "pulumi-new-typescript");
const PROJECT = "consumer";

/** The package.json `pulumi new typescript` writes (pulumi/templates, typescript/package.json). */
const TEMPLATE_PACKAGE = {
    name: PROJECT,
    main: "index.ts",
    devDependencies: { "@types/node": "^18", typescript: "^5.0.0" },
    dependencies: { "@pulumi/pulumi": "^3.113.0" },
};

/** The consumer's program: PUG's defaults, a release channel with a registry, a user source of its own. */
const PROGRAM = `import { loadUsers, PugPlatform, type UserSource } from "${pkg.name}";

// A list the stack builds itself (a CRM query, say): PUG validates it like its own.
const teams: UserSource = {
    describe: () => "consumer teams",
    load: async () => [{ id: "payments" }, { id: "search", channel: "canary" }],
};

export = async () => {
    const users = await loadUsers(teams);
    const platform = new PugPlatform("pug", {
        domain: "grafana.example.org",
        users,
        registry: { repository: "registry.example.internal/pug/grafana" },
        grafana: {
            channels: {
                canary: { version: "12.1.0", plugins: ["grafana-clock-panel@2.1.8"], wave: 0 },
                stable: { version: "12.0.2", wave: 1 },
            },
            defaultChannel: "stable",
        },
    });
    return { tenants: platform.tenants, urls: platform.urls };
};
`;

const run = (command: string, args: string[], cwd: string) => {
    try {
        return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 5 * 60_000 });
    } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    }
};
const git = (cwd: string, ...args: string[]) => run("git", ["-c", "user.name=consumer test", "-c", "user.email=consumer@test.invalid", ...args], cwd).trim();

const scratch = mkdtempSync(path.join(tmpdir(), "pug-consumer-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The scratch repository (the work tree as committed) and the tarball packed from it. */
const source = path.join(scratch, "pug");
let tarball = "";
let commit = "";
beforeAll(() => {
    mkdirSync(source);
    const files = git(PROJECT_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0").filter((f) => f && existsSync(path.join(PROJECT_ROOT, f)));
    for (const file of files) cpSync(path.join(PROJECT_ROOT, file), path.join(source, file), { recursive: true });
    git(source, "init", "-q");
    git(source, "add", "-A");
    git(source, "commit", "-q", "-m", "the work tree");
    commit = git(source, "rev-parse", "HEAD");
    // `npm pack` builds dist/ through `prepare` with this repository's devDependencies
    symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(source, "node_modules"), "dir");
    const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", scratch], source)) as { filename: string }[];
    tarball = path.join(scratch, packed.filename);
}, 5 * 60_000);

/** A project as `pulumi new typescript` makes it, with PUG installed from `spec`. */
function consumerProject(dir: string, spec: string): string {
    mkdirSync(dir);
    writeFileSync(path.join(dir, "package.json"), JSON.stringify(TEMPLATE_PACKAGE, null, 4));
    writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${PROJECT}\nruntime: nodejs\n`);
    cpSync(path.join(TEMPLATE, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    writeFileSync(path.join(dir, "index.ts"), PROGRAM);
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", spec], dir);
    return dir;
}

/** Type-checks the project with its own TypeScript: its tsconfig, then the template's older one. */
function typeCheck(dir: string): void {
    const tsc = path.join(dir, "node_modules", "typescript", "bin", "tsc");
    run(process.execPath, [tsc, "--noEmit", "-p", "tsconfig.json"], dir);
    cpSync(path.join(TEMPLATE, "tsconfig.commonjs.json"), path.join(dir, "tsconfig.commonjs.json"));
    run(process.execPath, [tsc, "--noEmit", "-p", "tsconfig.commonjs.json"], dir);
}

/**
 * Runs the compiled program under Pulumi's mocks. The program must register with the mocks this
 * test sets up, so the project's @pulumi/pulumi (the same version range) is swapped for the test's
 * own for the run and put back after; everything else is the project's install.
 */
async function runUnderMocks(dir: string): Promise<{ mocks: MockSetup; outputs: { tenants: string[]; urls: Record<string, string> } }> {
    const tsc = path.join(dir, "node_modules", "typescript", "bin", "tsc");
    run(process.execPath, [tsc, "-p", "tsconfig.json"], dir);
    const installed = path.join(dir, "node_modules", "@pulumi", "pulumi");
    renameSync(installed, `${installed}.installed`);
    symlinkSync(path.join(PROJECT_ROOT, "node_modules", "@pulumi", "pulumi"), installed, "dir");
    try {
        const mocks = await setupPulumiMocks({ project: PROJECT, stack: "dev", rootDirectory: dir });
        const main = createRequire(path.join(dir, "index.js"))(path.join(dir, "bin", "index.js")) as () => Promise<{ tenants: string[]; urls: Record<string, string> }>;
        const outputs = await main();
        await settled();
        return { mocks, outputs };
    } finally {
        rmSync(installed);
        renameSync(`${installed}.installed`, installed);
    }
}

/** What a consumer depends on, whichever way PUG was installed. */
function expectWorkingPlatform(dir: string, mocks: MockSetup, outputs: { tenants: string[]; urls: Record<string, string> }): void {
    const installed = path.join(dir, "node_modules", pkg.name);
    // the custom source's users became tenants, each with its Grafana
    expect(outputs.tenants).toEqual(["payments", "search"]);
    expect(outputs.urls).toEqual({ payments: "https://grafana.example.org/payments/grafana/", search: "https://grafana.example.org/search/grafana/" });
    expect(mocks.ofType("pug:grafana:GrafanaTenant")).toHaveLength(2);
    // monitoring (on by default) provisioned the operations dashboard the package ships
    const dashboard = readFileSync(path.join(installed, "dist", "assets", "operations-dashboard.json"), "utf8");
    const configs = mocks.ofType("docker:index/serviceConfig:ServiceConfig").map((c) => Buffer.from(String(c.inputs.data), "base64").toString("utf8"));
    expect(configs).toContain(dashboard);
    // each channel's image is built from the Dockerfile in the installed package; the path is
    // relative to where `pulumi` runs (here the test's working directory)
    const builds = mocks.ofType("docker:index/image:Image").map((i) => i.inputs.build);
    expect(builds).toHaveLength(2);
    for (const build of builds) {
        const dockerfile = path.resolve(build.dockerfile);
        expect(dockerfile).toBe(path.join(installed, "images", "grafana", "Dockerfile"));
        expect(existsSync(dockerfile)).toBe(true);
        expect(path.resolve(build.context)).toBe(path.dirname(dockerfile));
    }
}

describe.each([
    ["the packed tarball", () => tarball],
    ["a git URL of the repository", () => `git+file://${source}#${commit}`],
])("a `pulumi new typescript` project that installs PUG from %s", (route, spec) => {
    let dir = "";
    beforeAll(() => {
        dir = consumerProject(path.join(scratch, route.replace(/\W+/g, "-")), spec());
    }, 5 * 60_000);

    it("gets the built package: JavaScript, declarations, the assets and the Grafana image's build context", () => {
        const installed = path.join(dir, "node_modules", pkg.name);
        for (const file of ["dist/index.js", "dist/index.d.ts", "dist/assets/operations-dashboard.json", "images/grafana/Dockerfile"]) {
            expect(existsSync(path.join(installed, file)), file).toBe(true);
        }
    });

    it("type-checks with the project's own tsconfig (and the template's older CommonJS one)", () => {
        typeCheck(dir);
    }, 120_000);

    it("runs under Pulumi's mocks: PugPlatform's defaults, a built release channel, the custom source's users", async () => {
        const { mocks, outputs } = await runUnderMocks(dir);
        expectWorkingPlatform(dir, mocks, outputs);
    }, 120_000);
});
