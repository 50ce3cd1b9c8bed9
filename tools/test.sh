#!/usr/bin/env bash
# `npm test`: every test, on a fresh machine as on a developer's. Installs what the tests need
# first (as root: Debian's packages for the real parts the tests start; the npm packages; the
# Pulumi engine, built once into a cache), then type-checks and runs:
#   1. the unit and real-part tests (vitest: mocks, real nginx, Redis, dnsmasq, promtool, dockerd);
#   2. the end-to-end test: the dev stack through the real Pulumi engine on a real Swarm;
#   3. the fault drills: the same on a three-node Swarm, with nodes, Redis, MySQL, the proxy and
#      `pulumi up` failing.
# `npm test -- --unit` stops after 1 (no root needed, no engine built).
set -euo pipefail
cd "$(dirname "$0")/.."

unit_only=false
[[ ${1:-} == --unit ]] && unit_only=true

# Real parts the tests start themselves: Redis (Live's HA engine), nginx and dnsmasq (the front
# proxy in a network namespace), iproute2 (ip netns), procps (ps), Docker engines (the Swarm scripts
# and the e2e), promtool and the nginx exporter (monitoring), shellcheck (the image's RUN scripts),
# mmdebstrap and curl (the e2e's images).
packages=(redis-server nginx dnsmasq-base iproute2 procps docker.io prometheus prometheus-nginx-exporter
  shellcheck mmdebstrap curl ca-certificates)
programs=(redis-server nginx dnsmasq ip ps dockerd promtool prometheus-nginx-exporter shellcheck mmdebstrap curl)
# shellcheck source=tools/debian-packages.sh
source tools/debian-packages.sh
ensure_debian_packages "${programs[*]}" "${packages[*]}"

# shellcheck source=tools/node-modules.sh
source tools/node-modules.sh

npx tsc --noEmit
npx vitest run
$unit_only && exit 0

# The engine first, outside the e2e's own time limit: cold, it builds for ~20 minutes.
bash tools/engine/ensure.sh >/dev/null
npm run test:e2e
npm run test:drills
