#!/usr/bin/env bash
# `npm run deploy:dev`: the dev stack on this machine's Docker Swarm (tools/deployDev.ts says what
# it installs and starts on the way).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/node-modules.sh
source tools/node-modules.sh
exec node --import tsx tools/deployDev.ts
