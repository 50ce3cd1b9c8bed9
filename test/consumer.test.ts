/**
 * PUG imported the way a platform team imports it (harness/consumerProject.ts): `npm install` of
 * the packed tarball, and of a git URL of the repository, into projects made like `pulumi new
 * typescript` makes them. Each project's program uses PugPlatform with its defaults (monitoring
 * on) and a user source of its own; its stack config here adds a release channel built into a
 * registry. It is type-checked by the project's own tsc and tsconfig, then run under Pulumi's
 * mocks. test/e2e/consumer.e2e.ts previews the same program with the real engine.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from "fs";
import { createRequire } from "module";
import { tmpdir } from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerProject, CONSUMER_PROJECT, packWorkTree, PUG_PACKAGE, run, TEMPLATE } from "./harness/consumerProject";
import { settled, setConfig, setupPulumiMocks, type MockSetup } from "./harness/pulumiMocks";
import { PROJECT_ROOT } from "./harness/stackFiles";

/** The consumer's stack config: two release channels, built into a registry; the datasource's key. */
const STACK_CONFIG = {
    [`${CONSUMER_PROJECT}:registry`]: { repository: "registry.example.internal/pug/grafana" },
    [`${CONSUMER_PROJECT}:grafana`]: {
        channels: {
            canary: { version: "12.1.0", plugins: ["grafana-clock-panel@2.1.8"], wave: 0 },
            stable: { version: "12.0.2", wave: 1 },
        },
        defaultChannel: "stable",
    },
    [`${CONSUMER_PROJECT}:graphiteKey`]: "graphite-key-of-payments",
};

const scratch = mkdtempSync(path.join(tmpdir(), "pug-consumer-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let packed = { source: "", commit: "", tarball: "" };
beforeAll(() => {
    packed = packWorkTree(scratch);
}, 5 * 60_000);

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
        const mocks = await setupPulumiMocks({ project: CONSUMER_PROJECT, stack: "dev", rootDirectory: dir });
        setConfig(STACK_CONFIG, [`${CONSUMER_PROJECT}:graphiteKey`]);
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
    const installed = path.join(dir, "node_modules", PUG_PACKAGE);
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
    ["the packed tarball", () => packed.tarball],
    ["a git URL of the repository", () => `git+file://${packed.source}#${packed.commit}`],
])("a `pulumi new typescript` project that installs PUG from %s", (route, spec) => {
    let dir = "";
    beforeAll(() => {
        dir = consumerProject(path.join(scratch, route.replace(/\W+/g, "-")), spec());
    }, 5 * 60_000);

    it("gets the built package: JavaScript, declarations, the assets and the Grafana image's build context", () => {
        const installed = path.join(dir, "node_modules", PUG_PACKAGE);
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
