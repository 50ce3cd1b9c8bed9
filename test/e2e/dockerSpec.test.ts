/**
 * The e2e provider harness's translation of docker resource inputs into Engine API requests, on
 * what the dev stack declares: a wrong translation would make the end-to-end test run something
 * other than what PUG declares.
 */
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../harness/stackFiles";
import { runStackProgram } from "../harness/stackProgram";
import { goDurationNanos, secretCreate, serviceRequest } from "./dockerSpec";

describe("goDurationNanos", () => {
    it.each([
        ["10s", 10e9],
        ["1m30s", 90e9],
        ["500ms", 5e8],
        ["2h", 7200e9],
    ])("%s", (text, ns) => expect(goDurationNanos(text)).toBe(ns));

    it("refuses what is not a Go duration", () => {
        expect(() => goDurationNanos("10")).toThrow('"10" is not a Go duration');
        expect(() => goDurationNanos("10 s")).toThrow("not a Go duration");
    });
});

describe("serviceRequest on the dev stack's services", async () => {
    const dev = loadStackFile("dev");
    const run = await runStackProgram({ ...dev.config, "pug:docker": { endpointMode: "dnsrr" } });
    const services = run.resources.filter((r) => r.type === "docker:index/service:Service");
    const grafana = services.find((r) => r.inputs.name === "grafana-alice")!;
    const mysql = services.find((r) => r.inputs.name === "pug-mysql")!;
    const idOf = (kind: string, id: string) => `engine-${kind}-${id}`;

    it("translates every service without an untranslated field", () => {
        for (const svc of services) expect(() => serviceRequest(svc.inputs, idOf)).not.toThrow();
    });

    it("keeps the Grafana service's image, command, environment, secrets and health check", () => {
        const { spec } = serviceRequest(grafana.inputs, idOf);
        const container = spec.TaskTemplate.ContainerSpec;
        expect(container.Image).toBe(grafana.inputs.taskSpec.containerSpec.image);
        expect(container.Command).toEqual(grafana.inputs.taskSpec.containerSpec.commands);
        expect(container.Env).toContain("GF_DATABASE_PASSWORD__FILE=/run/secrets/grafana-db-password");
        expect(container.Env).toHaveLength(Object.keys(grafana.inputs.taskSpec.containerSpec.env).length);
        const db = container.Secrets.find((s: any) => s.File.Name === "grafana-db-password");
        const declared = grafana.inputs.taskSpec.containerSpec.secrets.find((s: any) => s.fileName === "grafana-db-password");
        expect(db).toEqual({ File: { Name: "grafana-db-password", UID: "472", GID: "472", Mode: 0o400 }, SecretID: `engine-secret-${declared.secretId}`, SecretName: declared.secretName });
        expect(container.HealthCheck).toMatchObject({ Interval: 10e9, Timeout: 5e9, Retries: 3, StartPeriod: 90e9 });
        expect(spec.TaskTemplate.Networks.map((n: any) => n.Target)).toEqual(grafana.inputs.taskSpec.networksAdvanceds.map((n: any) => `engine-network-${n.id}`));
    });

    it("keeps the rolling-update policy, placement and endpoint mode", () => {
        const { spec, converge } = serviceRequest(grafana.inputs, idOf);
        expect(spec.UpdateConfig).toEqual({ Parallelism: 1, Delay: 10e9, FailureAction: "rollback", Monitor: 60e9, MaxFailureRatio: 0, Order: "start-first" });
        expect(spec.RollbackConfig).toMatchObject({ Order: "start-first", FailureAction: "pause" });
        expect(spec.TaskTemplate.Placement.Preferences).toEqual([{ Spread: { SpreadDescriptor: "node.labels.zone" } }]);
        expect(spec.Mode).toEqual({ Replicated: { Replicas: 3 } });
        expect(spec.EndpointSpec.Mode).toBe("dnsrr");
        // like the provider, the harness waits for a user's replicas: 2 × 3 × (90 s + 60 s + 10 s) + 60 s
        expect(converge).toEqual({ delayMs: 7000, timeoutMs: 1_020_000 });
    });

    it("publishes the embedded MySQL in host mode and waits for it to converge, as the provider does", () => {
        const { spec, converge } = serviceRequest(mysql.inputs, idOf);
        expect(spec.EndpointSpec.Ports).toEqual([{ Protocol: "tcp", TargetPort: 3306, PublishedPort: 3306, PublishMode: "host" }]);
        expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([{ Type: "volume", Source: "pug-mysql-data", Target: "/var/lib/mysql", ReadOnly: false }]);
        expect(converge).toEqual({ delayMs: 5000, timeoutMs: 300000 });
    });

    it("refuses an input it does not translate, naming it", () => {
        const inputs = structuredClone(grafana.inputs);
        inputs.taskSpec.containerSpec.privileges = { seLinuxContext: { disable: true } };
        expect(() => serviceRequest(inputs, idOf)).toThrow("the e2e provider harness does not translate Service.taskSpec.containerSpec.privileges");
        expect(() => secretCreate({ name: "x", data: "eA==", templating: {} })).toThrow("Secret.templating");
    });
});
