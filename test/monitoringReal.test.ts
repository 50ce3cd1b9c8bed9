/**
 * Monitoring against real tools: Prometheus' own promtool accepts the generated prometheus.yml,
 * and a real nginx exporter reading a real nginx's stub_status publishes every nginx metric name
 * the dashboard may use. (Debian's exporter is 0.11; PUG's service pins 1.4.2, whose collector
 * has the same names — see exporterMetrics.ts.)
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORTER_METRICS } from "../components/specs/exporterMetrics";
import { prometheusConfig } from "../components/monitoring";

const dir = mkdtempSync(path.join(tmpdir(), "pug-monitoring-real-"));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as { port: number };
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });
}

async function fetchWithin(url: string, seconds: number): Promise<string> {
    const until = Date.now() + seconds * 1000;
    for (;;) {
        try {
            const response = await fetch(url);
            if (response.ok) return await response.text();
        } catch {
            // not up yet
        }
        if (Date.now() > until) throw new Error(`${url} did not answer within ${seconds}s`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

function requireTool(tool: string, pkg: string): void {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (apt-get install ${pkg})`);
}

afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
});

describe("promtool", () => {
    it("accepts the generated prometheus.yml for many users, engines and the proxy", () => {
        requireTool("promtool", "prometheus");
        const users = Array.from({ length: 50 }, (_, i) => `user-${i}`);
        const engines = Object.fromEntries(["m1", "m2", "m3", "w1"].map((n, i) => [n, `10.0.0.${i + 1}:9323`]));
        const file = path.join(dir, "prometheus.yml");
        writeFileSync(file, prometheusConfig({ scrapeInterval: "15s", engineTargets: engines, proxyExporter: "pug-nginx-exporter:9113", users }));
        const check = spawnSync("promtool", ["check", "config", "--syntax-only", file], { encoding: "utf8" });
        expect(check.status, check.stdout + check.stderr).toBe(0);
        expect(check.stdout).toContain("SUCCESS");
    });
});

describe("the nginx exporter", () => {
    let exporterUrl: string;

    beforeAll(async () => {
        requireTool("nginx", "nginx");
        requireTool("prometheus-nginx-exporter", "prometheus-nginx-exporter");
        const [nginxPort, exporterPort] = [await freePort(), await freePort()];
        // A minimal test fixture: one internal listener with stub_status, as the front proxy has.
        writeFileSync(
            path.join(dir, "nginx.conf"),
            [
                "daemon off;", `pid ${dir}/nginx.pid;`, "error_log stderr;", "events {}",
                "http {", "  access_log off;", `  client_body_temp_path ${dir}/body;`, `  proxy_temp_path ${dir}/proxy;`,
                `  fastcgi_temp_path ${dir}/fastcgi;`, `  uwsgi_temp_path ${dir}/uwsgi;`, `  scgi_temp_path ${dir}/scgi;`,
                `  server { listen 127.0.0.1:${nginxPort}; location = /stub_status { stub_status; } }`, "}",
            ].join("\n"),
        );
        const nginx = spawn("nginx", ["-c", path.join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" });
        children.push(nginx);
        await fetchWithin(`http://127.0.0.1:${nginxPort}/stub_status`, 10);
        const exporter = spawn(
            "prometheus-nginx-exporter",
            ["-nginx.scrape-uri", `http://127.0.0.1:${nginxPort}/stub_status`, "-web.listen-address", `127.0.0.1:${exporterPort}`],
            { stdio: "ignore" },
        );
        children.push(exporter);
        exporterUrl = `http://127.0.0.1:${exporterPort}/metrics`;
    }, 30_000);

    it("publishes every nginx metric name the dashboard may query", async () => {
        const text = await fetchWithin(exporterUrl, 15);
        const published = new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]));
        for (const name of EXPORTER_METRICS.nginxExporter.names) expect(published.has(name), name).toBe(true);
        expect(text).toMatch(/^nginx_up 1$/m);
    });
});
