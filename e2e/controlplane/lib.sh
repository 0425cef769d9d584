# Shared helpers for the control-plane scripts. Sourced, not executed.

CONTROLPLANE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$CONTROLPLANE_DIR/versions.env"

export GOTOOLCHAIN=local
CACHE_ROOT=${MODELDEPLOY_CACHE:-$HOME/.cache/modeldeploy}

log() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[controlplane] error: %s\n' "$*" >&2; exit 1; }

# The cache key covers every input of the build, so a version bump or a new Go toolchain rebuilds.
binaries_key() {
  cat "$CONTROLPLANE_DIR/versions.env" \
      "$CONTROLPLANE_DIR"/go/*/go.mod "$CONTROLPLANE_DIR"/go/*/go.sum \
      "$CONTROLPLANE_DIR/build.sh" \
    | { cat; go version; uname -m; } | sha256sum | cut -c1-16
}

binaries_dir() { echo "$CACHE_ROOT/bin/$(binaries_key)"; }
