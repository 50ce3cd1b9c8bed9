/**
 * The policy pack against what PUG really declares: the stack program (index.ts) runs under
 * Pulumi's mocks with the dev and the prod configuration, every registered resource's inputs are
 * handed to every policy as the engine would hand them, and no guardrail fires. Then one change a
 * user could make to the prod configuration is shown to be caught.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { setupPulumiMocks, settled, setConfig, type MockSetup } from "./harness/pulumiMocks";
import { packViolations, type PackConfig, type PolicyInputResource } from "./harness/policyArgs";
import { loadStackFile } from "./harness/stackFiles";
import { readFileSync } from "fs";
import * as path from "path";

const PACK_CONFIG = JSON.parse(readFileSync(path.join(__dirname, "..", "policy", "config.json"), "utf8")) as PackConfig;

let mocks: MockSetup;
let pugPolicies: typeof import("../policy/policies").pugPolicies;

beforeAll(async () => {
    mocks = await setupPulumiMocks({ stack: "prod" });
    ({ pugPolicies } = await import("../policy/policies"));
});

/** Runs index.ts with a stack's configuration (edited by `edit`) and returns what it registered, as policy inputs. */
async function renderStack(stack: string, edit: (config: Record<string, unknown>) => void = () => {}): Promise<PolicyInputResource[]> {
    const file = loadStackFile(stack);
    edit(file.config);
    setConfig(file.config, file.secretKeys);
    mocks.reset();
    const { default: main } = await import("../index");
    await main();
    await settled();
    // The harness names URNs after the mock stack; rewrite them to the stack being rendered.
    return mocks.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs, urn: r.urn.replace(/^urn:pulumi:[^:]+::/, `urn:pulumi:${stack}::`) }));
}

describe("the policy pack on the PUG stack program", () => {
    it.each(["dev", "prod"])("finds nothing to object to in the %s stack", async (stack) => {
        const resources = await renderStack(stack);
        const types = new Set(resources.map((r) => r.type));
        // what the policies look at is really there, so passing means something
        expect(types).toContain("docker:index/service:Service");
        expect(types).toContain("mysql:index/grant:Grant");
        expect(resources.filter((r) => r.props.labels?.some((l: any) => l.label === "pug.role" && l.value === "grafana")).length).toBeGreaterThanOrEqual(2);
        expect(await packViolations(pugPolicies, resources, PACK_CONFIG)).toEqual([]);
    });

    it("stops a prod configuration that gives a user a single replica", async () => {
        const resources = await renderStack("prod", (config) => {
            const users = config["pug:users"] as Record<string, unknown>[];
            users[0] = { ...users[0], replicas: 1 };
        });
        const violations = await packViolations(pugPolicies, resources, PACK_CONFIG);
        expect(violations.map((v) => [v.policy, v.message])).toEqual([
            ["grafana-replicas-on-production", expect.stringMatching(/service "grafana-acme" has 1 replica\(s\) on production stack "prod"/)],
        ]);
    });

    it("stops a Grafana setting that puts a key in plain text", async () => {
        const resources = await renderStack("dev", (config) => {
            const users = config["pug:users"] as Record<string, any>[];
            users[0] = { ...users[0], settings: { date_formats: { full_date: "q9Z2vL8xR4tW7yB1nK5mP3sD6fH0jC" } } };
        });
        const violations = await packViolations(pugPolicies, resources, PACK_CONFIG);
        expect(violations.map((v) => v.policy)).toEqual(["no-secret-in-env"]);
        expect(violations[0].message).toMatch(/env GF_DATE_FORMATS_FULL_DATE holds a random-looking value/);
    });
});
