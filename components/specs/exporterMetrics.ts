/**
 * The metric names each exporter PUG scrapes publishes, and where each list was checked. The
 * operations dashboard may only query names listed here (a test enforces it), so a panel cannot
 * silently stay empty because of a misspelt or invented metric.
 */
export interface ExporterMetrics {
    /** What publishes them, and how PUG scrapes it. */
    exporter: string;
    /** How the names were checked. */
    checked: string;
    /** Series names as they appear in PromQL (histograms as _bucket/_count/_sum). */
    names: readonly string[];
}

export const EXPORTER_METRICS = {
    dockerEngine: {
        exporter: "the Docker engine itself (daemon.json metrics-addr), job docker-engine",
        checked:
            "read from the /metrics of a real dockerd (Debian's 20.10.24) after `docker swarm init`, on this project's machine; " +
            "swarm_manager_* are published by managers (the leader holds the current counts), swarm_node_* by every node",
        names: [
            "swarm_manager_nodes", // gauge, label state: ready | down | disconnected | unknown
            "swarm_manager_leader", // gauge: 1 on the leader
            "swarm_manager_tasks_total", // gauge, label state
            "swarm_manager_services_total",
            "swarm_node_manager", // gauge: 1 on a manager
            "swarm_node_info", // labels node_id, swarm_id
            "engine_daemon_container_states_containers", // gauge, label state: running | paused | stopped
            "engine_daemon_engine_info", // labels version, kernel, os…
            "engine_daemon_health_checks_failed_total",
        ],
    },
    nginxExporter: {
        exporter: "nginx/nginx-prometheus-exporter reading the front proxy's stub_status, job nginx",
        checked: "nginx-prometheus-exporter's collector/nginx.go and helper.go (namespace nginx): stub_status carries totals only, no per-location or per-status counts",
        names: [
            "nginx_up",
            "nginx_connections_active",
            "nginx_connections_accepted",
            "nginx_connections_handled",
            "nginx_connections_reading",
            "nginx_connections_writing",
            "nginx_connections_waiting",
            "nginx_http_requests_total",
        ],
    },
    grafana: {
        exporter: "each user's Grafana at /<id>/grafana/metrics, job grafana-<id>, label user",
        checked:
            "Grafana's pkg/middleware/request_metrics.go (grafana_http_request_duration_seconds, labels handler, status_code, method); " +
            "pkg/services/live/live.go sets centrifuge's MetricsNamespace to grafana_live, and centrifuge's metrics.go names node_num_clients, node_num_users",
        names: [
            "grafana_http_request_duration_seconds_bucket",
            "grafana_http_request_duration_seconds_count",
            "grafana_http_request_duration_seconds_sum",
            "grafana_http_request_in_flight",
            "grafana_live_node_num_clients",
            "grafana_live_node_num_users",
        ],
    },
    prometheus: {
        exporter: "Prometheus itself, for every scrape target",
        checked: "Prometheus documentation (Jobs and instances: automatically generated series)",
        names: ["up"],
    },
} as const satisfies Record<string, ExporterMetrics>;

/** Every name any exporter publishes. */
export const PUBLISHED_METRIC_NAMES: ReadonlySet<string> = new Set(Object.values(EXPORTER_METRICS).flatMap((e) => e.names));

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"]);

/**
 * The metric names a PromQL expression reads: identifiers that are not functions or aggregations
 * (followed by a parenthesis), keywords, label names (inside braces or by/without lists), string
 * literals or durations.
 */
export function metricNamesIn(expr: string): string[] {
    const stripped = expr
        .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ")
        .replace(/\{[^}]*\}/g, " ")
        .replace(/\[[^\]]*\]/g, " ")
        .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
    const names = new Set<string>();
    for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
        const word = match[0];
        const after = stripped.slice(match.index! + word.length).trimStart();
        if (after.startsWith("(") || PROMQL_WORDS.has(word.toLowerCase())) continue;
        names.add(word);
    }
    return [...names];
}
