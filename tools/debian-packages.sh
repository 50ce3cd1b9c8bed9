# shellcheck shell=bash
# Sourced by tools/test.sh and tools/bench.sh: `ensure_debian_packages "programs" "packages"`
# installs the Debian packages when one of the programs is missing (as root with apt-get), or
# says what is missing (what needs it is then skipped).
ensure_debian_packages() {
  local -a programs packages missing=()
  read -ra programs <<<"$1"
  read -ra packages <<<"$2"
  local program
  for program in "${programs[@]}"; do command -v "$program" >/dev/null 2>&1 || missing+=("$program"); done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages (missing: ${missing[*]})" >&2
    # The tests and benchmarks start their own servers: apt must not start the ones it installs as
    # system services. A policy-rc.d answering 101 ("action forbidden") says so; one put here goes again.
    local policy=/usr/sbin/policy-rc.d placed=false
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && placed=true
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    if $placed; then rm -f "$policy"; fi
  else
    echo "not installed: ${missing[*]} (as root, this script installs them with apt-get);" \
      "what needs them is skipped" >&2
  fi
}
