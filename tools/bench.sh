#!/usr/bin/env bash
# `npm run bench [names]`: installs what the benchmarks start (as root: Debian's nginx, dnsmasq and
# iproute2 for the proxy namespace, HAProxy and Caddy for the proxy's peers), then runs bench/run.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/debian-packages.sh
source tools/debian-packages.sh
ensure_debian_packages "nginx dnsmasq ip haproxy caddy" "nginx dnsmasq-base iproute2 haproxy caddy"
exec node --import tsx bench/run.ts "$@"
