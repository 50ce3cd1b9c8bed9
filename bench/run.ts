/**
 * `npm run bench [websockets] [routing] [rendering] [peers] [engine]` (all when none is named):
 * runs the benchmarks, prints their tables and writes bench/results.json. Never part of `npm test`.
 *
 * Every figure is compared with a baseline measured in the same run, minutes apart at most: the
 * machine is shared, and absolute times move with whatever else runs on it.
 */
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { namespacesForbiddenReason } from "../test/harness/proxyNamespace";
import { renderingBenchmark } from "./rendering";
import { routingBenchmark } from "./routing";
import { engineBenchmark } from "./engineRuns";
import { peersBenchmark } from "./peers";
import { engineTables, peersTable, renderingTable, routingTable, websocketTable } from "./tables";
import { websocketBenchmark } from "./websockets";

const BENCHMARKS = ["websockets", "routing", "rendering", "peers", "engine"] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

function machine() {
    const sh = (command: string) => execFileSync("sh", ["-c", command], { encoding: "utf8" }).trim();
    return {
        nproc: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        memoryMiB: Math.round(os.totalmem() / 2 ** 20),
        kernel: `${os.type()} ${os.release()}`,
        nginx: sh("nginx -v 2>&1"),
        haproxy: sh("haproxy -v 2>&1 | head -1"),
        caddy: sh("caddy version 2>&1"),
        node: process.version,
        openFiles: { soft: sh("ulimit -Sn"), hard: sh("ulimit -Hn") },
    };
}

async function main() {
    const asked = process.argv.slice(2);
    for (const a of asked) if (!(BENCHMARKS as readonly string[]).includes(a)) throw new Error(`unknown benchmark "${a}" (have: ${BENCHMARKS.join(", ")})`);
    const selected = (asked.length ? asked : BENCHMARKS) as BenchmarkName[];
    const forbidden = namespacesForbiddenReason();
    const started = new Date();
    const results: Record<string, unknown> = {
        startedAt: started.toISOString(),
        machine: machine(),
        loadAverageAtStart: os.loadavg(),
        note:
            "Shared 2-core machine: other work (other engineers' tests) may run at the same time. Absolute times move with it; " +
            "each comparison is against a baseline measured in the same run, minutes apart at most.",
    };
    console.log(`machine: ${JSON.stringify(results.machine)}\nload average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);

    const tables: string[] = [];
    for (const name of selected) {
        const t0 = Date.now();
        console.log(`running ${name}...`);
        if (name !== "rendering" && name !== "engine" && forbidden) {
            results[name] = { skipped: forbidden };
            console.log(`SKIPPED ${name}: ${forbidden}`);
            continue;
        }
        if (name === "websockets") {
            const r = await websocketBenchmark();
            results.websockets = r;
            tables.push(`### WebSocket capacity\n\n${websocketTable(r)}`);
        } else if (name === "routing") {
            const r = await routingBenchmark();
            results.routing = r;
            const warnings = [...new Set(r.results.flatMap((x) => x.warnings.map((w) => `${x.style}, ${x.users} users: ${w}`)))];
            tables.push(`### Routing table\n\n${routingTable(r.results)}${warnings.length ? `\n\nnginx warned: ${warnings.join("; ")}` : ""}`);
        } else if (name === "engine") {
            const r = await engineBenchmark();
            results.engine = r;
            tables.push(`### Through the real engine\n\n${engineTables(r)}`);
        } else if (name === "peers") {
            const r = await peersBenchmark();
            results.peers = r;
            tables.push(`### The proxy against its peers\n\n${peersTable(r)}`);
        } else {
            const r = await renderingBenchmark();
            results.rendering = r;
            tables.push(`### Rendering many users\n\n${renderingTable(r.results)}`);
        }
        console.log(`${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        console.log(`${tables[tables.length - 1]}\n`);
    }
    results.loadAverageAtEnd = os.loadavg();
    results.durationS = Math.round((Date.now() - started.getTime()) / 1000);
    const file = path.join(__dirname, "results.json");
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`${tables.join("\n\n")}\n\nload average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; took ${results.durationS} s; wrote ${file}`);
}

// Stopped from outside: exit normally, so the proxy namespaces and every process started are cleaned up.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
