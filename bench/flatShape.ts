/**
 * `node --import tsx bench/flatShape.ts <config.json> <out.json>`: runs the stack program (index.ts)
 * under the mock runtime with the stack config in `config.json` and writes what it registered, as
 * the flat baseline of the engine benchmark registers it again (flatResources.ts). In a process of
 * its own: the mock runtime is global.
 */
import { readFileSync, writeFileSync } from "fs";
import { runStackProgram } from "../test/harness/stackProgram";
import { flatResources } from "./flatResources";

const [configFile, out] = process.argv.slice(2);
runStackProgram(JSON.parse(readFileSync(configFile, "utf8"))).then(
    (run) => writeFileSync(out, JSON.stringify(flatResources(run.resources))),
    (err) => {
        process.stderr.write(`flatShape: ${(err as Error).stack}\n`);
        process.exit(1);
    },
);
