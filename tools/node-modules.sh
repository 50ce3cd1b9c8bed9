# shellcheck shell=bash
# Sourced by the npm scripts that must work on a fresh clone: `npm ci` when node_modules is
# missing or older than the lock file.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
