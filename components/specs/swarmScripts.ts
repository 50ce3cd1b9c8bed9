/**
 * The shell scripts that turn bare Docker hosts into PUG's Swarm, built from plain data so that
 * tests can run them (against a fake `docker` on PATH) without a cluster.
 *
 * Every script is POSIX sh, checks the state before it changes anything, and writes its progress
 * to stderr: stdout carries only the value the component reads back (a node id, the join tokens).
 * Running a script a second time against a node already as declared calls no command that
 * changes the node.
 *
 * Deletes and replacements: a remote command is *replaced* (create the new one, then run the old
 * one's delete) when its SSH connection changes — a rotated key, another first manager. A replaced
 * command must not drain or remove its node. So each node carries a claim (a random id that
 * changes with the connections): the create scripts write it on the node (a file there, and a
 * node label in the Swarm), and the delete scripts act only while the node still carries their
 * own claim. A newer declaration has overwritten it when the delete belongs to a replacement.
 */

/** The Docker engine's Prometheus endpoint on a node, set in daemon.json. */
export interface EngineMetricsSpec {
    /** `metrics-addr` of the daemon, host:port. */
    address: string;
    /** The daemon configuration file. */
    daemonConfigPath: string;
    /** The command that restarts the Docker engine after daemon.json changed (run with sudo when not root). */
    restartCommand: string;
}

/** Where the node-side claim is kept. */
export const DEFAULT_CLAIM_FILE = "/var/lib/pug/swarm-claim";
/** Node labels PUG itself sets; user labels may not use the prefix. */
export const PUG_LABEL_PREFIX = "pug.";
export const HOST_LABEL = "pug.host";
export const CLAIM_LABEL = "pug.claim";
/** Lists the user label keys PUG set, so a label dropped from the declaration is removed, and a label set by hand is not. */
export const MANAGED_LABELS_LABEL = "pug.managed-labels";

/** Quotes a value for POSIX sh: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

const PRELUDE = [
    "set -eu",
    // Files under /etc and /var/lib and the engine restart need root; docker itself only the docker group.
    `if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo -n"; fi`,
];

/** Waits, bounded, until `condition` (a shell test) holds; runs `onTimeout` when it never does. */
function waitUntil(condition: string, seconds: number, onTimeout: string): string[] {
    return [
        "waited=0",
        `until ${condition}; do`,
        `  if [ "$waited" -ge ${seconds} ]; then ${onTimeout}; break; fi`,
        "  sleep 1; waited=$((waited + 1))",
        "done",
    ];
}

/**
 * Sets `metrics-addr` in daemon.json, keeping every other setting, and restarts the engine only
 * when the file changed. The merged file is validated by `dockerd --validate` where the engine
 * has it (Docker 23+) before it replaces the old one.
 */
function engineMetricsLines(spec: EngineMetricsSpec): string[] {
    const entry = `"metrics-addr": "${spec.address}"`;
    return [
        `daemon_config=${shellQuote(spec.daemonConfigPath)}`,
        `metrics_addr=${shellQuote(spec.address)}`,
        `compact_config() { tr -d ' \\t\\r\\n' < "$daemon_config"; }`,
        `if [ -f "$daemon_config" ] && compact_config | grep -Fq '"metrics-addr":"'"$metrics_addr"'"'; then`,
        `  echo "pug: engine metrics already on $metrics_addr" >&2`,
        "else",
        "  merged=$(mktemp)",
        `  if [ ! -s "$daemon_config" ] || [ "$(compact_config)" = "{}" ]; then`,
        `    printf '{\\n  %s\\n}\\n' ${shellQuote(entry)} > "$merged"`,
        `  elif compact_config | grep -Fq '"metrics-addr":'; then`,
        `    sed -E 's/"metrics-addr"[[:space:]]*:[[:space:]]*"[^"]*"/'${shellQuote(entry.replace(/[&/\\]/g, "\\$&"))}'/' "$daemon_config" > "$merged"`,
        "  else",
        `    awk -v entry=${shellQuote(`  ${entry},`)} 'done != 1 && sub(/\\{/, "{\\n" entry) { done = 1 } { print }' "$daemon_config" > "$merged"`,
        "  fi",
        "  if command -v dockerd >/dev/null 2>&1 && dockerd --help 2>&1 | grep -q -- '--validate'; then",
        `    $SUDO dockerd --validate --config-file "$merged" >&2 || { echo "pug: the merged $daemon_config is not valid; left unchanged" >&2; rm -f "$merged"; exit 1; }`,
        "  fi",
        `  $SUDO mkdir -p "$(dirname "$daemon_config")"`,
        `  $SUDO cp "$merged" "$daemon_config"`,
        `  $SUDO chmod 0644 "$daemon_config"`,
        `  rm -f "$merged"`,
        `  echo "pug: restarting the Docker engine to serve metrics on $metrics_addr" >&2`,
        `  $SUDO ${spec.restartCommand} >&2`,
        ...waitUntil("docker info >/dev/null 2>&1", 60, `echo "pug: the Docker engine did not come back after the restart" >&2; exit 1`).map((l) => `  ${l}`),
        "fi",
    ];
}

/** Writes the node-side claim, only when it differs. */
function writeClaimLines(claim: string, claimFile: string): string[] {
    return [
        `claim=${shellQuote(claim)}`,
        `claim_file=${shellQuote(claimFile)}`,
        `if [ "$(cat "$claim_file" 2>/dev/null || true)" != "$claim" ]; then`,
        `  $SUDO mkdir -p "$(dirname "$claim_file")"`,
        `  printf '%s\\n' "$claim" | $SUDO tee "$claim_file" >/dev/null`,
        "fi",
    ];
}

/** A node as the member script sees it. */
export interface MemberScriptSpec {
    /** The role the node joins with. A node already in the swarm keeps its role here; the node's settings promote or demote it. */
    role: "manager" | "worker";
    /** Initialise the swarm here when the node is in none (the first manager), instead of joining. */
    bootstrap: boolean;
    /** --advertise-addr (an IP or interface); omitted lets Docker pick the node's only address. */
    advertiseAddress?: string;
    /** host:port of the first manager, joined by every other node. */
    joinAddress: string;
    claim: string;
    claimFile: string;
    metrics: EngineMetricsSpec;
}

/**
 * Runs on the node itself: engine metrics, then `docker swarm init` (first manager) or
 * `docker swarm join` with the token read from stdin (never on the script's text), unless the node
 * is already in a swarm. Prints the node's id.
 */
export function memberScript(spec: MemberScriptSpec): string {
    const advertise = spec.advertiseAddress ? ` --advertise-addr ${shellQuote(spec.advertiseAddress)}` : "";
    const enter = spec.bootstrap
        ? [`  echo "pug: initialising the swarm on this node" >&2`, `  docker swarm init${advertise} >&2`]
        : [
              // The token comes on stdin: it is a secret input of the command, not part of this text.
              `  IFS= read -r token || true`,
              `  if [ -z "$token" ]; then echo "pug: no join token on standard input" >&2; exit 1; fi`,
              `  echo "pug: joining the swarm at ${spec.joinAddress} as a ${spec.role}" >&2`,
              `  docker swarm join --token "$token"${advertise} ${shellQuote(spec.joinAddress)} >&2`,
          ];
    return [
        ...PRELUDE,
        ...engineMetricsLines(spec.metrics),
        `state=$(docker info --format '{{.Swarm.LocalNodeState}}')`,
        `case "$state" in`,
        `active)`,
        `  echo "pug: already in a swarm; not initialised or joined again" >&2 ;;`,
        `inactive)`,
        ...enter,
        `  ;;`,
        `*)`,
        `  echo "pug: the node's swarm state is '$state': resolve it by hand (docker swarm leave, or docker swarm unlock), then run again" >&2`,
        `  exit 1 ;;`,
        `esac`,
        ...writeClaimLines(spec.claim, spec.claimFile),
        `docker info --format '{{.Swarm.NodeID}}'`,
        "",
    ].join("\n");
}

/**
 * Runs on the node when it leaves the declaration (after its settings drained and demoted it):
 * `docker swarm leave`. The last manager leaves with --force, which ends the swarm (the stack's
 * destroy). A manager among others refuses: it must be demoted first.
 */
export function leaveScript(spec: { claim: string; claimFile: string }): string {
    return [
        ...PRELUDE,
        `claim=${shellQuote(spec.claim)}`,
        `claim_file=${shellQuote(spec.claimFile)}`,
        `if [ "$(cat "$claim_file" 2>/dev/null || true)" != "$claim" ]; then`,
        `  echo "pug: a newer declaration claims this node (a replacement, not a removal): it stays in the swarm" >&2`,
        "  exit 0",
        "fi",
        `state=$(docker info --format '{{.Swarm.LocalNodeState}}')`,
        `if [ "$state" = inactive ]; then`,
        `  echo "pug: not in a swarm" >&2`,
        `elif [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then`,
        `  if [ "$(docker info --format '{{.Swarm.Managers}}')" -gt 1 ]; then`,
        `    echo "pug: still a manager among others: demote it first (docker node demote), then run again" >&2`,
        "    exit 1",
        "  fi",
        `  echo "pug: the last manager leaves: the swarm ends" >&2`,
        "  docker swarm leave --force >&2",
        "else",
        "  docker swarm leave >&2",
        "fi",
        `$SUDO rm -f "$claim_file"`,
        "",
    ].join("\n");
}

/** The join tokens, worker then manager, one per line (runs on the first manager). */
export function joinTokensScript(): string {
    return ["set -eu", "docker swarm join-token -q worker", "docker swarm join-token -q manager", ""].join("\n");
}

/** Splits the output of `joinTokensScript`. */
export function parseJoinTokens(stdout: string): { worker: string; manager: string } {
    const [worker, manager] = stdout.trim().split(/\s*\n\s*/);
    if (!worker?.startsWith("SWMTKN-") || !manager?.startsWith("SWMTKN-")) {
        throw new Error("the first manager did not print two join tokens (is it a manager of an active swarm?)");
    }
    return { worker, manager };
}

/** The last line of a member script's output: the node id. */
export function parseNodeId(stdout: string): string {
    const id = stdout.trim().split("\n").pop()?.trim() ?? "";
    if (!/^[a-z0-9]{25}$/.test(id)) throw new Error(`expected a Swarm node id on the last line of the node's output, got "${id}"`);
    return id;
}

/** A node as the manager-side scripts see it. */
export interface NodeSettingsSpec {
    nodeId: string;
    /** The host the node is declared by; labelled on the node to find it after it left. */
    host: string;
    role: "manager" | "worker";
    labels: Record<string, string>;
    claim: string;
}

const nodeInspect = (format: string) => `docker node inspect "$node" --format ${shellQuote(format)}`;
const labelValue = (key: string) => nodeInspect(`{{index .Spec.Labels "${key}"}}`);

/**
 * Runs on the first manager: promotes or demotes the node to its declared role, and sets its
 * labels (the user's, plus pug.host, pug.claim and pug.managed-labels). User labels PUG set earlier
 * and no longer declared are removed; labels set by hand are left alone. Calls `docker node
 * update` only when something differs.
 */
export function nodeSettingsScript(spec: NodeSettingsSpec): string {
    const userKeys = Object.keys(spec.labels).sort();
    const wanted: Record<string, string> = {
        ...spec.labels,
        [HOST_LABEL]: spec.host,
        [CLAIM_LABEL]: spec.claim,
        [MANAGED_LABELS_LABEL]: userKeys.join(","),
    };
    return [
        "set -eu",
        `node=${shellQuote(spec.nodeId)}`,
        `if ! docker node inspect "$node" >/dev/null 2>&1; then`,
        `  echo "pug: node $node (${spec.host}) is not in this swarm; if it is in another one, run docker swarm leave on it" >&2`,
        "  exit 1",
        "fi",
        `role=$(${nodeInspect("{{.Spec.Role}}")})`,
        `if [ "$role" != ${shellQuote(spec.role)} ]; then`,
        `  echo "pug: ${spec.role === "manager" ? "promoting" : "demoting"} ${spec.host} to ${spec.role}" >&2`,
        `  docker node ${spec.role === "manager" ? "promote" : "demote"} "$node" >&2`,
        "fi",
        "set --",
        ...Object.keys(wanted).sort().flatMap((key) => [
            `if [ "$(${labelValue(key)})" != ${shellQuote(wanted[key])} ]; then set -- "$@" --label-add ${shellQuote(`${key}=${wanted[key]}`)}; fi`,
        ]),
        `present=$(${nodeInspect("{{range $k, $v := .Spec.Labels}}{{println $k}}{{end}}")})`,
        `for key in $(${labelValue(MANAGED_LABELS_LABEL)} | tr ',' ' '); do`,
        `  case ${shellQuote(`,${userKeys.join(",")},`)} in *",$key,"*) continue ;; esac`,
        `  if printf '%s\\n' "$present" | grep -Fxq "$key"; then set -- "$@" --label-rm "$key"; fi`,
        "done",
        `if [ "$#" -gt 0 ]; then`,
        `  echo "pug: updating the labels of ${spec.host}" >&2`,
        `  docker node update "$@" "$node" >&2`,
        "else",
        `  echo "pug: ${spec.host} already has its declared role and labels" >&2`,
        "fi",
        "",
    ].join("\n");
}

/**
 * Runs on the first manager when the node leaves the declaration, before the node itself leaves:
 * drain it (its tasks move to other nodes), demote it if it is a manager, and wait (bounded) for
 * its tasks to stop.
 */
export function drainScript(spec: { nodeId: string; host: string; claim: string; drainWaitSeconds: number }): string {
    return [
        "set -eu",
        `node=${shellQuote(spec.nodeId)}`,
        `if ! docker node inspect "$node" >/dev/null 2>&1; then echo "pug: ${spec.host} is no longer in the swarm" >&2; exit 0; fi`,
        `if [ "$(${labelValue(CLAIM_LABEL)})" != ${shellQuote(spec.claim)} ]; then`,
        `  echo "pug: a newer declaration claims ${spec.host} (a replacement, not a removal): not drained" >&2`,
        "  exit 0",
        "fi",
        `if [ "$(${nodeInspect("{{.Spec.Availability}}")})" != drain ]; then`,
        `  echo "pug: draining ${spec.host}" >&2`,
        `  docker node update --availability drain "$node" >&2`,
        "fi",
        `if [ "$(${nodeInspect("{{.Spec.Role}}")})" = manager ]; then`,
        `  if [ "$(docker info --format '{{.Swarm.Managers}}')" -gt 1 ]; then`,
        `    docker node demote "$node" >&2`,
        "  else",
        `    echo "pug: ${spec.host} is the last manager: not demoted (the swarm ends with it)" >&2`,
        "  fi",
        "fi",
        ...waitUntil(
            `[ -z "$(docker node ps "$node" --filter desired-state=running -q)" ]`,
            spec.drainWaitSeconds,
            `echo "pug: tasks still running on ${spec.host} after ${spec.drainWaitSeconds}s; going on" >&2`,
        ),
        "",
    ].join("\n");
}

/**
 * Runs on the first manager after the node left: `docker node rm` once the node shows as down.
 * It never removes a node that is up: a removal that would, waits (bounded) and fails.
 */
export function removeNodeScript(spec: { host: string; claim: string; downWaitSeconds: number }): string {
    return [
        "set -eu",
        `if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then`,
        `  echo "pug: this engine is no longer a manager; remove ${spec.host} from another manager (docker node rm)" >&2`,
        "  exit 0",
        "fi",
        `for node in $(docker node ls -q --filter ${shellQuote(`node.label=${HOST_LABEL}=${spec.host}`)}); do`,
        `  if [ "$(${labelValue(CLAIM_LABEL)})" != ${shellQuote(spec.claim)} ]; then`,
        `    echo "pug: a newer declaration claims ${spec.host}: not removed" >&2`,
        "    continue",
        "  fi",
        ...waitUntil(
            `[ "$(${nodeInspect("{{.Status.State}}")})" = down ]`,
            spec.downWaitSeconds,
            `echo "pug: ${spec.host} is still up after ${spec.downWaitSeconds}s; not removing a node that is up" >&2; exit 1`,
        ).map((l) => `  ${l}`),
        `  echo "pug: removing ${spec.host} from the swarm" >&2`,
        `  docker node rm "$node" >&2`,
        "done",
        "",
    ].join("\n");
}
