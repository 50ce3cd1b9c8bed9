import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { z } from "zod";
import { configMount, hashedConfig, hashedSecret, secretMount, secretPath, swarmService } from "./dockerObjects";
import { DEFAULT_PROXY_SERVICE_NAME, PROXY_STATUS_PORT } from "./frontProxy";
import { DEFAULT_GRAFANA_IMAGE, GRAFANA_PORT } from "./grafanaTenant";
import { tenantPath, tenantServiceName, type UrlMode } from "./specs/naming";
import { STATUS_PATH } from "./specs/nginxConfig";
import type { EndpointMode } from "./swarm";
import { safePassword } from "./specs/passwords";
import { hostPort, portNumber, repeats, schemaProblems } from "./validation";

export const DEFAULT_PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0";
export const DEFAULT_NGINX_EXPORTER_IMAGE = "nginx/nginx-prometheus-exporter:1.4.2";
/**
 * Where the front proxy serves nginx's stub_status, on a listener only the overlay network
 * reaches (never the public one). The proxy is its own component: set `proxyStatusUrl` to match it.
 */
export const DEFAULT_PROXY_STATUS_URL = `http://${DEFAULT_PROXY_SERVICE_NAME}:${PROXY_STATUS_PORT}${STATUS_PATH}`;
/** The datasource uid the provisioned dashboards query. */
export const PROMETHEUS_DATASOURCE_UID = "pug-prometheus";

const PROMETHEUS_PORT = 9090;
const NGINX_EXPORTER_PORT = 9113;
const OPS_GRAFANA_UID = "472";
const ADMIN_PASSWORD_FILE = "ops-grafana-admin-password";
const DASHBOARDS_DIR = "/etc/pug/dashboards";

/** The operations dashboard, as shipped in components/assets. */
export function operationsDashboard(): string {
    return readFileSync(path.join(__dirname, "assets", "operations-dashboard.json"), "utf8");
}

/** Plain data the Prometheus configuration is built from. */
export interface ScrapeSpec {
    /** How often every target is scraped, e.g. "15s". */
    scrapeInterval: string;
    /** Docker engines' metrics endpoints (host:port), by node name. */
    engineTargets: Record<string, string>;
    /** host:port of the nginx exporter; absent: the proxy is not scraped. */
    proxyExporter?: string;
    /** Active users: each gets a job scraping every replica of their Grafana. */
    users: string[];
    /** Where users' Grafanas serve (their /metrics is under the user's path in path mode). @default "path" */
    urlMode?: UrlMode;
}

/**
 * prometheus.yml. A user's job resolves `tasks.<service>` (one address per replica, on the overlay
 * network) rather than the service's virtual IP, which would answer from one random replica per
 * scrape; and it asks for /metrics under the user's sub path, where their Grafana serves it.
 */
export function prometheusConfig(spec: ScrapeSpec): string {
    const engineNodes = Object.entries(spec.engineTargets).sort(([a], [b]) => a.localeCompare(b));
    const config = {
        global: { scrape_interval: spec.scrapeInterval, evaluation_interval: spec.scrapeInterval },
        scrape_configs: [
            { job_name: "prometheus", static_configs: [{ targets: [`localhost:${PROMETHEUS_PORT}`] }] },
            ...(engineNodes.length
                ? [{ job_name: "docker-engine", static_configs: engineNodes.map(([node, target]) => ({ targets: [target], labels: { node } })) }]
                : []),
            ...(spec.proxyExporter ? [{ job_name: "nginx", static_configs: [{ targets: [spec.proxyExporter] }] }] : []),
            ...spec.users.map((user) => ({
                job_name: tenantServiceName(user),
                metrics_path: `${tenantPath(user, spec.urlMode)}metrics`,
                dns_sd_configs: [{ names: [`tasks.${tenantServiceName(user)}`], type: "A", port: GRAFANA_PORT }],
                relabel_configs: [{ target_label: "user", replacement: user }],
            })),
        ],
    };
    return stringify(config);
}

/** Grafana provisioning: the Prometheus datasource. */
export function operationsDatasourceProvisioning(prometheusUrl: string): string {
    return stringify({
        apiVersion: 1,
        datasources: [{ name: "Prometheus", uid: PROMETHEUS_DATASOURCE_UID, type: "prometheus", access: "proxy", url: prometheusUrl, isDefault: true, editable: false }],
    });
}

/** Grafana provisioning: dashboards from files, not editable in the UI (the files are the source). */
export function dashboardProvisioning(): string {
    return stringify({
        apiVersion: 1,
        providers: [{ name: "pug", folder: "PUG", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: DASHBOARDS_DIR } }],
    });
}

/** What a stack sets of the monitoring (`pug:monitoring`, beside whether it is enabled). */
export interface MonitoringSettings {
    /** Docker engines' metrics endpoints (host:port) by node name. @default none (an existing swarm: PUG does not know its nodes) */
    engineTargets?: Record<string, string>;
    /** The front proxy's stub_status URL (an internal listener); null: do not scrape the proxy. @default DEFAULT_PROXY_STATUS_URL */
    proxyStatusUrl?: string | null;
    /** Scrape interval. @default "15s" */
    scrapeInterval?: string;
    /** How long Prometheus keeps samples. @default "15d" */
    retention?: string;
    /** The Prometheus image. @default DEFAULT_PROMETHEUS_IMAGE */
    prometheusImage?: string;
    /** The nginx exporter's image. @default DEFAULT_NGINX_EXPORTER_IMAGE */
    nginxExporterImage?: string;
    /** The operations Grafana's image. @default the users' default Grafana image */
    grafanaImage?: string;
    /** Publish the operations Grafana on this port of the node running it (host mode). @default not published (reach it through the proxy network, or an SSH tunnel) */
    grafanaPublishedPort?: number;
    /** The operations Grafana's public URL (root_url). @default Grafana's own (http://localhost:3000/) */
    grafanaRootUrl?: string;
}

const duration = z.string().regex(/^\d+(ms|s|m|h|d|w|y)$/, "must be a duration such as 15s, 5m or 15d");

/** MonitoringSettings' schema, for the component's arguments and `pug:monitoring` alike. @internal */
export const monitoringSettingsSchema = z.strictObject({
    engineTargets: z.record(z.string().min(1), hostPort).optional(),
    proxyStatusUrl: z.union([z.string().regex(/^https?:\/\/[^/\s]+\/\S*$/, `must be an http(s) URL with a path, e.g. ${DEFAULT_PROXY_STATUS_URL}`), z.null()]).optional(),
    scrapeInterval: duration.optional(),
    retention: duration.optional(),
    prometheusImage: z.string().min(1).optional(),
    nginxExporterImage: z.string().min(1).optional(),
    grafanaImage: z.string().min(1).optional(),
    grafanaPublishedPort: portNumber.optional(),
    grafanaRootUrl: z.string().regex(/^https?:\/\/\S+$/, "must be an http(s) URL").optional(),
});

/** MonitoringSettings checked where they stand among other arguments (MonitoringArgs, PugPlatform's). @internal */
export const monitoringArgsSchema = z.object(monitoringSettingsSchema.shape);

export interface MonitoringArgs extends MonitoringSettings {
    /** Active users' ids: each user's Grafana replicas are scraped. */
    users: string[];
    /** Where users' Grafanas serve, which decides the path of their /metrics. @default "path" */
    urlMode?: UrlMode;
    /** How the services are addressed on the overlay (see EndpointMode). @default "vip" */
    endpointMode?: EndpointMode;
    /** Overlay networks (ids) shared with the users' Grafanas and the proxy. */
    networkIds: pulumi.Input<string>[];
    /** Placement of Prometheus (its data is a volume on the node it runs on). @default ["node.role == manager"] */
    prometheusConstraints?: string[];
}

/**
 * The platform's health: Prometheus scraping the Docker engines, the front proxy (through the
 * nginx exporter) and every user's Grafana, and an operations Grafana — not a user's — with the
 * operations dashboard provisioned. Everything it reads is listed in exporterMetrics.ts.
 */
export class Monitoring extends pulumi.ComponentResource {
    public readonly prometheus: docker.Service;
    public readonly grafana: docker.Service;
    public readonly nginxExporter?: docker.Service;
    /** The operations Grafana's admin password (user admin); a secret. */
    public readonly grafanaAdminPassword: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Refused before super(), which registers the component: a bad argument changes nothing.
        const problems = schemaProblems(monitoringArgsSchema, args);
        problems.push(...repeats(args.users, (u) => u).map(({ item }) => `user "${item}" appears twice`));
        if (problems.length) throw new Error(`Monitoring ${name}: ${problems.join("; ")}`);
        const proxyStatusUrl = args.proxyStatusUrl === undefined ? DEFAULT_PROXY_STATUS_URL : args.proxyStatusUrl;
        super("pug:monitoring:Monitoring", name, {}, opts);

        // What the three services share: one task each, on the same networks, restarted alike
        const common = { replicas: 1, networkIds: args.networkIds, restart: { delay: "5s" }, endpointMode: args.endpointMode ?? "vip" } as const;

        if (proxyStatusUrl !== null) {
            this.nginxExporter = swarmService(
                `${name}-nginx-exporter`,
                {
                    ...common,
                    name: "pug-nginx-exporter",
                    role: "nginx-exporter",
                    container: { image: args.nginxExporterImage ?? DEFAULT_NGINX_EXPORTER_IMAGE, args: [`--nginx.scrape-uri=${proxyStatusUrl}`] },
                    memoryLimitMb: 64,
                },
                { parent: this },
            );
        }

        const scrapeConfig = hashedConfig(
            `${name}-prometheus-config`,
            "pug-prometheus-config",
            prometheusConfig({
                scrapeInterval: args.scrapeInterval ?? "15s",
                engineTargets: args.engineTargets ?? {},
                proxyExporter: proxyStatusUrl === null ? undefined : `pug-nginx-exporter:${NGINX_EXPORTER_PORT}`,
                users: args.users,
                urlMode: args.urlMode,
            }),
            { parent: this },
        );
        // Declared, so the stack knows the metrics' history exists; kept when the stack is
        // destroyed, as every store of the platform is.
        const prometheusData = new docker.Volume(`${name}-prometheus-data`, { name: "pug-prometheus-data" }, { parent: this, retainOnDelete: true });
        this.prometheus = swarmService(
            `${name}-prometheus`,
            {
                ...common,
                name: "pug-prometheus",
                role: "prometheus",
                container: {
                    image: args.prometheusImage ?? DEFAULT_PROMETHEUS_IMAGE,
                    args: [
                        "--config.file=/etc/prometheus/prometheus.yml",
                        "--storage.tsdb.path=/prometheus",
                        `--storage.tsdb.retention.time=${args.retention ?? "15d"}`,
                    ],
                    configs: [configMount(scrapeConfig, "/etc/prometheus/prometheus.yml", 0o444)],
                    mounts: [{ type: "volume", source: prometheusData.name, target: "/prometheus" }],
                    healthcheck: { tests: ["CMD-SHELL", `wget -q -O /dev/null http://localhost:${PROMETHEUS_PORT}/-/healthy || exit 1`], interval: "15s", timeout: "5s", retries: 3, startPeriod: "30s" },
                },
                placement: { constraints: args.prometheusConstraints ?? ["node.role == manager"] },
                memoryLimitMb: 1024,
                // One task writing one volume: never two at once.
                lifecycle: { updateConfig: { parallelism: 1, order: "stop-first", failureAction: "rollback" } },
            },
            { parent: this },
        );

        const password = safePassword(`${name}-grafana-admin`, 24, { parent: this });
        this.grafanaAdminPassword = pulumi.secret(password.result);
        // Not "pug-ops-grafana-admin": that is the admin secret's name of a user called "ops-grafana"
        // (tenantObjectName), and secret names are one namespace.
        const adminSecret = hashedSecret(`${name}-grafana-admin`, "pug-ops-grafana-admin-password", password.result, { parent: this });
        const provisioning = [
            { purpose: "datasources", file: "/etc/grafana/provisioning/datasources/pug.yaml", content: operationsDatasourceProvisioning(`http://pug-prometheus:${PROMETHEUS_PORT}`) },
            { purpose: "dashboards", file: "/etc/grafana/provisioning/dashboards/pug.yaml", content: dashboardProvisioning() },
            { purpose: "operations-dashboard", file: `${DASHBOARDS_DIR}/operations.json`, content: operationsDashboard() },
        ].map(({ purpose, file, content }) => {
            const config = hashedConfig(`${name}-grafana-${purpose}`, `pug-ops-grafana-${purpose}`, content, { parent: this });
            return configMount(config, file, 0o444, { uid: OPS_GRAFANA_UID, gid: OPS_GRAFANA_UID });
        });
        this.grafana = swarmService(
            `${name}-grafana`,
            {
                ...common,
                name: "pug-ops-grafana",
                role: "ops-grafana",
                container: {
                    image: args.grafanaImage ?? DEFAULT_GRAFANA_IMAGE,
                    env: {
                        GF_SECURITY_ADMIN_PASSWORD__FILE: secretPath(ADMIN_PASSWORD_FILE),
                        GF_AUTH_ANONYMOUS_ENABLED: "false",
                        GF_USERS_ALLOW_SIGN_UP: "false",
                        GF_ANALYTICS_REPORTING_ENABLED: "false",
                        ...(args.grafanaRootUrl ? { GF_SERVER_ROOT_URL: args.grafanaRootUrl } : {}),
                    },
                    secrets: [secretMount(adminSecret, ADMIN_PASSWORD_FILE, OPS_GRAFANA_UID)],
                    configs: provisioning,
                    healthcheck: { tests: ["CMD-SHELL", `curl -fsS http://localhost:${GRAFANA_PORT}/api/health || exit 1`], interval: "15s", timeout: "5s", retries: 3, startPeriod: "1m" },
                },
                memoryLimitMb: 512,
                ports: args.grafanaPublishedPort ? [{ targetPort: GRAFANA_PORT, publishedPort: args.grafanaPublishedPort, publishMode: "host", protocol: "tcp" }] : undefined,
            },
            { parent: this, dependsOn: [this.prometheus] },
        );
        this.registerOutputs({ prometheus: this.prometheus.name, grafana: this.grafana.name });
    }
}
