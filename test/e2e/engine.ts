/**
 * A small client for the Docker Engine API over its unix socket: JSON requests and answers, errors
 * that carry the engine's message. The end-to-end test talks to the engine it started itself,
 * and only through this.
 */
import * as http from "http";
import type { Readable } from "stream";

/** The API version every request asks for: Debian bookworm's docker.io (20.10) speaks 1.41. */
const API = "/v1.41";

export class EngineError extends Error {
    constructor(
        readonly status: number,
        readonly request: string,
        message: string,
    ) {
        super(`${request}: ${status} ${message}`);
    }
}

export interface EngineResponse {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

/** Query parameters: a list repeats the parameter, an object is sent as JSON (e.g. `filters`). */
type Query = Record<string, string | number | boolean | string[] | object | undefined>;

function queryString(query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
        else params.set(k, typeof v === "object" ? JSON.stringify(v) : String(v));
    }
    const text = params.toString();
    return text ? `?${text}` : "";
}

export class Engine {
    constructor(readonly socketPath: string) {}

    /** One request; `body` is JSON-encoded unless it is a stream (sent as it is, e.g. a tar). */
    request(method: string, path: string, opts: { query?: Query; body?: unknown; timeoutMs?: number } = {}): Promise<EngineResponse> {
        const stream = opts.body && typeof (opts.body as Readable).pipe === "function" ? (opts.body as Readable) : undefined;
        const json = opts.body !== undefined && !stream ? Buffer.from(JSON.stringify(opts.body)) : undefined;
        return new Promise((resolve, reject) => {
            const req = http.request(
                {
                    socketPath: this.socketPath,
                    method,
                    path: `${API}${path}${queryString(opts.query)}`,
                    headers: stream
                        ? { "Content-Type": "application/x-tar" }
                        : json
                          ? { "Content-Type": "application/json", "Content-Length": json.length }
                          : {},
                    timeout: opts.timeoutMs ?? 120_000,
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
                    res.on("error", reject);
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer from the engine in ${opts.timeoutMs ?? 120_000} ms`)));
            req.on("error", reject);
            if (stream) stream.pipe(req);
            else req.end(json);
        });
    }

    /** A request whose answer must be a success; returns the parsed JSON (or undefined when empty). */
    async call<T = any>(method: string, path: string, opts: { query?: Query; body?: unknown; timeoutMs?: number; accept?: number[] } = {}): Promise<T> {
        const res = await this.request(method, path, opts);
        const text = res.body.toString("utf8");
        if (res.status >= 400 && !(opts.accept ?? []).includes(res.status)) {
            let message = text;
            try {
                message = JSON.parse(text).message ?? text;
            } catch {
                // not JSON: keep the text
            }
            throw new EngineError(res.status, `${method} ${path}`, message.trim());
        }
        if (!text) return undefined as T;
        return (res.headers["content-type"] ?? "").includes("json") ? JSON.parse(text) : (text as T);
    }

    /**
     * Runs a command in a running container (`docker exec`) and returns its exit code and output.
     * The command's environment is the container's: secrets stay in their files.
     */
    async exec(containerId: string, command: string[]): Promise<{ exitCode: number; output: string }> {
        const { Id } = await this.call("POST", `/containers/${containerId}/exec`, { body: { Cmd: command, AttachStdout: true, AttachStderr: true } });
        const res = await this.request("POST", `/exec/${Id}/start`, { body: { Detach: false, Tty: false }, timeoutMs: 60_000 });
        const { ExitCode } = await this.call("GET", `/exec/${Id}/json`);
        return { exitCode: ExitCode, output: demultiplexLogs(res.body) };
    }

    /** Runs a one-off container to its end (bounded), with named volumes mounted read-only; returns its exit code and output, removes it. */
    async runOnce(opts: { image: string; command: string[]; network?: string; volumes?: Record<string, string>; timeoutMs?: number }): Promise<{ exitCode: number; output: string }> {
        const binds = Object.entries(opts.volumes ?? {}).map(([volume, target]) => `${volume}:${target}:ro`);
        const { Id } = await this.call("POST", "/containers/create", {
            body: { Image: opts.image, Cmd: opts.command, HostConfig: { NetworkMode: opts.network, Memory: 64 * 1024 * 1024, Binds: binds } },
        });
        try {
            await this.call("POST", `/containers/${Id}/start`);
            const { StatusCode } = await this.call("POST", `/containers/${Id}/wait`, { timeoutMs: opts.timeoutMs ?? 60_000 });
            const logs = await this.request("GET", `/containers/${Id}/logs`, { query: { stdout: true, stderr: true } });
            return { exitCode: StatusCode, output: demultiplexLogs(logs.body) };
        } finally {
            await this.call("DELETE", `/containers/${Id}`, { query: { force: true } }).catch(() => undefined);
        }
    }

    /** Whether the engine answers at all. */
    async ping(): Promise<boolean> {
        try {
            return (await this.request("GET", "/_ping", { timeoutMs: 2_000 })).status === 200;
        } catch {
            return false;
        }
    }
}

/**
 * The stdout and stderr of a container without a TTY come multiplexed: frames of an 8-byte header
 * (stream, 0, 0, 0, big-endian length) and the payload. Returns both streams joined, in order.
 */
export function demultiplexLogs(raw: Buffer): string {
    const parts: Buffer[] = [];
    let at = 0;
    while (at + 8 <= raw.length) {
        const length = raw.readUInt32BE(at + 4);
        parts.push(raw.subarray(at + 8, at + 8 + length));
        at += 8 + length;
    }
    return Buffer.concat(parts).toString("utf8");
}

/** The service's tasks, as the engine lists them. */
export async function tasksOf(engine: Engine, serviceId: string): Promise<any[]> {
    return engine.call("GET", "/tasks", { query: { filters: { service: [serviceId] } } });
}

/** Running tasks / desired replicas, as `docker service ls` shows them. */
export async function convergence(engine: Engine, serviceId: string): Promise<{ running: number; desired: number }> {
    const service = await engine.call("GET", `/services/${serviceId}`);
    const tasks = await tasksOf(engine, serviceId);
    const running = tasks.filter((t) => t.DesiredState === "running" && t.Status.State === "running").length;
    return { running, desired: service.Spec.Mode.Replicated?.Replicas ?? 1 };
}

/** When a task last changed state, in ms (the engine gives nanoseconds, which Date.parse may not take). */
export const taskTime = (task: any): number => Date.parse(task.Status.Timestamp.replace(/(\.\d{3})\d*/, "$1"));

/** Polls `check` every 200 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function eventually(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

/** Every service on the engine has all its tasks running. */
export async function waitForAllServices(engine: Engine, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const services: any[] = await engine.call("GET", "/services");
        const states = await Promise.all(services.map(async (s) => ({ n: s.Spec.Name, ...(await convergence(engine, s.ID)) })));
        if (states.every((s) => s.running === s.desired)) return;
        if (Date.now() > deadline) throw new Error(`services did not converge: ${states.map((s) => `${s.n} ${s.running}/${s.desired}`).join(", ")}`);
        await new Promise((r) => setTimeout(r, 1_000));
    }
}

export interface RunningTask {
    id: string;
    /** The Swarm node it runs on. */
    node: string;
    container: string;
    /** The container's host name: what the Grafana stand-in reports as its task. */
    hostname: string;
    image: string;
    health: string;
}

/**
 * The running tasks of a service, with their containers. A container is inspected on the engine of
 * the task's node: `engineOf` names it in a swarm of several nodes (default: the one engine).
 */
export async function runningTasks(engine: Engine, service: string, engineOf: (nodeId: string) => Engine = () => engine): Promise<RunningTask[]> {
    const tasks = (await tasksOf(engine, service)).filter((t) => t.DesiredState === "running" && t.Status.State === "running");
    return Promise.all(
        tasks.map(async (t) => {
            const container = await engineOf(t.NodeID).call("GET", `/containers/${t.Status.ContainerStatus.ContainerID}/json`);
            return {
                id: t.ID,
                node: t.NodeID,
                container: container.Id,
                hostname: container.Config.Hostname,
                image: t.Spec.ContainerSpec.Image,
                health: container.State.Health?.Status ?? "none",
            };
        }),
    );
}

/** Waits until the service's rolling update has completed; fails at once if it paused or rolled back. */
export async function updateCompleted(engine: Engine, service: string, timeoutMs: number): Promise<void> {
    await eventually(`${service}'s update completes`, timeoutMs, async () => {
        const status = (await engine.call("GET", `/services/${service}`)).UpdateStatus;
        if (status && status.State !== "updating" && status.State !== "completed") throw new Error(`${service}: update ${status.State}: ${status.Message}`);
        return status?.State === "completed";
    });
}

/** Updates a service's spec as `docker service update` does: `change` gets the current spec, at its version. */
async function updateService(engine: Engine, service: string, change: (spec: any) => any): Promise<void> {
    const current = await engine.call("GET", `/services/${service}`);
    await engine.call("POST", `/services/${current.ID}/update`, { query: { version: current.Version.Index }, body: change(current.Spec) });
}

/** Restarts every task of a service through a rolling update, as `docker service update --force` does. */
export function forceUpdate(engine: Engine, service: string): Promise<void> {
    return updateService(engine, service, (spec) => ({ ...spec, TaskTemplate: { ...spec.TaskTemplate, ForceUpdate: (spec.TaskTemplate.ForceUpdate ?? 0) + 1 } }));
}

/** Sets a service's replica count through the engine, as an operator's `docker service scale` would. */
export function scale(engine: Engine, service: string, replicas: number): Promise<void> {
    return updateService(engine, service, (spec) => ({ ...spec, Mode: { Replicated: { Replicas: replicas } } }));
}
