/**
 * Monitoring: the Prometheus configuration covers every engine, the proxy and every active user;
 * the operations dashboard is valid and reads only metrics the exporters publish; the component
 * delivers exactly that configuration and keeps the admin password secret.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { plainTextPaths, settled, setupPulumiMocks, type MockSetup } from "../test/harness/pulumiMocks";
import { EXPORTER_METRICS, metricNamesIn, PUBLISHED_METRIC_NAMES } from "./specs/exporterMetrics";
import type * as monitoringModule from "./monitoring";

let mocks: MockSetup;
let m: typeof monitoringModule;

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    m = await import("./monitoring");
});
beforeEach(() => mocks.reset());

interface ScrapeConfig {
    job_name: string;
    metrics_path?: string;
    static_configs?: { targets: string[]; labels?: Record<string, string> }[];
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
    relabel_configs?: { target_label: string; replacement: string }[];
}
const scrapeJobs = (yamlText: string) => (parse(yamlText) as { scrape_configs: ScrapeConfig[] }).scrape_configs;

describe("prometheus.yml", () => {
    const users = ["alice", "bob", "c-3po"];

    it("has one job per active user, scraping every replica under the user's sub path, labelled with the user", () => {
        const config = scrapeJobs(m.prometheusConfig({ scrapeInterval: "15s", engineTargets: {}, users }));
        for (const user of users) {
            const job = config.find((j) => j.job_name === `grafana-${user}`);
            expect(job, user).toBeDefined();
            expect(job!.metrics_path).toBe(`/${user}/grafana/metrics`);
            expect(job!.dns_sd_configs).toEqual([{ names: [`tasks.grafana-${user}`], type: "A", port: 3000 }]);
            expect(job!.relabel_configs).toEqual([{ target_label: "user", replacement: user }]);
        }
        expect(config.filter((j) => j.job_name.startsWith("grafana-"))).toHaveLength(users.length);
    });

    it("scrapes each declared engine with its node name, and the proxy exporter when there is one", () => {
        const config = scrapeJobs(m.prometheusConfig({ scrapeInterval: "30s", engineTargets: { m1: "10.0.0.1:9323", w1: "10.0.0.4:9323" }, proxyExporter: "pug-nginx-exporter:9113", users: [] }));
        expect(config.find((j) => j.job_name === "docker-engine")!.static_configs).toEqual([
            { targets: ["10.0.0.1:9323"], labels: { node: "m1" } },
            { targets: ["10.0.0.4:9323"], labels: { node: "w1" } },
        ]);
        expect(config.find((j) => j.job_name === "nginx")!.static_configs).toEqual([{ targets: ["pug-nginx-exporter:9113"] }]);
    });

    it("leaves out the engine and proxy jobs when there is nothing to scrape", () => {
        const names = scrapeJobs(m.prometheusConfig({ scrapeInterval: "15s", engineTargets: {}, users: ["a"] })).map((j) => j.job_name);
        expect(names).toEqual(["prometheus", "grafana-a"]);
    });
});

describe("the operations dashboard", () => {
    interface Panel { id: number; type: string; title: string; gridPos: object; datasource?: { uid: string }; targets?: { refId: string; expr: string; datasource: { uid: string } }[] }
    const dashboard = () => JSON.parse(m.operationsDashboard()) as { uid: string; panels: Panel[] };
    const queries = () => dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

    it("is valid JSON with unique panel ids, a layout, and every query on the provisioned datasource", () => {
        const d = dashboard();
        expect(d.uid).toBe("pug-operations");
        const ids = d.panels.map((p) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const p of d.panels) {
            expect(p.gridPos, p.title).toBeDefined();
            if (p.type === "row") continue;
            expect(p.targets?.length, p.title).toBeGreaterThan(0);
            expect(p.datasource?.uid).toBe(m.PROMETHEUS_DATASOURCE_UID);
            for (const t of p.targets!) {
                expect(t.expr.trim(), p.title).not.toBe("");
                expect(t.datasource.uid).toBe(m.PROMETHEUS_DATASOURCE_UID);
            }
        }
    });

    it("queries only metric names that the exporters publish", () => {
        for (const q of queries()) {
            const names = metricNamesIn(q.expr);
            expect(names.length, q.expr).toBeGreaterThan(0);
            for (const name of names) expect(PUBLISHED_METRIC_NAMES.has(name), `${q.panel}: ${name} in ${q.expr}`).toBe(true);
        }
    });

    it("shows what the issue asks for: nodes by state, leader, managers, containers per node, per-user requests, status codes and Live connections", () => {
        const all = queries().map((q) => q.expr);
        const reading = (metric: string, groupBy?: string) => all.filter((e) => metricNamesIn(e).includes(metric) && (!groupBy || new RegExp(`by \\(([^)]*\\b)?${groupBy}\\b`).test(e)));
        expect(reading("swarm_manager_nodes", "state")).not.toEqual([]);
        expect(reading("swarm_manager_leader", "node")).not.toEqual([]);
        expect(reading("swarm_node_manager")).not.toEqual([]);
        expect(reading("engine_daemon_container_states_containers", "node")).not.toEqual([]);
        expect(reading("nginx_http_requests_total")).not.toEqual([]);
        expect(reading("grafana_http_request_duration_seconds_count", "user")).not.toEqual([]);
        expect(all.some((e) => /by \(user, status_code\)/.test(e))).toBe(true);
        expect(reading("grafana_live_node_num_clients", "user")).not.toEqual([]);
    });

    it("groups by labels the scrape configuration sets (user, node)", () => {
        const config = m.prometheusConfig({ scrapeInterval: "15s", engineTargets: { n: "h:9323" }, users: ["u"] });
        const setLabels = new Set(scrapeJobs(config).flatMap((j) => [...(j.relabel_configs ?? []).map((r) => r.target_label), ...(j.static_configs ?? []).flatMap((s) => Object.keys(s.labels ?? {}))]));
        for (const q of queries()) {
            for (const [, list] of q.expr.matchAll(/by \(([^)]*)\)/g)) {
                for (const label of list.split(",").map((l) => l.trim())) {
                    // labels the exporters publish themselves
                    if (["state", "status_code", "le"].includes(label)) continue;
                    expect(setLabels.has(label), `${q.panel}: ${label}`).toBe(true);
                }
            }
        }
    });
});

describe("metricNamesIn", () => {
    it("finds metrics, not functions, keywords, labels or durations", () => {
        expect(metricNamesIn('histogram_quantile(0.95, sum by (user, le) (rate(grafana_http_request_duration_seconds_bucket{job=~"grafana-.+"}[5m])))')).toEqual(["grafana_http_request_duration_seconds_bucket"]);
        expect(metricNamesIn('sum(swarm_node_manager * on (instance) up{job="docker-engine"})').sort()).toEqual(["swarm_node_manager", "up"]);
        expect(metricNamesIn("max by (node) (swarm_manager_leader) == 1")).toEqual(["swarm_manager_leader"]);
    });
    it("documents where every exporter's names were checked", () => {
        for (const e of Object.values(EXPORTER_METRICS)) {
            expect(e.checked.length).toBeGreaterThan(20);
            expect(e.names.length).toBeGreaterThan(0);
        }
    });
});

describe("the Monitoring component", () => {
    const decode = (data: string) => Buffer.from(data, "base64").toString("utf8");

    it("delivers the generated prometheus.yml and the provisioning as Docker configs the services mount", async () => {
        new m.Monitoring("mon", { users: ["alice", "bob"], networkIds: ["net-proxy"], engineTargets: { m1: "10.0.0.1:9323" } });
        await settled();
        const configs = mocks.ofType("docker:index/serviceConfig:ServiceConfig");
        const promConfig = configs.find((c) => c.name === "mon-prometheus-config")!;
        expect(decode(promConfig.inputs.data)).toBe(m.prometheusConfig({ scrapeInterval: "15s", engineTargets: { m1: "10.0.0.1:9323" }, proxyExporter: "pug-nginx-exporter:9113", users: ["alice", "bob"] }));
        const prometheus = mocks.one("docker:index/service:Service", "mon-prometheus");
        expect(prometheus.inputs.taskSpec.containerSpec.configs).toEqual([expect.objectContaining({ configName: promConfig.inputs.name, fileName: "/etc/prometheus/prometheus.yml" })]);

        const grafana = mocks.one("docker:index/service:Service", "mon-grafana");
        const mounted = grafana.inputs.taskSpec.containerSpec.configs as { configName: string; fileName: string }[];
        const byFile = Object.fromEntries(mounted.map((c) => [c.fileName, decode(configs.find((x) => x.inputs.name === c.configName)!.inputs.data)]));
        expect(JSON.parse(byFile["/etc/pug/dashboards/operations.json"]).uid).toBe("pug-operations");
        expect(parse(byFile["/etc/grafana/provisioning/datasources/pug.yaml"]).datasources[0]).toMatchObject({ uid: m.PROMETHEUS_DATASOURCE_UID, url: "http://pug-prometheus:9090" });
        expect(parse(byFile["/etc/grafana/provisioning/dashboards/pug.yaml"]).providers[0].options.path).toBe("/etc/pug/dashboards");
    });

    it("keeps Prometheus's data on a declared volume that the stack never deletes", async () => {
        new m.Monitoring("vol", { users: ["alice"], networkIds: ["n"] });
        await settled();
        const volume = mocks.one("docker:index/volume:Volume", "vol-prometheus-data");
        expect(volume.options.retainOnDelete).toBe(true);
        const prometheus = mocks.one("docker:index/service:Service", "vol-prometheus");
        expect(prometheus.inputs.taskSpec.containerSpec.mounts).toEqual([{ type: "volume", source: volume.inputs.name, target: "/prometheus" }]);
    });

    it("keeps the operations Grafana's admin password out of env, configs and every plain input", async () => {
        new m.Monitoring("pw", { users: ["alice"], networkIds: ["n"] });
        await settled();
        const password = mocks.one("random:index/randomPassword:RandomPassword", "pw-grafana-admin").state.result as string;
        for (const r of mocks.resources) expect(plainTextPaths(r.rawInputs, password), `${r.type} ${r.name}`).toEqual([]);
        const env = mocks.one("docker:index/service:Service", "pw-grafana").inputs.taskSpec.containerSpec.env;
        expect(env.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe("/run/secrets/ops-grafana-admin-password");
    });

    it("points the nginx exporter at the proxy's status URL, or scrapes no proxy when told so", async () => {
        new m.Monitoring("px", { users: [], networkIds: ["n"], proxyStatusUrl: "http://front:9000/status" });
        await settled();
        expect(mocks.one("docker:index/service:Service", "px-nginx-exporter").inputs.taskSpec.containerSpec.args).toEqual(["--nginx.scrape-uri=http://front:9000/status"]);
        mocks.reset();
        new m.Monitoring("nopx", { users: [], networkIds: ["n"], proxyStatusUrl: null });
        await settled();
        expect(mocks.ofType("docker:index/service:Service").map((s) => s.name).sort()).toEqual(["nopx-grafana", "nopx-prometheus"]);
        const promConfig = mocks.resources.find((r) => r.name === "nopx-prometheus-config")!;
        expect(scrapeJobs(decode(promConfig.inputs.data)).map((j) => j.job_name)).not.toContain("nginx");
    });

    it("refuses bad arguments, each field named, before registering anything", async () => {
        expect(() => new m.Monitoring("bad", { users: [], networkIds: [], proxyStatusUrl: "pug-proxy:8081" })).toThrow(/^Monitoring bad: proxyStatusUrl must be an http\(s\) URL with a path/);
        // what pug:monitoring refuses, the component refuses too: one schema
        expect(() => new m.Monitoring("bad", { users: ["a", "a"], networkIds: [], retention: "a while", grafanaPublishedPort: 0, engineTargets: { n1: "n1" } })).toThrow(
            'Monitoring bad: engineTargets.n1 must be host:port; retention must be a duration such as 15s, 5m or 15d; grafanaPublishedPort must be a whole number >= 1; user "a" appears twice',
        );
        await settled();
        expect(mocks.ofType("docker:index/service:Service")).toEqual([]);
    });
});
