/**
 * The dev stack (Pulumi.dev.yaml) as the real-engine tests deploy it: only image references, ports
 * and this machine's limits differ. Shared by the end-to-end test (one node) and the fault drills
 * (three nodes), so both run what `pulumi up -s dev` deploys.
 */
import { loadStackFile } from "../harness/stackFiles";

const dev = loadStackFile("dev");
export type UserEntry = Record<string, unknown> & { id: string; replicas?: number };
export const DEV_USERS = dev.config["pug:users"] as UserEntry[];
export const DOMAIN = dev.config["pug:domain"] as string;

export interface DevStackTarget {
    /** The manager's Docker API, e.g. unix:///tmp/…/docker.sock. */
    dockerHost: string;
    /** The manager's address as seen from where `pulumi up` runs (the mysql provider connects there). @default 127.0.0.1 */
    managerAddress?: string;
    mysqlPort: number;
    proxyPort: number;
    images: { mariadb: string; redis: string; nginx: string; standin: string };
    /** Where the proxy task may run: its port is published in host mode on that node. */
    proxyPlacement?: string[];
}

/** Pulumi.dev.yaml with the test's engine, the images built here, and this machine's limits. */
export function devStackConfig(target: DevStackTarget, users: UserEntry[] = DEV_USERS): Record<string, unknown> {
    return {
        ...dev.config,
        "pug:users": users,
        // the test's own engine; no IPVS on this machine, so services are addressed by DNS round robin
        "pug:docker": { host: target.dockerHost, endpointMode: "dnsrr", ...(target.managerAddress ? { managerAddress: target.managerAddress } : {}) },
        // a free port: another MySQL may listen on 3306
        "pug:mysql": { image: target.images.mariadb, publishedPort: target.mysqlPort, memoryLimitMb: 512 },
        "pug:redis": { image: target.images.redis, memoryLimitMb: 64 },
        // the hard open-files limit here is 20000, and the machine is shared: small limits
        "pug:grafana": { image: target.images.standin, openFilesLimit: 16384, memoryLimitMb: 128, memoryReservationMb: 32 },
        // the dev stack's one stop-first proxy task, on a free port, sized for a test's few sockets
        "pug:proxy": {
            ...(dev.config["pug:proxy"] as object),
            image: target.images.nginx,
            publishedPort: target.proxyPort,
            memoryLimitMb: 64,
            webSockets: 1000,
            openFilesPerWorker: 4096,
            ...(target.proxyPlacement ? { placementConstraints: target.proxyPlacement } : {}),
        },
        // Prometheus, its nginx exporter and the operations Grafana: no image of them can be had here
        "pug:monitoring": { enabled: false },
    };
}
