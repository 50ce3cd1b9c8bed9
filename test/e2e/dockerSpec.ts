/**
 * The Docker Engine API requests the docker provider (pulumi-docker, built on the Terraform
 * provider) makes for the resources PUG declares, computed from the inputs Pulumi would hand it.
 * Part of the end-to-end test's provider harness (see providers.ts): the real provider plugin
 * cannot be installed where the test runs.
 *
 * Strict on purpose: an input this translation does not know makes it throw, naming the field, so
 * a product change the harness would silently drop fails the test instead of passing untested.
 */

/** A Go duration ("10s", "1m30s", "500ms", "2h") in nanoseconds, as the engine wants it. */
export function goDurationNanos(text: string): number {
    const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (!parts.length || parts.map((p) => p[0]).join("") !== text) throw new Error(`"${text}" is not a Go duration`);
    return Math.round(parts.reduce((total, [, n, unit]) => total + Number(n) * units[unit], 0));
}

/** Reads the fields of one input object, refusing fields not listed. */
function fields<T extends Record<string, any>>(value: T | undefined, where: string, known: readonly string[]): T {
    const object = (value ?? {}) as T;
    const unknown = Object.keys(object).filter((k) => object[k] !== undefined && !known.includes(k));
    if (unknown.length) throw new Error(`the e2e provider harness does not translate ${unknown.map((k) => `${where}.${k}`).join(", ")}: teach test/e2e/dockerSpec.ts`);
    return object;
}

type Labels = Array<{ label: string; value: string }> | undefined;
const labelMap = (labels: Labels) => (labels ? Object.fromEntries(labels.map((l) => [l.label, l.value])) : undefined);
const nanos = (d: string | undefined) => (d === undefined ? undefined : goDurationNanos(d));

/**
 * Maps an id a resource's inputs hold (the id Pulumi gave a network, secret or config) to the
 * engine's id. The kind matters: ids are unique per type only.
 */
export type IdOf = (kind: "network" | "secret" | "config", pulumiId: string) => string;

export function networkCreate(inputs: Record<string, any>): object {
    const n = fields(inputs, "Network", ["name", "driver", "attachable", "internal", "options", "labels"]);
    return { Name: n.name, Driver: n.driver ?? "bridge", Attachable: n.attachable ?? false, Internal: n.internal ?? false, Options: n.options ?? {}, Labels: labelMap(n.labels), CheckDuplicate: true };
}

export function secretCreate(inputs: Record<string, any>): object {
    const s = fields(inputs, "Secret", ["name", "data", "labels"]);
    return { Name: s.name, Data: s.data, Labels: labelMap(s.labels) };
}

export function configCreate(inputs: Record<string, any>): object {
    const c = fields(inputs, "ServiceConfig", ["name", "data"]);
    return { Name: c.name, Data: c.data };
}

export function volumeCreate(inputs: Record<string, any>): object {
    const v = fields(inputs, "Volume", ["name", "driver", "driverOpts", "labels"]);
    return { Name: v.name, Driver: v.driver ?? "local", DriverOpts: v.driverOpts ?? {}, Labels: labelMap(v.labels) };
}

function fileReference(f: Record<string, any>, where: string, idField: "secretId" | "configId", nameField: "secretName" | "configName", idOf: IdOf) {
    fields(f, where, [idField, nameField, "fileName", "fileUid", "fileGid", "fileMode"]);
    return {
        File: { Name: f.fileName, UID: f.fileUid ?? "0", GID: f.fileGid ?? "0", Mode: f.fileMode ?? 0o444 },
        [idField === "secretId" ? "SecretID" : "ConfigID"]: idOf(idField === "secretId" ? "secret" : "config", f[idField]),
        [nameField === "secretName" ? "SecretName" : "ConfigName"]: f[nameField],
    };
}

function updatePolicy(u: Record<string, any> | undefined, where: string) {
    if (!u) return undefined;
    fields(u, where, ["parallelism", "delay", "failureAction", "monitor", "maxFailureRatio", "order"]);
    return {
        Parallelism: u.parallelism ?? 1,
        Delay: nanos(u.delay),
        FailureAction: u.failureAction,
        Monitor: nanos(u.monitor),
        MaxFailureRatio: u.maxFailureRatio === undefined ? undefined : Number(u.maxFailureRatio),
        Order: u.order,
    };
}

export interface ServiceRequest {
    /** The ServiceSpec for POST /services/create and /services/{id}/update. */
    spec: Record<string, any>;
    /** The provider waits for the service to converge after create/update when this is set. */
    converge?: { delayMs: number; timeoutMs: number };
}

/** The engine's ServiceSpec for a docker.Service's inputs. */
export function serviceRequest(inputs: Record<string, any>, idOf: IdOf): ServiceRequest {
    const svc = fields(inputs, "Service", ["name", "labels", "mode", "taskSpec", "updateConfig", "rollbackConfig", "endpointSpec", "convergeConfig"]);
    const task = fields(svc.taskSpec, "Service.taskSpec", ["containerSpec", "networksAdvanceds", "placement", "resources", "restartPolicy", "forceUpdate"]);
    const c = fields(task.containerSpec, "Service.taskSpec.containerSpec", [
        "image", "commands", "args", "env", "user", "dir", "hostname", "labels", "secrets", "configs", "mounts", "healthcheck", "stopSignal", "stopGracePeriod", "readOnly", "init", "sysctl",
    ]);
    const health = c.healthcheck && fields(c.healthcheck, "Service.taskSpec.containerSpec.healthcheck", ["tests", "interval", "timeout", "retries", "startPeriod"]);
    const placement = task.placement && fields(task.placement, "Service.taskSpec.placement", ["constraints", "prefs", "maxReplicas"]);
    const resources = task.resources && fields(task.resources, "Service.taskSpec.resources", ["limits", "reservation"]);
    const limit = (r: Record<string, any> | undefined, where: string) => {
        if (!r) return undefined;
        fields(r, where, ["memoryBytes", "nanoCpus"]);
        return { MemoryBytes: r.memoryBytes, NanoCPUs: r.nanoCpus };
    };
    const restart = task.restartPolicy && fields(task.restartPolicy, "Service.taskSpec.restartPolicy", ["condition", "delay", "maxAttempts", "window"]);
    const mode = fields(svc.mode, "Service.mode", ["replicated", "global"]);
    const endpoint = svc.endpointSpec && fields(svc.endpointSpec, "Service.endpointSpec", ["mode", "ports"]);
    const converge = svc.convergeConfig && fields(svc.convergeConfig, "Service.convergeConfig", ["delay", "timeout"]);

    const spec = {
        Name: svc.name,
        Labels: labelMap(svc.labels),
        TaskTemplate: {
            ContainerSpec: {
                Image: c.image,
                Command: c.commands,
                Args: c.args,
                Env: c.env ? Object.entries(c.env).map(([k, v]) => `${k}=${v}`) : undefined,
                User: c.user,
                Dir: c.dir,
                Hostname: c.hostname,
                Labels: labelMap(c.labels),
                Secrets: c.secrets?.map((s: any, i: number) => fileReference(s, `Service.taskSpec.containerSpec.secrets[${i}]`, "secretId", "secretName", idOf)),
                Configs: c.configs?.map((s: any, i: number) => fileReference(s, `Service.taskSpec.containerSpec.configs[${i}]`, "configId", "configName", idOf)),
                Mounts: c.mounts?.map((m: any, i: number) => {
                    fields(m, `Service.taskSpec.containerSpec.mounts[${i}]`, ["type", "source", "target", "readOnly"]);
                    return { Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false };
                }),
                HealthCheck: health && {
                    Test: health.tests,
                    Interval: nanos(health.interval),
                    Timeout: nanos(health.timeout),
                    Retries: health.retries,
                    StartPeriod: nanos(health.startPeriod),
                },
                StopSignal: c.stopSignal,
                StopGracePeriod: nanos(c.stopGracePeriod),
                ReadOnly: c.readOnly,
                Init: c.init,
                Sysctls: c.sysctl,
            },
            Networks: task.networksAdvanceds?.map((n: any, i: number) => {
                fields(n, `Service.taskSpec.networksAdvanceds[${i}]`, ["id", "aliases"]);
                return { Target: idOf("network", n.id), Aliases: n.aliases };
            }),
            Placement: placement && {
                Constraints: placement.constraints,
                Preferences: placement.prefs?.map((p: string) => {
                    const [kind, descriptor] = p.split("=");
                    if (kind !== "spread") throw new Error(`placement preference "${p}": only spread=<descriptor> exists`);
                    return { Spread: { SpreadDescriptor: descriptor } };
                }),
                MaxReplicas: placement.maxReplicas,
            },
            Resources: resources && { Limits: limit(resources.limits, "Service.taskSpec.resources.limits"), Reservations: limit(resources.reservation, "Service.taskSpec.resources.reservation") },
            RestartPolicy: restart && { Condition: restart.condition, Delay: nanos(restart.delay), MaxAttempts: restart.maxAttempts, Window: nanos(restart.window) },
            ForceUpdate: task.forceUpdate,
        },
        Mode: mode.global ? { Global: {} } : { Replicated: { Replicas: fields(mode.replicated, "Service.mode.replicated", ["replicas"]).replicas ?? 1 } },
        UpdateConfig: updatePolicy(svc.updateConfig, "Service.updateConfig"),
        RollbackConfig: updatePolicy(svc.rollbackConfig, "Service.rollbackConfig"),
        EndpointSpec: endpoint && {
            Mode: endpoint.mode ?? "vip",
            Ports: endpoint.ports?.map((p: any, i: number) => {
                fields(p, `Service.endpointSpec.ports[${i}]`, ["name", "protocol", "targetPort", "publishedPort", "publishMode"]);
                return { Name: p.name, Protocol: p.protocol ?? "tcp", TargetPort: p.targetPort, PublishedPort: p.publishedPort, PublishMode: p.publishMode ?? "ingress" };
            }),
        },
    };
    return {
        spec,
        converge: converge && { delayMs: (nanos(converge.delay) ?? 7e9) / 1e6, timeoutMs: (nanos(converge.timeout) ?? 180e9) / 1e6 },
    };
}
