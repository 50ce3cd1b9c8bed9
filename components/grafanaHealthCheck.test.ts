/**
 * The Grafana health check's command, run by real sh and curl against a real HTTP server standing
 * in for Grafana: what Swarm would count as healthy.
 */
import { execFile } from "child_process";
import { promisify } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoopbackServer, type LoopbackServer } from "../test/harness/loopbackServer";
import { grafanaHealthCheck } from "./grafanaTenant";

let grafana: LoopbackServer;
/** The paths the check asked for. */
let asked: string[] = [];
const check = (port = Number(new URL(grafana.base).port)) => promisify(execFile)("sh", ["-c", grafanaHealthCheck(port)]).then(() => 0, (err: { code: number }) => err.code);
/** Grafana whose /healthz answers `liveness`; /api/health (the database check) never answers, as while MySQL's name fails to resolve. */
const answering = (liveness: number) => {
    asked = [];
    grafana.handler = (req, res) => {
        asked.push(req.url ?? "");
        if (req.url === "/healthz") res.writeHead(liveness, { "Content-Type": "text/plain" }).end("Ok");
        else if (req.url !== "/api/health") res.writeHead(404).end();
    };
};

describe("the health check of a user's Grafana", () => {
    beforeAll(async () => {
        grafana = await startLoopbackServer();
    });
    afterAll(() => grafana.close());

    it("is healthy while Grafana's web server answers /healthz, whatever its database does (a MySQL outage must not make Swarm replace every replica)", async () => {
        answering(200);
        expect(await check()).toBe(0);
        expect(asked).toEqual(["/healthz"]);
    });

    it("is unhealthy when /healthz answers an error", async () => {
        for (const status of [500, 503, 404]) {
            answering(status);
            expect(await check(), String(status)).not.toBe(0);
        }
    });

    it("is unhealthy when nothing answers", async () => {
        const port = Number(new URL(grafana.base).port);
        await grafana.close();
        expect(await check(port)).not.toBe(0);
        grafana = await startLoopbackServer();
    });
});
