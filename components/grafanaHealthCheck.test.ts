/**
 * The Grafana health check's command, run by real sh and curl against a real HTTP server standing
 * in for Grafana's /api/health: what Swarm would count as healthy.
 */
import { execFile } from "child_process";
import { promisify } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoopbackServer, type LoopbackServer } from "../test/harness/loopbackServer";
import { grafanaHealthCheck } from "./grafanaTenant";

let grafana: LoopbackServer;
const check = async () => {
    const port = Number(new URL(grafana.base).port);
    return promisify(execFile)("sh", ["-c", grafanaHealthCheck(port)]).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
};
const answering = (status: number, body: object) => {
    grafana.handler = (req, res) => res.writeHead(req.url === "/api/health" ? status : 404, { "Content-Type": "application/json" }).end(JSON.stringify(body, null, 2));
};

describe("the health check of a user's Grafana", () => {
    beforeAll(async () => {
        grafana = await startLoopbackServer();
    });
    afterAll(() => grafana.close());

    it("is healthy when Grafana and its database are", async () => {
        answering(200, { database: "ok" });
        expect(await check()).toEqual({ code: 0, stdout: expect.stringContaining('"database": "ok"') });
    });

    it("stays healthy while the database check fails, and prints that it fails (a MySQL outage must not make Swarm replace every replica)", async () => {
        answering(503, { database: "failing" });
        const result = await check();
        expect(result.code).toBe(0);
        expect(result.stdout).toContain('"database": "failing"');
        expect(result.stdout).toContain("HTTP 503");
    });

    it("is unhealthy on any other answer", async () => {
        for (const status of [500, 404, 302]) {
            answering(status, {});
            expect((await check()).code, String(status)).toBe(1);
        }
    });

    it("is unhealthy when nothing answers", async () => {
        const port = Number(new URL(grafana.base).port);
        await grafana.close();
        expect((await promisify(execFile)("sh", ["-c", grafanaHealthCheck(port)]).then(() => 0, (e: { code: number }) => e.code))).toBe(1);
        grafana = await startLoopbackServer();
    });
});
