/**
 * The library as another stack gets it. `npm pack` decides what is published: the components
 * compiled to JavaScript with their declarations, nothing else. Then a consumer is assembled the
 * way npm would install the tarball (its files under node_modules/pug-grafana, its dependencies
 * beside it), and the example stack under examples/ is compiled against it, with Node16 and with
 * the older Node resolution, and run under Pulumi's mocks; so is every ```ts sample of the README,
 * with the tsconfig of Pulumi's TypeScript template.
 *
 * Both tests build dist/ through the package's prepare script; they stay in this one file so they
 * never build concurrently.
 */
import { execFileSync } from "child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { createRequire } from "module";
import { tmpdir } from "os";
import * as path from "path";
import * as ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setConfig, setupPulumiMocks, settled, type MockSetup } from "./harness/pulumiMocks";
import { PROJECT_ROOT } from "./harness/stackFiles";

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
const EXAMPLE = path.join(PROJECT_ROOT, "examples", "teams-platform");
const EXAMPLE_PROJECT = "grafana-for-teams";
const TSC = path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc");
/** The tsconfigs `pulumi new typescript` writes, now and before 2026-03 (the files say which commit). */
const TEMPLATE_TSCONFIGS = ["tsconfig.json", "tsconfig.commonjs.json"].map((f) => path.join(PROJECT_ROOT, "test", "fixtures", "pulumi-new-typescript", f));

interface PackResult {
    filename: string;
    files: { path: string }[];
}

function npmPack(...args: string[]): PackResult {
    const out = execFileSync("npm", ["pack", "--json", ...args], { cwd: PROJECT_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return (JSON.parse(out) as PackResult[])[0];
}

/** The library's modules: every .ts under components/ that is not a test (specs/ and users/ too). */
const MODULES = (readdirSync(path.join(PROJECT_ROOT, "components"), { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => f.replace(/\.ts$/, ""));

/**
 * The packages the declaration files reachable from `entry` import, with the file that does: a
 * consumer's tsc checks every declaration file its imports reach (unless it sets skipLibCheck).
 */
function packagesDeclarationsImport(entry: string): Record<string, string> {
    const seen = new Set<string>();
    const packages: Record<string, string> = {};
    const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
            if (fileName.startsWith(".")) visit(path.resolve(path.dirname(file), `${fileName}.d.ts`));
            else packages[fileName] ??= path.relative(PROJECT_ROOT, file);
        }
    };
    visit(entry);
    return packages;
}

let mocks: MockSetup;
const sandbox = mkdtempSync(path.join(tmpdir(), "pug-ci-policy-consumer-"));
beforeAll(async () => {
    mocks = await setupPulumiMocks({ project: EXAMPLE_PROJECT, stack: "staging" });
});
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

describe("package.json", () => {
    it("exports the components' JavaScript and types, with @pulumi/pulumi as a peer", () => {
        expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" });
        expect(pkg.types).toBe("./dist/index.d.ts");
        expect(pkg.main).toBe("./dist/index.js");
        // one @pulumi/pulumi per program: the consumer's, shared with PUG's components
        expect(pkg.peerDependencies["@pulumi/pulumi"]).toBeDefined();
        expect(pkg.dependencies["@pulumi/pulumi"]).toBeUndefined();
        expect(pkg.devDependencies["@pulumi/pulumi"]).toBeDefined();
        // npm builds a git dependency through `prepare` (and runs it before `npm pack` too): with
        // only `prepack`, `npm install git+…` installs a package without dist/
        expect(pkg.scripts.prepare).toMatch(/npm run build/);
    });

    it("keeps Pulumi running the stack program, not the exports: Pulumi.yaml names index.ts", () => {
        // Pulumi's Node.js runtime takes package.json's `exports` as the program when Pulumi.yaml
        // has no `main`, which would run the library instead of the stack.
        const project = readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8");
        expect(project).toMatch(/^main: index\.ts$/m);
        // and that the runtime calls what index.ts exports: test/programEntry.test.ts
    });
});

describe("what npm pack publishes", () => {
    it("holds every component module with its declarations, and no tests, stack files, sources or secrets", () => {
        const listed = npmPack("--dry-run").files.map((f) => f.path).sort();
        for (const module of MODULES) {
            expect(listed).toContain(`dist/${module}.js`);
            expect(listed).toContain(`dist/${module}.d.ts`);
        }
        // what the components read at run time: the operations dashboard (Monitoring), the
        // Dockerfile GrafanaImage builds by default (its context is images/grafana beside dist/)
        expect(listed).toContain("dist/assets/operations-dashboard.json");
        expect(listed).toContain("images/grafana/Dockerfile");
        expect(listed).toContain("package.json");
        expect(listed).toContain("README.md");
        // The declarations another stack compiles against name PUG's and Pulumi's types only: zod's
        // declarations, for one, fail a consumer without esModuleInterop or skipLibCheck.
        const imported = packagesDeclarationsImport(path.join(PROJECT_ROOT, "dist", "index.d.ts"));
        expect(Object.entries(imported).filter(([name]) => !name.startsWith("@pulumi/"))).toEqual([]);
        const unwanted = listed.filter((f) =>
            /\.test\.|(^|\/)test\/|^Pulumi(\.[^/]+)?\.yaml$|^(index|vitest\.config)\.ts$|^(components|policy|examples|\.github|\.ci|bench)\/|\.(tgz|pem|key)$|(^|\/)\.env|tsconfig/.test(f),
        );
        expect(unwanted).toEqual([]);
        // nothing from the stacks' secrets: no encrypted config values or salts, no private key
        for (const file of listed) {
            const content = readFileSync(path.join(PROJECT_ROOT, file), "utf8");
            expect(content, file).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----|encryptionsalt:\s*v1:\S+|secure:\s*v1:[A-Za-z0-9+/=]{8,}/);
        }
    }, 120_000);
});

describe("a stack that imports the package", () => {
    /** Links a package from this repository's node_modules into the sandbox, as npm would have installed it. */
    function linkDependency(name: string): void {
        const target = path.join(sandbox, "node_modules", name);
        if (existsSync(target)) return;
        mkdirSync(path.dirname(target), { recursive: true });
        symlinkSync(path.join(PROJECT_ROOT, "node_modules", name), target, "dir");
    }

    beforeAll(() => {
        const { filename } = npmPack("--pack-destination", sandbox);
        const installed = path.join(sandbox, "node_modules", pkg.name);
        mkdirSync(installed, { recursive: true });
        execFileSync("tar", ["-xzf", path.join(sandbox, filename), "-C", installed, "--strip-components=1"]);
        const example = JSON.parse(readFileSync(path.join(EXAMPLE, "package.json"), "utf8"));
        expect(example.dependencies[pkg.name]).toBe(`file:../../${filename}`);
        const needed = [
            ...Object.keys(pkg.dependencies),
            ...Object.keys(pkg.peerDependencies),
            ...Object.keys(example.dependencies),
            ...Object.keys(example.devDependencies),
        ].filter((name) => name !== pkg.name);
        needed.forEach(linkDependency);
        for (const file of ["index.ts", "tsconfig.json", "teams.yaml", "package.json", "Pulumi.yaml"]) copyFileSync(path.join(EXAMPLE, file), path.join(sandbox, file));
        // The import the library promises, beside the example.
        writeFileSync(
            path.join(sandbox, "imports.ts"),
            `import { GrafanaTenant, PugPlatform, type GrafanaTenantArgs, type PugPlatformArgs } from "${pkg.name}";\n` +
                `export type Components = [typeof GrafanaTenant, typeof PugPlatform, GrafanaTenantArgs, PugPlatformArgs];\n`,
        );
    }, 120_000);

    const tsc = (...args: string[]) => {
        try {
            execFileSync(process.execPath, [TSC, ...args], { cwd: sandbox, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        } catch (err) {
            throw new Error(`tsc ${args.join(" ")} failed:\n${(err as { stdout?: string }).stdout}`);
        }
    };

    it("type-checks and compiles with the example's own tsconfig (Node16 resolution, through `exports`)", () => {
        tsc("-p", "tsconfig.json");
        expect(existsSync(path.join(sandbox, "bin", "index.js"))).toBe(true);
        tsc("--noEmit", "--strict", "--skipLibCheck", "--esModuleInterop", "--module", "node16", "--moduleResolution", "node16", "--types", "node", "imports.ts");
    }, 120_000);

    it("type-checks with the older Node resolution Pulumi's templates use (through `types`)", () => {
        tsc("--noEmit", "--strict", "--skipLibCheck", "--esModuleInterop", "--module", "commonjs", "--moduleResolution", "node", "--types", "node", "index.ts", "imports.ts");
    }, 120_000);

    it("compiles every ```ts sample of the README against the package, with the template's tsconfigs", () => {
        const samples = [...readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
        expect(samples.length).toBeGreaterThan(0);
        const files = samples.map((code, i) => {
            writeFileSync(path.join(sandbox, `readme-sample-${i + 1}.ts`), code);
            return `readme-sample-${i + 1}.ts`;
        });
        for (const template of TEMPLATE_TSCONFIGS) {
            writeFileSync(path.join(sandbox, "tsconfig.readme.json"), JSON.stringify({ extends: template, compilerOptions: { noEmit: true }, files }));
            tsc("-p", "tsconfig.readme.json");
        }
    }, 120_000);

    it("runs under Pulumi's mocks: one Grafana per team of teams.yaml, sized by team", async () => {
        setConfig(
            {
                [`${EXAMPLE_PROJECT}:domain`]: "grafana.example.org",
                [`${EXAMPLE_PROJECT}:mysqlEndpoint`]: "mysql.example.internal:3306",
                [`${EXAMPLE_PROJECT}:mysqlUsername`]: "pulumi",
                [`${EXAMPLE_PROJECT}:mysqlPassword`]: "stand-in",
                [`${EXAMPLE_PROJECT}:teamsFile`]: path.join(sandbox, "teams.yaml"),
            },
            [`${EXAMPLE_PROJECT}:mysqlPassword`],
        );
        // the compiled example, requiring the installed package exactly as Node would in the consumer
        const { default: main } = createRequire(__filename)(path.join(sandbox, "bin", "index.js")) as { default: () => Promise<{ urls: Record<string, string> }> };
        const outputs = await main();
        await settled();
        expect(outputs.urls).toEqual({
            payments: "https://grafana.example.org/payments/grafana/",
            search: "https://grafana.example.org/search/grafana/",
            "data-platform": "https://grafana.example.org/data-platform/grafana/",
        });
        const services = mocks.ofType("docker:index/service:Service").filter((s) => s.inputs.labels?.some((l: any) => l.value === "grafana"));
        expect(Object.fromEntries(services.map((s) => [s.inputs.name, s.inputs.mode.replicated.replicas]))).toEqual({
            "grafana-payments": 2,
            "grafana-search": 2,
            "grafana-data-platform": 3,
        });
        expect(mocks.ofType("pug:grafana:GrafanaTenant")).toHaveLength(3);
        expect(mocks.ofType("mysql:index/grant:Grant").map((g) => g.inputs.database).sort()).toEqual(["grafana_data_platform", "grafana_payments", "grafana_search"]);
    }, 60_000);
});
