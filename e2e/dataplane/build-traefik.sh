#!/usr/bin/env bash
# Builds Traefik (the Gateway API data plane of the e2e tests) from its Go module, pinned in
# go/traefik/go.mod. The binary is cached by the hash of its inputs; a second run with the same
# inputs returns at once. Prints the path of the traefik binary on stdout; logs go to stderr.
set -euo pipefail
DATAPLANE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$DATAPLANE_DIR/../controlplane/lib.sh"
# shellcheck source=versions.env
. "$DATAPLANE_DIR/versions.env"

command -v go >/dev/null || die "go is not installed; Traefik is built from its Go module"
MOD_DIR=$DATAPLANE_DIR/go/traefik
grep -q "github.com/traefik/traefik/v3 $TRAEFIK_VERSION\b" "$MOD_DIR/go.mod" \
  || die "versions.env says Traefik $TRAEFIK_VERSION but $MOD_DIR/go.mod requires another version"

# The key covers every input of the build, so a version bump or a new Go toolchain rebuilds.
key=$(cat "$DATAPLANE_DIR/versions.env" "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" "${BASH_SOURCE[0]}" \
  | { cat; go version; uname -m; } | sha256sum | cut -c1-16)
DIR=$CACHE_ROOT/bin/traefik-$TRAEFIK_VERSION-$key
if [ -f "$DIR/.complete" ]; then echo "$DIR/traefik"; exit 0; fi

mkdir -p "$CACHE_ROOT/bin"
# A lock of its own, so that a Traefik build does not hold up a control plane start.
exec 9>"$CACHE_ROOT/bin/.lock-traefik"
log "waiting for the Traefik build lock"; flock 9
if [ -f "$DIR/.complete" ]; then echo "$DIR/traefik"; exit 0; fi

need_kb=$((3 * 1024 * 1024))
free_kb=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
[ "$free_kb" -ge "$need_kb" ] || die "building Traefik needs about 3 GiB free under $CACHE_ROOT; only $((free_kb / 1024)) MiB is free"

TMP="$DIR.tmp.$$"
rm -rf "$TMP"; mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

started=$SECONDS
log "building Traefik $TRAEFIK_VERSION; cold builds take about 5 minutes"
# The version is set the way Traefik's release build sets it; without it the binary reports "dev".
(cd "$MOD_DIR" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
  -o "$TMP/traefik" github.com/traefik/traefik/v3/cmd/traefik) \
  || die "go build of Traefik $TRAEFIK_VERSION failed (see the output above)"
log "Traefik built in $((SECONDS - started))s"

# Captured first: with pipefail, grep -q closing the pipe early would fail the check.
reported=$("$TMP/traefik" version) || die "traefik version failed"
grep -q "Version: *$TRAEFIK_VERSION\$" <<<"$reported" || die "traefik does not report $TRAEFIK_VERSION: $reported"
touch "$TMP/.complete"
rm -rf "$DIR"; mv "$TMP" "$DIR"
trap - EXIT
log "Traefik ready in $DIR"
echo "$DIR/traefik"
