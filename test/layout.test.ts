/**
 * The layout README.md's "Where things are" describes, held: the library (components/) imports
 * nothing of the stack program, the tests or the tools, and no module imports itself back
 * through others (a cycle makes load order decide what is undefined at import time).
 */
import { readdirSync, readFileSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./harness/stackFiles";

/** Every non-test .ts under `dir` (relative to the project), as project-relative paths. */
function modulesUnder(dir: string): string[] {
    return (readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true }) as string[])
        .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
        .map((f) => path.join(dir, f));
}

const program = ["index.ts", ...modulesUnder("components"), ...modulesUnder("stack")];
const programModules = new Set(program);

/** The project-relative modules `file` imports (relative imports only; `<dir>/index.ts` for a folder of the program). */
function importsOf(file: string): string[] {
    return ts
        .preProcessFile(readFileSync(path.join(PROJECT_ROOT, file), "utf8"), true, true)
        .importedFiles.map((i) => i.fileName)
        .filter((name) => name.startsWith("."))
        .map((name) => {
            const base = path.join(path.dirname(file), name);
            return [`${base}.ts`, path.join(base, "index.ts")].find((candidate) => programModules.has(candidate)) ?? `${base}.ts`;
        });
}

/** The cycles of a graph, each as the path that closes it (depth first). */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
    const cycles: string[][] = [];
    const done = new Set<string>();
    const visit = (node: string, trail: string[]) => {
        const at = trail.indexOf(node);
        if (at >= 0) return void cycles.push([...trail.slice(at), node]);
        if (done.has(node)) return;
        for (const next of graph.get(node) ?? []) visit(next, [...trail, node]);
        done.add(node);
    };
    for (const node of graph.keys()) visit(node, []);
    return cycles;
}

const graph = new Map(program.map((m) => [m, importsOf(m)]));

describe("the layout", () => {
    it("finds a cycle where there is one, and none in a tree", () => {
        expect(importCycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]))).toEqual([["a", "b", "c", "a"]]);
        expect(importCycles(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]))).toEqual([]);
    });

    it("has no import cycle in the library or the stack program", () => {
        // the graph is read right: the platform imports its children, the program the platform
        expect(graph.get("components/pugPlatform.ts")).toEqual(expect.arrayContaining(["components/frontProxy.ts", "components/specs/naming.ts"]));
        expect(graph.get("index.ts")).toEqual(expect.arrayContaining(["components/pugPlatform.ts", "stack/stackConfig.ts"]));
        expect(importCycles(graph)).toEqual([]);
    });

    it("keeps the library apart: components/ imports nothing of the stack program, the tests or the tools", () => {
        const outside = [...graph].filter(([m]) => m.startsWith("components/")).flatMap(([m, deps]) => deps.filter((d) => !d.startsWith("components/")).map((d) => `${m} -> ${d}`));
        expect(outside).toEqual([]);
    });

    it("puts every library module in one of the folders the README names", () => {
        for (const m of modulesUnder("components")) expect(m, m).toMatch(/^components\/((specs|users)\/)?[A-Za-z]+\.ts$/);
    });
});
