#!/usr/bin/env bash
# Provides the real Pulumi engine PUG runs on: the `pulumi` CLI, its Node.js language host and the
# docker resource provider. Prints ONE line on stdout: the directory to put first on PATH.
#
# - Where `pulumi`, `pulumi-language-nodejs` and the docker, mysql and random plugins are already
#   installed (a laptop, a CI runner set up by pulumi/actions), it uses them and builds nothing.
# - Else it builds them from Go modules (versions.env says which, and why) into a cache keyed by
#   everything that goes into the build, so a second run takes well under a second:
#   ${PUG_ENGINE_CACHE:-~/.cache/pug-engine}/bin-<key>/ (Go's module and build caches beside it).
#   PUG_ENGINE=build forces this even where an engine is installed.
#
# The mysql and random providers cannot be built here (the Go module proxy refuses their modules
# and those of the Terraform providers they bridge): see README, "The real engine".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/engine/versions.env
source "$here/versions.env"
log() { echo "pug-engine: $*" >&2; }

has_plugin() { # an ambient pulumi-resource-NAME on PATH, or NAME in the plugin cache
  command -v "pulumi-resource-$1" >/dev/null 2>&1 && return 0
  pulumi plugin ls --json 2>/dev/null | grep -q "\"name\": *\"$1\""
}

if [[ ${PUG_ENGINE:-auto} != build ]] && command -v pulumi >/dev/null 2>&1 \
  && command -v pulumi-language-nodejs >/dev/null 2>&1 \
  && has_plugin docker && has_plugin mysql && has_plugin random; then
  log "using the installed engine: $(command -v pulumi) ($(pulumi version))"
  dirname "$(command -v pulumi)"
  exit 0
fi

command -v go >/dev/null 2>&1 || { log "building the engine needs Go (1.25 or newer) on PATH"; exit 1; }

cache=${PUG_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pug-engine}
key=$( (go version; cd "$here" && find . -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
bin="$cache/bin-$key"
if [[ -x $bin/pulumi && -x $bin/pulumi-language-nodejs && -x $bin/inner/pulumi-language-nodejs && -x $bin/pulumi-resource-docker ]]; then
  echo "$bin"
  exit 0
fi

export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-mod=mod CGO_ENABLED=0
export GOTOOLCHAIN=local GOPROXY=${GOPROXY:-https://proxy.golang.org}
# a new machine has no cache folder yet (nor, maybe, ~/.cache): mktemp does not make parents
mkdir -p "$cache"
work=$(mktemp -d "$cache/build-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$here/." "$work/"
out="$work/bin"
mkdir -p "$out"
started=$SECONDS
stamp() { echo "-X $1=$2"; }

log "building pulumi $PULUMI_VERSION (cold: ~10 min and ~1.5 GB of modules; cached afterwards)"
(cd "$work/cli" && go build -trimpath -tags osusergo,grpcnotrace \
  -ldflags "$(stamp github.com/pulumi/pulumi/sdk/v3/go/common/version.Version "$PULUMI_VERSION")" \
  -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)

log "building pulumi-language-nodejs (sdk $NODEJS_HOST_SDK_VERSION, behind PUG's RunPlugin front)"
# the real host in inner/, off PATH; the front (nodejs-runplugin/main.go) starts it and forwards to it
(cd "$work/nodejs-host" && go build -trimpath -tags osusergo,grpcnotrace \
  -ldflags "$(stamp github.com/pulumi/pulumi/sdk/v3/go/common/version.Version "$NODEJS_HOST_SDK_VERSION")" \
  -o "$out/inner/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs)
(cd "$work/nodejs-runplugin" && go build -trimpath -tags osusergo,grpcnotrace -o "$out/pulumi-language-nodejs" .)

log "building pulumi-resource-docker (terraform-provider-docker $DOCKER_TF_PROVIDER_VERSION, bridge $TF_BRIDGE_VERSION)"
module_copy() { # MODULE@VERSION DIR: a writable copy of a module from the module cache
  local dir
  dir=$(cd "$work/docker" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir ]] || { log "the Go module proxy did not give $1"; exit 1; }
  cp -r "$dir" "$2"
  chmod -R u+w "$2"
}
module_copy "github.com/kreuzwerker/terraform-provider-docker@$DOCKER_TF_PROVIDER_VERSION" "$work/docker/upstream"
mkdir -p "$work/docker/upstream/shim"
cp "$work/docker/_upstream-shim/shim.go" "$work/docker/upstream/shim/"
module_copy "github.com/pulumi/terraform-plugin-sdk/v2@$TF_SDK_FORK_VERSION" "$work/docker/sdkv2"
cp "$work/docker/_sdkv2-patch/"*.go "$work/docker/sdkv2/helper/schema/"
version_flag=$(stamp pug/engine/docker/provider.Version "$DOCKER_PROVIDER_VERSION")
(cd "$work/docker" \
  && go build -trimpath -tags no_compose -ldflags "$version_flag" -o "$work/pulumi-tfgen-docker" ./cmd/pulumi-tfgen-docker \
  && "$work/pulumi-tfgen-docker" schema --skip-docs --out "$work/schema" >&2 \
  && cp "$work/schema/schema.json" cmd/pulumi-resource-docker/schema.json \
  && go build -trimpath -tags no_compose -ldflags "$version_flag" -o "$out/pulumi-resource-docker" ./cmd/pulumi-resource-docker)
cp "$work/schema/schema.json" "$out/docker-schema.json"

mkdir -p "$cache"
rm -rf "$bin"
mv "$out" "$bin"
log "built in $((SECONDS - started)) s: $bin"
echo "$bin"
