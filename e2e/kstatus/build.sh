#!/usr/bin/env bash
# Builds the kstatus probe (sigs.k8s.io/cli-utils) once per version of its sources and the Go
# toolchain, and prints the binary's path.
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export GOTOOLCHAIN=local
CACHE_ROOT=${MODELDEPLOY_CACHE:-$HOME/.cache/modeldeploy}
key=$(cat "$DIR/go.mod" "$DIR/go.sum" "$DIR/main.go" "$DIR/build.sh" | { cat; go version; } | sha256sum | cut -c1-16)
out="$CACHE_ROOT/kstatus/$key/kstatus"
if [ ! -x "$out" ]; then
  mkdir -p "$(dirname "$out")"
  (cd "$DIR" && CGO_ENABLED=0 go build -trimpath -o "$out.tmp.$$" .) >&2
  mv "$out.tmp.$$" "$out"
fi
echo "$out"
