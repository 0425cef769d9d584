#!/usr/bin/env bash
# Builds the local control plane from Go modules: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok and helm. Binaries are cached by the hash of their inputs;
# a second run with the same inputs returns at once. Prints the binary directory on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "go is not installed; the control plane is built from Go modules"
BIN=$(binaries_dir)
if [ -f "$BIN/.complete" ]; then echo "$BIN"; exit 0; fi

mkdir -p "$CACHE_ROOT/bin"
exec 9>"$CACHE_ROOT/bin/.lock"
log "waiting for the build lock"; flock 9
if [ -f "$BIN/.complete" ]; then echo "$BIN"; exit 0; fi

need_kb=$((8 * 1024 * 1024))
free_kb=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
[ "$free_kb" -ge "$need_kb" ] || die "building the control plane needs about 8 GiB free under $CACHE_ROOT; only $((free_kb / 1024)) MiB is free"

TMP="$BIN.tmp.$$"
rm -rf "$TMP"; mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
export CGO_ENABLED=0 GOFLAGS=-trimpath

minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
ld="-s -w"
for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=2000-01-01T00:00:00Z"
done

started=$SECONDS
log "building Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); cold builds take 20-30 minutes"
(cd "$CONTROLPLANE_DIR/go/kubernetes" && go build -ldflags "$ld" -o "$TMP/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl) \
  || die "go build of Kubernetes $KUBERNETES_VERSION failed (see the output above)"
log "Kubernetes built in $((SECONDS - started))s"

t=$SECONDS
log "building etcd"
(cd "$CONTROLPLANE_DIR/go/etcd" && go build -ldflags "-s -w" -o "$TMP/etcd" go.etcd.io/etcd/server/v3) \
  || die "go build of etcd failed"
log "etcd built in $((SECONDS - t))s"

t=$SECONDS
log "building kwok $KWOK_VERSION"
GOBIN="$TMP" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "go install of kwok failed"
log "kwok built in $((SECONDS - t))s"

t=$SECONDS
log "building helm $HELM_VERSION"
GOBIN="$TMP" go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" || die "go install of helm failed"
log "helm built in $((SECONDS - t))s"

"$TMP/kube-apiserver" --version | grep -q "$KUBERNETES_VERSION" || die "kube-apiserver does not report $KUBERNETES_VERSION"
touch "$TMP/.complete"
rm -rf "$BIN"; mv "$TMP" "$BIN"
trap - EXIT
log "control plane binaries ready in $BIN ($((SECONDS - started))s)"
echo "$BIN"
