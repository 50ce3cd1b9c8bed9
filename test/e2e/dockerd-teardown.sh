#!/bin/sh
# Stops the Docker engine an end-to-end run (or one host of test/harness/realDockerHosts.ts)
# started and removes what it left on the host: the swarm (and with it every service and task),
# the engine and its containerd, mounts under the run's directory, the run's bridge, the engine's
# network namespace (named in RUN_DIR/netns), the directory. Run by the test when it finishes, and
# by the run's watchdog when the test process disappears without doing it. Touches nothing but the
# run's own directory, processes, bridge and namespace.
#   dockerd-teardown.sh RUN_DIR BRIDGE_NAME
set -u
dir=$1
bridge=$2
case "$dir" in /tmp/pug-e2e-run-* | /tmp/pug-sn-*) ;; *) echo "refusing to tear down $dir: not an e2e run directory" >&2; exit 2 ;; esac

api() { # method path: a request to the run's engine, bounded
    curl -fsS --max-time 60 --unix-socket "$dir/docker.sock" -X "$1" "http://engine/v1.41$2" >/dev/null 2>&1
}

running() { # pid: alive and not a zombie (the test process reaps its children only when idle)
    [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]
}

stop_pid() { # pid: TERM, up to 30 s, then KILL
    pid=$1
    running "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 60); do running "$pid" || return 0; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null
}

if [ -S "$dir/docker.sock" ]; then
    # The only manager leaving removes every service; then the gateway bridge network can go.
    api POST "/swarm/leave?force=1"
    for _ in $(seq 20); do api DELETE /networks/docker_gwbridge && break; sleep 0.5; done
fi
[ -f "$dir/dockerd.pid" ] && stop_pid "$(cat "$dir/dockerd.pid")"
# A killed dockerd leaves its containerd and the containers' shims: they carry the run's unique
# containerd namespace on their command line.
[ -f "$dir/exec/containerd/containerd.pid" ] && stop_pid "$(cat "$dir/exec/containerd/containerd.pid")"
namespace=$(cat "$dir/namespace" 2>/dev/null)
if [ -n "$namespace" ]; then
    for proc in /proc/[0-9]*; do
        if { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -q -- "-namespace $namespace "; then stop_pid "${proc#/proc/}"; fi
    done
fi
# Network namespaces and overlay mounts the engine did not unmount, deepest first.
awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
ip link show "$bridge" >/dev/null 2>&1 && ip link delete "$bridge"
[ -f "$dir/netns" ] && ip netns delete "$(cat "$dir/netns")" 2>/dev/null
rm -rf "$dir"
exit 0
