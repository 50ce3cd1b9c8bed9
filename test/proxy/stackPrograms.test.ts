/**
 * The stack program renders the front proxy for the dev and prod stack files: dev with Grafana's
 * own login and one task on its one node, prod with jwt sign-in behind the TLS terminator.
 */
import { describe, expect, it } from "vitest";
import { PROXY_STATUS_PORT } from "../../components/frontProxy";
import type { RegisteredResource } from "../harness/pulumiMocks";
import { loadStackFile } from "../harness/stackFiles";
import { runStackProgram, type StackRun } from "../harness/stackProgram";

const SERVICE = "docker:index/service:Service";
const CONFIG = "docker:index/serviceConfig:ServiceConfig";
const one = (run: StackRun, type: string, name: string): RegisteredResource => {
    const found = run.resources.filter((r) => r.type === type && r.name === name);
    expect(found, `${type} ${name}`).toHaveLength(1);
    return found[0];
};
const decoded = (r: RegisteredResource) => Buffer.from(r.inputs.data as string, "base64").toString("utf8");
const grafanaSpec = (run: StackRun, id: string) => one(run, SERVICE, `pug-user-${id}`).inputs.taskSpec.containerSpec;

describe("dev stack: front proxy", async () => {
    const run = await runStackProgram(loadStackFile("dev").config);
    const nginxConf = decoded(one(run, CONFIG, "pug-proxy-nginx-conf"));

    it("routes every user through one nginx task that can be replaced on a one-node Swarm", () => {
        const service = one(run, SERVICE, "pug-proxy").inputs;
        expect(service.mode.replicated.replicas).toBe(1);
        expect(service.updateConfig.order).toBe("stop-first");
        expect(service.endpointSpec.ports[0]).toMatchObject({ publishedPort: 80, publishMode: "host" });
        expect(run.outputs.proxyPublishedPort).toBe(80);
        expect(nginxConf).toContain(`"alice" grafana-alice:3000;`);
        expect(nginxConf).toContain(`"bob" grafana-bob:3000;`);
        expect(nginxConf).not.toContain("auth_request");
    });

    it("lets the monitoring's nginx exporter, on the proxy network, read the proxy's stub_status", () => {
        const exporter = run.resources.find((r) => r.type === SERVICE && (r.inputs.taskSpec?.containerSpec?.args ?? []).some((a: string) => a.startsWith("--nginx.scrape-uri=")));
        expect(exporter?.inputs.taskSpec.containerSpec.args).toContain(`--nginx.scrape-uri=http://pug-proxy:${PROXY_STATUS_PORT}/stub_status`);
        expect(nginxConf).toMatch(/listen 8081;[^}]*allow 10\.0\.0\.0\/8;[^}]*deny all;/);
    });

    it("leaves the users' Grafanas on their own login", () => {
        for (const user of ["alice", "bob"]) expect(Object.keys(grafanaSpec(run, user).env).filter((k) => k.startsWith("GF_AUTH_JWT"))).toEqual([]);
    });
});

describe("prod stack: front proxy", async () => {
    const prod = loadStackFile("prod");
    const run = await runStackProgram(prod.config, prod.secretKeys);
    const nginxConf = decoded(one(run, CONFIG, "pug-proxy-nginx-conf"));

    it("asks the platform's auth endpoint about every request and believes only the TLS terminator", () => {
        expect(nginxConf).toContain("auth_request /_pug/auth;");
        expect(nginxConf).toContain(`set $pug_auth_endpoint "http://platform-auth.example.internal:8080/grafana/authorize";`);
        expect(nginxConf).toContain("set_real_ip_from 10.20.0.0/24;");
        const service = one(run, SERVICE, "pug-proxy").inputs;
        expect(service.mode.replicated.replicas).toBe(2);
        expect(service.updateConfig.order).toBe("start-first");
        expect(service.taskSpec.placement.constraints).toEqual(["node.labels.pug.proxy == true"]);
    });

    it("routes the active users only", () => {
        expect(nginxConf).toContain(`"acme" grafana-acme:3000;`);
        expect(nginxConf).toContain(`"globex" grafana-globex:3000;`);
        expect(nginxConf).not.toContain("initech");
    });

    it("binds each Grafana to tokens for its own user, verified with the platform's public key", () => {
        const key = one(run, CONFIG, "pug-jwt-public-key");
        expect(decoded(key)).toBe((prod.config["pug:proxy"] as { jwt: { publicKey: string } }).jwt.publicKey);
        for (const user of ["acme", "globex"]) {
            const spec = grafanaSpec(run, user);
            expect(JSON.parse(spec.env.GF_AUTH_JWT_EXPECT_CLAIMS)).toEqual({ aud: `pug:grafana:${user}` });
            expect(spec.env.GF_AUTH_JWT_ROLE_ATTRIBUTE_PATH).toBe("role");
            expect(spec.configs).toContainEqual(expect.objectContaining({ configId: "pug-jwt-public-key-id", fileName: spec.env.GF_AUTH_JWT_KEY_FILE }));
        }
    });

    it("puts no secret of the stack into the proxy's config", () => {
        expect(prod.secretValues.length).toBeGreaterThan(0);
        for (const secret of [...prod.secretValues, ...run.generatedSecrets]) expect(nginxConf).not.toContain(secret);
    });
});
