import { readFileSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./harness/stackFiles";

/**
 * Pulumi's Node.js runtime (`@pulumi/pulumi/cmd/run`) requires the program under the project's
 * tsconfig and calls `module.exports` only when it is a function; any other export is taken as
 * the stack's outputs. The mock-based tests call index.ts's function themselves, so they cannot
 * see a program the runtime would never run: this compiles index.ts as ts-node does and checks
 * what the runtime would get.
 */
describe("the stack program's entry point", () => {
    it("is a function in module.exports under the project's compiler options, so the runtime calls it", () => {
        const tsconfig = ts.readConfigFile(path.join(PROJECT_ROOT, "tsconfig.json"), ts.sys.readFile).config;
        const { options } = ts.convertCompilerOptionsFromJson(tsconfig.compilerOptions, PROJECT_ROOT);
        const { outputText } = ts.transpileModule(readFileSync(path.join(PROJECT_ROOT, "index.ts"), "utf8"), { compilerOptions: options });
        const module = { exports: {} as unknown };
        // the program's imports are not needed to see its export: each is an empty module here
        new Function("module", "exports", "require", outputText)(module, module.exports, () => ({}));
        expect(typeof module.exports).toBe("function");
    });
});
