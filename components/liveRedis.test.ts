import { beforeAll, describe, expect, it } from "vitest";
import { setupPulumiMocks, settled, type MockSetup } from "../test/harness/pulumiMocks";

let mocks: MockSetup;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    const { LiveRedis } = await import("./liveRedis");
    const { EmbeddedMysql } = await import("./embeddedMysql");
    new LiveRedis("live", { networkIds: ["data-net-id"], memoryLimitMb: 128 });
    new EmbeddedMysql("db", { networkIds: ["data-net-id"], managerAddress: "manager-1", publishedPort: 13306 });
    await settled();
});

const service = (name: string) => mocks.one("docker:index/service:Service", name).inputs;

describe("LiveRedis", () => {
    it("runs one task, stopping the old before starting the new", () => {
        const svc = service("live");
        expect(svc.mode.replicated.replicas).toBe(1);
        expect(svc.updateConfig.order).toBe("stop-first");
    });

    it("reads its password from a Docker secret, as the redis user, and mounts no volume", () => {
        const container = service("live").taskSpec.containerSpec;
        expect(container.user).toBe("999");
        expect(container.secrets).toEqual([expect.objectContaining({ fileName: "live-redis-password", fileUid: "999", fileMode: 0o400 })]);
        expect(container.commands.join(" ")).toContain("$(cat /run/secrets/live-redis-password)");
        expect(container.mounts).toBeUndefined();
        expect(container.env).toBeUndefined();
        const generated = mocks.one("random:index/randomPassword:RandomPassword", "live-password").state.result;
        expect(JSON.stringify(service("live"))).not.toContain(generated);
    });

    it("caps Redis memory below the task's limit", () => {
        const svc = service("live");
        expect(svc.taskSpec.resources.limits.memoryBytes).toBe(128 * 1024 * 1024);
        expect(svc.taskSpec.containerSpec.commands[2]).toContain("maxmemory 102mb");
    });
});

describe("EmbeddedMysql", () => {
    it("publishes MySQL in host mode on the manager, for the mysql provider", () => {
        const svc = service("db");
        expect(svc.endpointSpec.ports).toEqual([{ targetPort: 3306, publishedPort: 13306, publishMode: "host", protocol: "tcp" }]);
        expect(svc.taskSpec.placement.constraints).toEqual(["node.role == manager"]);
        expect(svc.convergeConfig).toBeDefined();
    });

    it("takes its root password from a Docker secret and keeps its data on a retained volume", () => {
        const svc = service("db");
        expect(svc.taskSpec.containerSpec.env).toEqual({ MYSQL_ROOT_PASSWORD_FILE: "/run/secrets/mysql-root-password" });
        const volume = mocks.one("docker:index/volume:Volume", "db-data");
        expect(volume.options.retainOnDelete).toBe(true);
        expect(svc.taskSpec.containerSpec.mounts).toEqual([{ type: "volume", source: volume.inputs.name, target: "/var/lib/mysql" }]);
        expect(svc.updateConfig.order).toBe("stop-first");
        expect(mocks.one("docker:index/secret:Secret", "db-root-password").secretPaths).toContain("data");
    });
});

describe("arguments", () => {
    it("are refused before anything is registered, naming the component and each field", async () => {
        const { LiveRedis } = await import("./liveRedis");
        const { EmbeddedMysql } = await import("./embeddedMysql");
        const before = mocks.resources.length;
        expect(() => new LiveRedis("bad-live", { networkIds: [], memoryLimitMb: 32, image: "redis:7 --protected-mode no" })).toThrow(
            /^LiveRedis bad-live: image .*; memoryLimitMb must be a whole number >= 64$/,
        );
        expect(() => new EmbeddedMysql("bad-db", { networkIds: [], managerAddress: "m", publishedPort: 70000, memoryLimitMb: 128 })).toThrow(
            "EmbeddedMysql bad-db: publishedPort must be a port number (1-65535); memoryLimitMb must be a whole number >= 256",
        );
        await settled();
        expect(mocks.resources.length).toBe(before);
    });
});
