/**
 * Memory of processes, read from /proc: RSS (resident pages, shared ones counted in every process
 * that maps them) and PSS (shared pages split between the processes sharing them, so a sum over
 * nginx's master and workers counts the config they share once).
 */
import { readdirSync, readFileSync } from "fs";

/** A `Name:   123 kB` field of /proc/<pid>/status or smaps_rollup, in KiB. */
export function procField(text: string, name: string): number {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`no ${name} field`);
    return Number(m[1]);
}

/** The summed RSS of these processes, KiB. */
export function rssKiB(pids: number[]): number {
    return pids.reduce((sum, pid) => sum + procField(readFileSync(`/proc/${pid}/status`, "utf8"), "VmRSS"), 0);
}

/** The summed PSS of these processes, KiB. */
export function pssKiB(pids: number[]): number {
    return pids.reduce((sum, pid) => sum + procField(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Pss"), 0);
}

/** The pid of a /proc/<pid>/stat line's parent: the 2nd field after the command, which may hold spaces and parentheses. */
export function parentPid(statLine: string): number {
    return Number(statLine.slice(statLine.lastIndexOf(")") + 2).split(" ")[1]);
}

/** `root` and every process below it, from each process's parent. */
export function processTree(root: number, parentOf: ReadonlyMap<number, number>): number[] {
    const children = new Map<number, number[]>();
    for (const [pid, parent] of parentOf) children.set(parent, [...(children.get(parent) ?? []), pid]);
    const tree: number[] = [];
    for (let queue = [root]; queue.length; ) {
        const pid = queue.pop()!;
        tree.push(pid);
        queue = queue.concat(children.get(pid) ?? []);
    }
    return tree;
}

/** A figure read from a process that may end meanwhile: 0 once it is gone. */
function whileAlive(read: () => number): number {
    try {
        return read();
    } catch {
        return 0;
    }
}

/**
 * Samples the summed RSS of `root` and its descendants every `everyMs` (for `pulumi`: the CLI,
 * the language host, the program and the provider plugins) until stopped; `stop()` gives the
 * peak, KiB. A process born and gone between two samples is missed.
 */
export function sampleTreeRss(root: number, everyMs = 200): { stop(): number } {
    let peak = 0;
    const sample = () => {
        const parentOf = new Map<number, number>();
        for (const entry of readdirSync("/proc")) {
            if (!/^\d+$/.test(entry)) continue;
            const pid = Number(entry);
            const parent = whileAlive(() => parentPid(readFileSync(`/proc/${pid}/stat`, "utf8")));
            if (parent) parentOf.set(pid, parent);
        }
        peak = Math.max(peak, processTree(root, parentOf).reduce((sum, pid) => sum + whileAlive(() => rssKiB([pid])), 0));
    };
    sample();
    const timer = setInterval(sample, everyMs);
    return {
        stop() {
            clearInterval(timer);
            return peak;
        },
    };
}
