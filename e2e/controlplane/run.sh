#!/usr/bin/env bash
# Runs a command against a fresh local control plane and stops the control plane afterwards,
# whatever way the command ends: e2e/controlplane/run.sh -- cargo test -p modeldeploy-e2e
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=${CONTROLPLANE_RUN:-$(cd "$DIR/../.." && pwd)/.run/controlplane}
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 -- COMMAND..." >&2; exit 2; }
trap '"$DIR/down.sh" "$RUN"' EXIT
trap 'exit 130' INT TERM
"$DIR/up.sh" --owner $$ "$RUN"
# shellcheck source=/dev/null
. "$RUN/env"
# Test threads deserialize ModelDeployments, whose generated code nests one large frame per level
# of the spec: in a debug build more than the 2 MiB a test thread gets by default.
export RUST_MIN_STACK=${RUST_MIN_STACK:-16777216}
"$@"
