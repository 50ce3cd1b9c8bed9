import { beforeAll, describe, expect, it } from "vitest";
import { setupPulumiMocks, settled, type MockSetup } from "../test/harness/pulumiMocks";

type FrontProxyModule = typeof import("./frontProxy");
type NginxModule = typeof import("./specs/nginxConfig");

let mocks: MockSetup;
let proxy: FrontProxyModule;
let nginx: NginxModule;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    proxy = await import("./frontProxy");
    nginx = await import("./specs/nginxConfig");
});

const SERVICE = "docker:index/service:Service";
const CONFIG = "docker:index/serviceConfig:ServiceConfig";
const decode = (data: string) => Buffer.from(data, "base64").toString("utf8");

async function build(name: string, args: Partial<import("./frontProxy").FrontProxyArgs> = {}) {
    mocks.reset();
    const component = new proxy.FrontProxy(name, { userIds: ["alice", "bob"], networkIds: ["proxy-net-id"], ...args });
    await settled();
    return { component, service: mocks.one(SERVICE, name), config: mocks.one(CONFIG, `${name}-nginx-conf`) };
}

describe("FrontProxy", () => {
    it("delivers the generated nginx.conf as a Docker config named by its content hash", async () => {
        const { component, config } = await build("edge");
        const expected = nginx.nginxConfig(proxy.frontProxySpec({ userIds: ["alice", "bob"] }));
        expect(decode(config.inputs.data)).toBe(expected);
        expect(component.configText).toBe(expected);
        expect(config.inputs.name).toMatch(/^pug-proxy-nginx-conf-[0-9a-f]{12}$/);

        // a changed user list is a new config (the old one is immutable), so the tasks roll onto it
        const other = await build("edge", { userIds: ["alice", "bob", "carol"] });
        expect(other.config.inputs.name).not.toBe(config.inputs.name);
        expect(decode(other.config.inputs.data)).toContain(`"carol" grafana-carol:3000;`);
    });

    it("runs the official nginx image, mounting the config where the image reads it", async () => {
        const { service, config } = await build("edge");
        const spec = service.inputs.taskSpec.containerSpec;
        expect(spec.image).toBe(proxy.DEFAULT_NGINX_IMAGE);
        expect(spec.image).toMatch(/^nginx:/);
        expect(spec.configs).toEqual([{ configId: "edge-nginx-conf-id", configName: config.inputs.name, fileName: "/etc/nginx/nginx.conf", fileMode: 0o444 }]);
    });

    it("publishes the port in host mode, two tasks on different nodes, on the proxy network by id", async () => {
        const { service } = await build("edge");
        expect(service.inputs.mode.replicated.replicas).toBe(2);
        expect(service.inputs.endpointSpec.ports).toEqual([{ targetPort: proxy.PROXY_LISTEN_PORT, publishedPort: 80, publishMode: "host", protocol: "tcp" }]);
        expect(service.inputs.taskSpec.placement.maxReplicas).toBe(1);
        expect(service.inputs.taskSpec.networksAdvanceds).toEqual([{ id: "proxy-net-id" }]);
    });

    it("updates start-first one task at a time, stops with SIGQUIT and a grace period, checks /healthz", async () => {
        const { service } = await build("edge");
        expect(service.inputs.updateConfig).toMatchObject({ parallelism: 1, order: "start-first", failureAction: "rollback" });
        expect(service.inputs.rollbackConfig).toMatchObject({ parallelism: 1, order: "start-first", failureAction: "pause" });
        const spec = service.inputs.taskSpec.containerSpec;
        expect(spec.stopSignal).toBe("SIGQUIT");
        expect(spec.stopGracePeriod).toBe("30s");
        expect(spec.healthcheck.tests[0]).toBe("CMD-SHELL");
        expect(spec.healthcheck.tests[1]).toContain(`http://127.0.0.1:${proxy.PROXY_LISTEN_PORT}/healthz`);

        const oneNode = await build("edge", { updateOrder: "stop-first", replicas: 1, stopGracePeriod: "2m" });
        expect(oneNode.service.inputs.updateConfig.order).toBe("stop-first");
        expect(oneNode.service.inputs.taskSpec.containerSpec.stopGracePeriod).toBe("2m");
    });

    it("closes what a stopping task holds open soon when nothing else serves meanwhile (stop-first), and well before Swarm kills it", async () => {
        const cases: [Partial<import("./frontProxy").FrontProxyArgs>, string, string][] = [
            // start-first: another task already serves, running requests may take their time
            [{}, "30s", "20s"],
            // stop-first: the node's port refuses users until the old task has gone
            [{ updateOrder: "stop-first", replicas: 1 }, "30s", "3s"],
            // what is given is kept
            [{ updateOrder: "stop-first", replicas: 1, stopGracePeriod: "2m", shutdownTimeoutSeconds: 60 }, "2m", "60s"],
            [{ stopGracePeriod: "10s", shutdownTimeoutSeconds: 5 }, "10s", "5s"],
        ];
        for (const [args, grace, shutdown] of cases) {
            const { component, service } = await build("edge", args);
            expect(service.inputs.taskSpec.containerSpec.stopGracePeriod, JSON.stringify(args)).toBe(grace);
            expect(component.configText.match(/^worker_shutdown_timeout (\S+);$/m)?.[1], JSON.stringify(args)).toBe(shutdown);
        }
    });

    it("refuses a shutdown that would not leave Docker 5 s to remove the container before the grace period ends", () => {
        // the docker provider deletes a service by waiting stopGracePeriod for its containers to be gone
        expect(() => new proxy.FrontProxy("tight", { userIds: [], networkIds: [], stopGracePeriod: "10s", shutdownTimeoutSeconds: 6 })).toThrow(
            /^FrontProxy tight: shutdownTimeoutSeconds \(6\) must end at least 5s before stopGracePeriod \(10s\)/,
        );
        // a grace period shortened alone names the default it clashes with
        expect(() => new proxy.FrontProxy("short", { userIds: [], networkIds: [], stopGracePeriod: "20s" })).toThrow(/shutdownTimeoutSeconds \(20, the default with start-first\) must end at least 5s before stopGracePeriod \(20s\)/);
        expect(() => new proxy.FrontProxy("ok", { userIds: [], networkIds: [], stopGracePeriod: "8s", updateOrder: "stop-first", replicas: 1 })).not.toThrow();
    });

    it("renders jwt mode from the stack's terms, defaults filled in", async () => {
        const { component } = await build("edge", { auth: "jwt", jwt: { endpoint: "http://auth:8080/check" } });
        expect(component.configText).toContain("auth_request /_pug/auth;");
        expect(component.configText).toContain("auth_request_set $pug_jwt $upstream_http_x_pug_token;");
        expect(component.configText).toContain("proxy_set_header X-JWT-Assertion $pug_jwt;");
    });

    it("refuses bad arguments before registering anything, naming the proxy, each field and its problem", async () => {
        mocks.reset();
        expect(() => new proxy.FrontProxy("bad", { userIds: ["Alice"], networkIds: [], replicas: 0, idleTimeoutSeconds: 10, stopGracePeriod: "soon" })).toThrow(
            /^FrontProxy bad: replicas must be a whole number >= 1; stopGracePeriod must be a duration like "30s"; idleTimeoutSeconds must be a whole number above Live's ping interval of 25s; userIds\.0 is not a user id \(.*\)$/,
        );
        await settled();
        expect(mocks.resources).toEqual([]);
    });

    it("names every problem of the arguments by its field, with the one schema pug:proxy is read with too", () => {
        expect(
            proxy.frontProxyProblems({
                userIds: ["alice", "alice", "a.b"],
                networkIds: [],
                statusAllow: ["everyone"],
                auth: "jwt",
                jwt: { endpoint: "ftp://x", tokenHeader: "X Token" },
            }),
        ).toEqual([
            "jwt.endpoint must be an http:// or https:// URL",
            "jwt.tokenHeader must be a header name (letters, digits, dashes)",
            "statusAllow.0 must be an IP address or CIDR",
            expect.stringMatching(/^userIds\.2 is not a user id/),
            'userIds.1 "alice" appears twice',
        ]);
        // auth and jwt go together; a field of the old shape is named with the nearest one
        expect(proxy.frontProxyProblems({ userIds: [], networkIds: [], auth: "jwt" })).toEqual(['jwt is required when auth is "jwt" ({ endpoint, ... })']);
        expect(proxy.frontProxyProblems({ userIds: [], networkIds: [], jwt: { endpoint: "http://auth/" } })).toEqual(['jwt applies only when auth is "jwt"']);
        expect(proxy.frontProxyProblems({ userIds: [], networkIds: [], limits: { webSockets: 5 } } as never)).toEqual([expect.stringMatching(/^limits is not a known field \(/)]);
        expect(proxy.frontProxyProblems({ userIds: ["alice"], networkIds: [], idleTimeoutSeconds: 26, webSockets: 1, openFilesPerWorker: 2048 })).toEqual([]);
    });
});
