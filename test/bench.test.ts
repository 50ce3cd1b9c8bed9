/**
 * The benchmarks' pure parts (bench/): statistics, ratios and tables, the configs compared with
 * the generated one, and the parsing of nginx's log and /proc. The benchmarks themselves run
 * with `npm run bench`, never here; `tsc --noEmit` in `npm test` type-checks all of bench/.
 */
import { execFileSync, spawn } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { frontProxySpec } from "../components/frontProxy";
import { nginxConfig, renderNginxConfig, type NginxDirective } from "../components/specs/nginxConfig";
import { grafanaLiveDocConfig, processLimitsOf, ROUTING_STYLES, routingVariantTree, workerCount } from "../bench/configVariants";
import { predictedRolloutSeconds, touched } from "../bench/engineRuns";
import { benchUsers } from "../bench/users";
import { flatResources } from "../bench/flatResources";
import { parentPid, procField, processTree, sampleTreeRss } from "../bench/memory";
import { fixed, growthExponent, markdownTable, median, percentile, ratio, summarize, times } from "../bench/report";
import { benchUserIds } from "../bench/routing";
import { caddyfile, haproxyFiles } from "../bench/peerConfigs";
import { peersTable, routingTable, standing, touchedCell, verdict, websocketTable } from "../bench/tables";
import { nginxProblems, share, type ProxyWebSocketResult, type WebSocketResults } from "../bench/websockets";
import { nginxRefuses } from "./harness/proxyNamespace";
import { requireTool } from "./harness/tools";

const hasNginx = requireTool("nginx", "nginx -t on the benchmarks' configs");
const hasHaproxy = requireTool("haproxy", "haproxy -c on the peer benchmark's config");
const hasCaddy = requireTool("caddy", "caddy validate on the peer benchmark's config");

/** Every directive of a tree, depth first. */
const all = (ds: NginxDirective[]): NginxDirective[] => ds.flatMap((d) => [d, ...all(d.children ?? [])]);

describe("statistics", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);

    it("percentiles by nearest rank, of any order, leaving the samples as they were", () => {
        expect(percentile(hundred, 50)).toBe(50);
        expect(percentile(hundred, 99)).toBe(99);
        expect(percentile(hundred, 100)).toBe(100);
        expect(percentile(hundred, 0.5)).toBe(1);
        expect(percentile([7], 99)).toBe(7);
        expect(percentile([1, 2, 3, 1000], 99)).toBe(1000);
        expect(hundred[0]).toBe(100);
        expect(summarize([3, 1, 2])).toEqual({ samples: 3, p50: 2, p99: 3 });
    });

    it("refuses percentiles of nothing or out of range", () => {
        expect(() => percentile([], 50)).toThrow(/no samples/);
        expect(() => percentile([1], 0)).toThrow(/\(0, 100\]/);
        expect(() => percentile([1], 101)).toThrow(/\(0, 100\]/);
    });

    it("medians of odd and even counts", () => {
        expect(median([5, 1, 3])).toBe(3);
        expect(median([4, 1, 3, 2])).toBe(2.5);
        expect(() => median([])).toThrow(/no samples/);
    });

    it("ratios against a baseline, refusing a baseline of nothing", () => {
        expect(ratio(150, 100)).toBe(1.5);
        expect(() => ratio(1, 0)).toThrow(/baseline of 0/);
        expect(() => ratio(Number.NaN, 1)).toThrow();
    });
});

describe("formatting", () => {
    it("prints ratios and numbers, and a dash for what was not measured", () => {
        expect(times(1.234)).toBe("1.23×");
        expect(times(undefined)).toBe("—");
        expect(fixed(2.345, 1)).toBe("2.3");
        expect(fixed(Number.POSITIVE_INFINITY)).toBe("—");
    });

    it("pads a Markdown table into columns and escapes pipes in cells", () => {
        expect(markdownTable(["a", "long header"], [["x|y", "1"]]).split("\n")).toEqual(["| a    | long header |", "|------|-------------|", "| x\\|y | 1           |"]);
        expect(() => markdownTable(["a", "b"], [["1"]])).toThrow(/1 cells, the header 2/);
    });

    it("says whether a target is met, or by how much it is missed", () => {
        expect(verdict(12_000, { bound: "at least", value: 10_000 })).toBe("met");
        expect(verdict(7_500, { bound: "at least", value: 10_000 })).toBe("missed by 25%");
        expect(verdict(1.3, { bound: "at most", value: 1.3 })).toBe("met");
        expect(verdict(1.56, { bound: "at most", value: 1.3 })).toBe("missed by 20%");
        expect(verdict(1.2527, { bound: "at most", value: 1.25 })).toBe("missed by 0.2%");
        expect(verdict(undefined, { bound: "at most", value: 1.3 })).toBe("not measured");
    });

    it("puts each routing style beside the map at the same size", () => {
        const row = (style: "map" | "regex-locations", reloadMs: number, pss: number) => ({
            style,
            users: 10,
            checkMs: 1,
            reloadMs,
            nginxPssKiB: pss,
            nginxRssKiB: pss,
            first: { samples: 1, p50: 100, p99: 100 },
            last: { samples: 1, p50: 300, p99: 300 },
            lastToFirstP50: 3,
            warnings: [],
        });
        const lines = routingTable([row("map", 10, 1024), row("regex-locations", 25, 4096)]).split("\n");
        expect(lines[2]).toMatch(/\| 10 +\| map +\|.*\| 1\.00× +\| 1\.00× +\|$/);
        expect(lines[3]).toMatch(/\| regex-locations +\|.*\| 3\.00× +\| 2\.50× +\| 4\.00× +\|$/);
    });

    it("reports a WebSocket ramp that failed, and latency side by side where both proxies held the connections", () => {
        const latency = (connections: number, p50Ratio: number) => ({
            connections,
            direct: { samples: 1, p50: 100, p99: 200 },
            proxied: { samples: 1, p50: 100 * p50Ratio, p99: 300 },
            p50Ratio,
            p99Ratio: 1.5,
            failures: [],
        });
        const proxy = (held: number, failedAt: number | undefined, levels: [number, number][]): ProxyWebSocketResult => ({
            config: "generated",
            held,
            failedAt,
            failures: failedAt ? ["read ECONNRESET", `700 of ${failedAt} open after the step`] : [],
            nginxProblems: [],
            steps: [],
            nginxRssIdleKiB: 2048,
            perWebSocketKiB: 20,
            latency: levels.map(([n, r]) => latency(n, r)),
            reload: { before: held, after: held, reloadMs: 5 },
        });
        const results: WebSocketResults = {
            options: { steps: [500, 750, 12_000], latencyConnections: [500, 1_000], segments: 1, segmentMs: 1, intervalMs: 1, clients: 1, reloadConnections: 1 },
            debianLimits: { workerProcesses: "auto", workerConnections: 768 },
            generated: proxy(12_000, undefined, [[500, 1.2], [1_000, 1.4]]),
            grafanaDocs: proxy(500, 750, [[500, 1.5]]),
        };
        const table = websocketTable(results);
        expect(table).toContain("| 12,000 (all tried)");
        expect(table).toContain("500 (failed at 750: 700 of 750 open; 12,000 tried)");
        expect(table).toMatch(/held open without errors .*\| 24\.00× +\| ≥ 10,000: met/);
        expect(table).toMatch(/echo p50, proxied ÷ direct, 500 conns +\| 1\.20× \(120 vs 100 µs\) +\| 1\.50× \(150 vs 100 µs\) +\| 0\.80× +\| — +\|/);
        expect(table).toMatch(/echo p50, proxied ÷ direct, 1,000 conns +\| 1\.40× \(140 vs 100 µs\) +\| — \(holds 500\) +\| — +\| — +\|/);
        expect(table).toMatch(/answering after a reload \(1 open\) +\| 12,000 of 12,000 +\| 500 of 500 +\|/);
    });

    it("says where the generated config leads, ties or trails a peer, which way is better", () => {
        expect(standing(100, 200, "lower")).toBe("leads (0.50×)");
        expect(standing(100, 200, "higher")).toBe("trails (0.50×)");
        expect(standing(105, 100, "lower")).toBe("ties (1.05×)");
        expect(standing(12_000, 12_000, "higher")).toBe("ties (1.00×)");
        expect(standing(1, 0, "higher")).toBe("leads (peer 0)");
        expect(standing(undefined, 1, "lower")).toBe("not measured");
    });

    it("puts the generated config beside HAProxy and Caddy on every row", () => {
        const ws = (held: number, perWebSocketKiB: number, p50Ratio: number, after: number): ProxyWebSocketResult => ({
            config: "generated",
            held,
            failures: [],
            nginxProblems: [],
            steps: [],
            nginxRssIdleKiB: 4096,
            perWebSocketKiB,
            latency: [{ connections: 1_000, direct: { samples: 1, p50: 100, p99: 200 }, proxied: { samples: 1, p50: 100 * p50Ratio, p99: 400 }, p50Ratio, p99Ratio: 2, failures: [] }],
            reload: { before: held, after, reloadMs: 10 },
        });
        const routed = (style: "map" | "haproxy" | "caddy", lastP50: number) =>
            [10, 10_000].map((users) => ({ style, users, checkMs: 20, reloadMs: 30, nginxPssKiB: 10_240, nginxRssKiB: 10_240, first: { samples: 1, p50: 300, p99: 300 }, last: { samples: 1, p50: lastP50, p99: lastP50 }, lastToFirstP50: lastP50 / 300, warnings: [] }));
        const table = peersTable({
            options: { websockets: { steps: [250, 12_000], latencyConnections: [1_000], segments: 1, segmentMs: 1, intervalMs: 1, clients: 1, reloadConnections: 1 }, routing: { sizes: [10, 10_000], rounds: 1, warmup: 0 } },
            websockets: { generated: ws(12_000, 20, 2, 12_000), haproxy: ws(12_000, 40, 2.1, 12_000), caddy: ws(12_000, 60, 1.5, 0) },
            routing: { generated: routed("map", 300), haproxy: routed("haproxy", 300), caddy: routed("caddy", 900) },
        });
        const line = (label: string) => table.split("\n").find((l) => l.startsWith(`| ${label}`))!;
        expect(line("RSS per WebSocket")).toMatch(/\| 20\.0 +\| 40\.0 +\| 60\.0 +\| leads \(0\.50×\) +\| leads \(0\.33×\) +\|$/);
        expect(line("echo p50")).toMatch(/\| ties \(0\.95×\) +\| trails \(1\.33×\) +\|$/);
        expect(line("WebSockets answering after a reload")).toMatch(/\| 12,000 of 12,000 +\| 12,000 of 12,000 +\| 0 of 12,000 +\| ties \(1\.00×\) +\| leads \(peer 0\) +\|$/);
        expect(line("p50 to the last of 10,000 users")).toMatch(/\| ties \(1\.00×\) +\| leads \(0\.33×\) +\|$/);
    });
});

describe("the configs compared with the generated one", () => {
    const debian = `user www-data;\nworker_processes auto;\npid /run/nginx.pid;\nevents {\n\tworker_connections 768;\n\t# multi_accept on;\n}\nhttp {\n\tsendfile on;\n}\n`;

    it("reads an nginx.conf's process limits, with nginx's defaults for what it leaves out", () => {
        expect(processLimitsOf(debian)).toEqual({ workerProcesses: "auto", workerConnections: 768 });
        expect(processLimitsOf("http {}\n")).toEqual({ workerProcesses: "1", workerConnections: 512 });
        expect(workerCount("auto", 2)).toBe(2);
        expect(workerCount("4", 2)).toBe(4);
        expect(() => workerCount("many", 2)).toThrow(/neither auto nor a count/);
    });

    it("writes Grafana's documented WebSocket config within the given limits", () => {
        const tree = grafanaLiveDocConfig({ limits: processLimitsOf(debian), listenPort: 8080, grafana: "127.0.1.1:3000" });
        const directives = all(tree);
        const values = (name: string) => directives.filter((d) => d.name === name).map((d) => d.args.join(" "));
        expect(values("worker_processes")).toEqual(["auto"]);
        expect(values("worker_connections")).toEqual(["768"]);
        expect(values("map")).toEqual(["$http_upgrade $connection_upgrade"]);
        expect(values("proxy_set_header")).toEqual(["Upgrade $http_upgrade", "Connection $connection_upgrade", "Host $http_host"]);
        expect(values("proxy_pass")).toEqual(["http://grafana"]);
        expect(directives.find((d) => d.name === "upstream")!.children).toEqual([{ name: "server", args: ["127.0.1.1:3000"] }]);
        if (hasNginx) expect(nginxRefuses(renderNginxConfig(tree))).toBeUndefined();
    });

    const spec = frontProxySpec({ userIds: ["bob", "alice", "default"] });

    it("routes by map exactly as the generated config does", () => {
        expect(renderNginxConfig(routingVariantTree(spec, "map"))).toBe(nginxConfig(spec));
    });

    it.each([
        ["prefix-locations", (id: string) => [`/${id}/grafana/`]],
        ["regex-locations", (id: string) => ["~", `"^/${id}/grafana(?:/|$)"`]],
    ] as const)("%s: one location per user to that user's service, proxying as the generated location, the rest unchanged", (style, args) => {
        const tree = routingVariantTree(spec, style);
        const generated = all(routingVariantTree(spec, "map"));
        const directives = all(tree);
        const perUser = directives.filter((d) => d.name === "location" && d.children!.some((c) => c.name === "set"));
        expect(perUser.map((d) => d.args)).toEqual(["alice", "bob", "default"].map(args));
        for (const [i, id] of ["alice", "bob", "default"].entries()) {
            expect(perUser[i].children![0]).toEqual({ name: "set", args: ["$pug_upstream", `grafana-${id}:3000`] });
        }
        const proxying = generated.find((d) => d.name === "location" && d.children!.some((c) => c.name === "proxy_pass"))!.children!.filter((c) => c.name !== "if");
        expect(perUser[0].children!.slice(1)).toEqual(proxying);
        // the routing maps are gone; every other map, and the status server, stay
        const maps = (ds: NginxDirective[]) => ds.filter((d) => d.name === "map").map((d) => d.args[1]);
        expect(maps(directives)).toEqual(maps(generated).filter((v) => !["$pug_user", "$pug_upstream", "$pug_no_route", "$pug_slash_redirect"].includes(v)));
        expect(maps(directives)).toContain("$connection_upgrade");
        expect(tree[tree.length - 1].children!.at(-1)).toEqual(all(routingVariantTree(spec, "map")).filter((d) => d.name === "server").at(-1));
        if (hasNginx) expect(nginxRefuses(renderNginxConfig(tree))).toBeUndefined();
    });

    it("gives HAProxy and Caddy the generated config's routes, idle timeout and resolver, in configs they accept", () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "pug-bench-peers-"));
        try {
            const haproxy = haproxyFiles(spec, dir);
            expect(haproxy["users.map"]).toBe("alice grafana-alice\nbob grafana-bob\ndefault grafana-default\n");
            expect(haproxy["haproxy.cfg"]).toContain(`timeout tunnel ${spec.limits.idleTimeoutSeconds}s`);
            expect(haproxy["haproxy.cfg"]).toContain(`nameserver dns ${spec.resolver}:53`);
            expect(haproxy["haproxy.cfg"]).toContain(`map(${dir}/users.map)`);
            const caddy = caddyfile(spec);
            expect(caddy).toMatch(/\t\talice\/grafana grafana-alice:3000\n\t\tbob\/grafana grafana-bob:3000\n\t\tdefault\/grafana grafana-default:3000\n/);
            for (const [file, text] of Object.entries({ ...haproxy, Caddyfile: caddy })) writeFileSync(path.join(dir, file), text);
            if (hasHaproxy) execFileSync("haproxy", ["-c", "-q", "-f", path.join(dir, "haproxy.cfg")], { stdio: "pipe" });
            if (hasCaddy) execFileSync("caddy", ["validate", "--config", path.join(dir, "Caddyfile"), "--adapter", "caddyfile"], { stdio: "pipe", env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("lists users in the configs' own order, so the first and the last are the map's", () => {
        const ids = benchUserIds(1_000);
        expect(ids[0]).toBe("u00000");
        expect([...ids].sort()).toEqual(ids);
        expect(ROUTING_STYLES).toContain("map");
    });
});

describe("measurements", () => {
    it("splits connections over clients as evenly as whole numbers allow", () => {
        for (const [total, clients] of [[1_000, 4], [750, 4], [3, 4], [12_000, 3]]) {
            const parts = Array.from({ length: clients }, (_, i) => share(total, clients, i));
            expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
            expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
        }
    });

    it("counts nginx's complaints without times, pids or client details, and ignores the access log", () => {
        const log = [
            "2026/11/23 15:43:02 [warn] 5769#5769: 768 worker_connections are not enough, reusing connections",
            "2026/11/23 15:43:02 [warn] 5768#5768: 768 worker_connections are not enough, reusing connections",
            '127.0.0.1 - - [23/Nov/2026:15:43:02 +0000] "GET /api/live/ws HTTP/1.1" 101 0 "-" "-"',
            '2026/11/23 15:43:03 [alert] 5768#5768: *1234 768 worker_connections are not enough while connecting to upstream, client: 127.0.2.1, server: , request: "GET / HTTP/1.1"',
        ].join("\n");
        expect(nginxProblems(log)).toEqual([
            { message: "[warn] 768 worker_connections are not enough, reusing connections", count: 2 },
            { message: "[alert] 768 worker_connections are not enough while connecting to upstream", count: 1 },
        ]);
    });

    it("reads memory fields of /proc files in KiB", () => {
        expect(procField("Name:\tnginx\nVmRSS:\t    2160 kB\n", "VmRSS")).toBe(2160);
        expect(procField("Rss:                1760 kB\nPss:                 260 kB\n", "Pss")).toBe(260);
        expect(() => procField("VmRSS: 1 kB", "Pss")).toThrow(/no Pss/);
    });
});

describe("the engine benchmark's pure parts", () => {
    it("fits the growth exponent of a power law, and refuses what cannot be fitted", () => {
        expect(growthExponent([[10, 3], [100, 30], [500, 150]])).toBeCloseTo(1, 10);
        expect(growthExponent([[10, 1], [100, 100]])).toBeCloseTo(2, 10);
        // a fixed cost flattens the curve below 1
        expect(growthExponent([[10, 11], [100, 20], [500, 60]])).toBeLessThan(0.8);
        expect(() => growthExponent([[10, 1]])).toThrow(/two points/);
        expect(() => growthExponent([[10, 1], [10, 2]])).toThrow(/two different sizes/);
        expect(() => growthExponent([[10, 0], [100, 2]])).toThrow(/positive/);
    });

    it("finds a process's tree from /proc's parent fields, whatever the command's name holds", () => {
        expect(parentPid("4242 (node) S 4200 4242 4200 0 -1")).toBe(4200);
        expect(parentPid("4243 (a) b (c) S 17 4243 17 0 -1")).toBe(17);
        const parentOf = new Map([[2, 1], [3, 2], [4, 2], [5, 1], [6, 3], [7, 99]]);
        expect(processTree(2, parentOf).sort()).toEqual([2, 3, 4, 6]);
        expect(processTree(7, parentOf)).toEqual([7]);
    });

    it("samples a live process tree: the peak covers a child's memory", async () => {
        const child = spawn("sh", ["-c", "node -e 'const b = Buffer.alloc(64 * 2 ** 20, 1); setTimeout(() => b, 1500)'"]);
        const sampler = sampleTreeRss(child.pid!, 50);
        await new Promise((r) => child.once("exit", r));
        // the grandchild (node) touched 64 MiB: a sum over sh alone could not reach it
        expect(sampler.stop()).toBeGreaterThan(64 * 1024);
    });

    it("registers the program's custom resources flat: no component or StackReference, names unique per type, explicit providers kept", () => {
        const urn = (type: string, name: string) => `urn:pulumi:s::pug::pug:platform:PugPlatform$${type}::${name}`;
        const docker = urn("pulumi:providers:docker", "pug-docker");
        const registered = [
            { urn: urn("pug:tenant:GrafanaTenant", "t"), type: "pug:tenant:GrafanaTenant", name: "t", custom: false, inputs: {} },
            { urn: urn("pulumi:pulumi:StackReference", "prev"), type: "pulumi:pulumi:StackReference", name: "prev", custom: true, inputs: { name: "s" } },
            { urn: docker, type: "pulumi:providers:docker", name: "pug-docker", custom: true, inputs: { host: "unix:///d.sock" } },
            { urn: urn("docker:index/service:Service", "a"), type: "docker:index/service:Service", name: "a", custom: true, inputs: { name: "x" }, provider: `${docker}::provider-id` },
            { urn: "urn:pulumi:s::pug::other$docker:index/service:Service::a", type: "docker:index/service:Service", name: "a", custom: true, inputs: {}, provider: `${docker}::provider-id` },
            { urn: urn("mysql:index/database:Database", "a"), type: "mysql:index/database:Database", name: "a", custom: true, inputs: {}, provider: "urn:pulumi:s::pug::pulumi:providers:mysql::default::id" },
            { urn: urn("random:index/randomPassword:RandomPassword", "p"), type: "random:index/randomPassword:RandomPassword", name: "p", custom: true, inputs: { length: 32 }, provider: "" },
        ];
        const flat = flatResources(registered);
        expect(flat.map((r) => [r.type, r.name, r.providerPackage, r.provider])).toEqual([
            ["pulumi:providers:docker", "pug-docker", "docker", undefined],
            ["docker:index/service:Service", "a", undefined, docker],
            ["docker:index/service:Service", "a-2", undefined, docker],
            ["mysql:index/database:Database", "a", undefined, undefined],
            ["random:index/randomPassword:RandomPassword", "p", undefined, undefined],
        ]);
        expect(flat[0].inputs).toEqual({ host: "unix:///d.sock" });
    });

    it("names the steps a plan touches, leaving out unchanged resources and the StackReference every run reads", () => {
        const step = (op: string, type: string, name: string) => ({ op, urn: "", type, name, diffReasons: [], inputs: {} });
        expect(touched([step("same", "docker:index/service:Service", "a"), step("read", "pulumi:pulumi:StackReference", "prev"), step("update", "docker:index/service:Service", "pug-user-b"), step("read", "docker:index/network:Network", "n")])).toEqual([
            "update pug-user-b",
            "read n",
        ]);
    });

    it("predicts a rollout from Swarm's settings and Pulumi's parallelism: replicas in turn, services by the parallel batch, waves in turn, one monitor window", () => {
        const update = { healthIntervalSeconds: 10, delaySeconds: 10, monitorSeconds: 60 };
        expect(predictedRolloutSeconds(update, 2, [8], 8)).toBe(100);
        expect(predictedRolloutSeconds(update, 2, [24], 8)).toBe(180);
        expect(predictedRolloutSeconds(update, 2, [3, 21], 8)).toBe(220);
        expect(predictedRolloutSeconds(update, 3, [1], 8)).toBe(120);
    });

    it("sums up a one-user change's steps, naming every step that is not the user's own", () => {
        expect(touchedCell({ userId: "added-at-10", touched: ["create pug-user-added-at-10", "create pug-user-added-at-10-db", "replace pug-proxy-nginx-conf", "update pug-proxy"] })).toBe(
            "4 (2 the user's own; beyond: replace pug-proxy-nginx-conf, update pug-proxy)",
        );
        expect(touchedCell({ userId: "added-at-10", touched: ["update pug-user-added-at-10"] })).toBe("1 (1 the user's own)");
    });

    it("lists users with zero-padded ids from an offset, so a later list extends an earlier one", () => {
        expect(benchUsers(2, 2)).toEqual([{ id: "user-00000", replicas: 2 }, { id: "user-00001", replicas: 2 }]);
        expect(benchUsers(1, 3, 10)).toEqual([{ id: "user-00010", replicas: 3 }]);
        expect(benchUsers(12, 2).slice(0, 10)).toEqual(benchUsers(10, 2));
        // ids only when no replicas are given (the rendering benchmark's users)
        expect(benchUsers(1)).toEqual([{ id: "user-00000" }]);
    });
});
