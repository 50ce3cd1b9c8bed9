/**
 * Pulumi.yaml is the configuration reference users read: every key the program reads is declared
 * there (typed under `config:` where Pulumi's schema can type it, described under
 * `template.config:` otherwise), and nothing stale is declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadStackFile, PROJECT_ROOT } from "./harness/stackFiles";
import { runStackProgram } from "./harness/stackProgram";

const project = parse(readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"));
const typed = Object.keys(project.config ?? {});
const described = Object.keys(project.template?.config ?? {});

/** Runs the program with a stack file and returns every `<namespace>:<key>` it asked for. */
async function keysReadWith(stack: string): Promise<Set<string>> {
    const read = new Set<string>();
    const proto = pulumi.Config.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const methods = Object.getOwnPropertyNames(pulumi.Config.prototype).filter((m) => /^(get|require)/.test(m));
    const originals = methods.map((m) => [m, proto[m]] as const);
    for (const [m, original] of originals) {
        proto[m] = function (this: pulumi.Config, key: unknown, ...rest: unknown[]) {
            read.add(`${this.name}:${String(key)}`);
            return original.call(this, key, ...rest);
        };
    }
    try {
        const file = loadStackFile(stack);
        await runStackProgram(file.config, file.secretKeys);
    } finally {
        for (const [m, original] of originals) proto[m] = original;
    }
    return read;
}

describe("Pulumi.yaml", () => {
    it("gives every typed key a default, or every stack file sets it: the CLI refuses a stack missing one", () => {
        for (const key of typed.filter((k) => project.config[k].default === undefined)) {
            for (const stack of ["dev", "prod"]) expect(loadStackFile(stack).config[key], `${key} in Pulumi.${stack}.yaml`).toBeDefined();
        }
    });

    it("runs on Node with TypeScript through ts-node", () => {
        expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
    });

    it("types and describes every key it declares", () => {
        for (const key of typed) {
            expect(project.config[key].type, key).toMatch(/^(string|boolean|integer|array)$/);
            expect(project.config[key].description, key).toBeTruthy();
        }
        for (const key of described) expect(project.template.config[key].description, key).toBeTruthy();
    });

    it.each(["dev", "prod"])("declares every key the program reads with the %s stack, and nothing it does not read", async (stack) => {
        const read = await keysReadWith(stack);
        const declared = new Set([...typed, ...described]);
        expect([...read].filter((k) => !declared.has(k))).toEqual([]);
        const file = loadStackFile(stack);
        expect(Object.keys(file.config).filter((k) => !declared.has(k))).toEqual([]);
        if (stack === "prod") expect([...declared].filter((k) => !read.has(k))).toEqual([]);
    });
});
