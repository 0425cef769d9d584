#!/usr/bin/env bash
# `make demo`: a local Kubernetes control plane, the operator, a model coming up, and a new model
# version rolled out. Leaves everything running until Ctrl-C (or exits when DEMO_EXIT=1).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/.run/demo
NS=models
cd "$REPO"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

cleanup() {
  [ -n "${OPERATOR_PID:-}" ] && kill "$OPERATOR_PID" 2>/dev/null && wait "$OPERATOR_PID" 2>/dev/null
  e2e/controlplane/down.sh "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Building the operator and the kubectl plugin"
cargo build --locked -p modeldeploy-operator -p modeldeploy-cli
export PATH=$REPO/target/debug:$PATH

say "Starting a local control plane (the first run builds Kubernetes from source: 20-30 minutes)"
e2e/controlplane/up.sh --owner $$ "$RUN"
# shellcheck source=/dev/null
. "$RUN/env"

say "Installing the ModelDeployment CRD"
kubectl apply --server-side -f crds/modeldeploy.io_modeldeployments.yaml
kubectl wait --for=condition=Established crd/modeldeployments.modeldeploy.io --timeout=60s

say "Starting modeldeploy-operator (logs: $RUN/operator.log)"
target/debug/modeldeploy-operator --kubeconfig "$KUBECONFIG" --http-address 127.0.0.1:0 \
  --leader-election-namespace default > "$RUN/operator.log" 2>&1 &
OPERATOR_PID=$!

say "Deploying the iris model (config/samples/iris-sklearn.yaml)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$NS" -f config/samples/iris-sklearn.yaml
kubectl wait -n "$NS" --for=condition=Ready mdep/iris --timeout=180s
kubectl get -n "$NS" mdep,deployments,services,pods -l modeldeploy.io/deployment=iris
kubectl get -n "$NS" mdep iris

old=$(kubectl get -n "$NS" mdep iris -o jsonpath='{.status.stableRevision}')
say "Rolling out model version 1.1.0 as a canary: 25 %, a 10 s pause, 50 %, then a pause until promoted"
kubectl patch -n "$NS" mdep iris --type merge -p '{"spec":{"model":{"version":"1.1.0","storageUri":"s3://models/iris/1.1.0"},"strategy":{"canary":{"steps":[{"setWeight":25},{"pause":{"duration":"10s"}},{"setWeight":50},{"pause":{}}]}}}}'
# Prints the plugin's status each time the step or the phase changes, until `until` holds.
follow() {
  local until=$1 last="" deadline=$((SECONDS + 180)) now
  while :; do
    now=$(kubectl get -n "$NS" mdep iris -o jsonpath='{.status.phase} {.status.rollout.step} {.status.trafficSummary}')
    if [ "$now" != "$last" ]; then
      echo; kubectl modeldeploy status -n "$NS" iris | sed -n '1,/^Conditions/p' | sed '$d'
      last=$now
    fi
    eval "$until" && return 0
    [ $SECONDS -lt $deadline ] || { echo "the rollout did not get there in time; see $RUN/operator.log" >&2; exit 1; }
    sleep 1
  done
}
follow '[ "$(kubectl get -n "$NS" mdep iris -o jsonpath="{.status.rollout.pause.reason}")" = Indefinite ]'
say "The canary waits for a person: kubectl modeldeploy promote iris"
kubectl modeldeploy promote -n "$NS" iris
follow '[ "$(kubectl get -n "$NS" mdep iris -o jsonpath="{.status.phase}")" = Healthy ] && [ "$(kubectl get -n "$NS" mdep iris -o jsonpath="{.status.stableRevision}")" != "$old" ]'
kubectl wait -n "$NS" --for=condition=Ready mdep/iris --timeout=60s
kubectl get -n "$NS" mdep iris
say "The old revision $old drains for scaleDownDelaySeconds (30s), then its Deployment is removed"
kubectl wait -n "$NS" --for=delete "deployment/iris-$old" --timeout=120s
kubectl get -n "$NS" mdep,deployments,services -l modeldeploy.io/deployment=iris
kubectl events -n "$NS" --for modeldeployment/iris

if [ "${DEMO_EXIT:-0}" = 1 ]; then
  say "Demo complete"
  exit 0
fi
say "Everything keeps running. In another terminal:"
echo "    export KUBECONFIG=$KUBECONFIG PATH=$REPO/target/debug:$MODELDEPLOY_BIN:\$PATH"
echo "    kubectl get mdep -n $NS"
echo "    kubectl modeldeploy status -n $NS iris --watch"
echo "Press Ctrl-C to stop the operator and the control plane."
wait "$OPERATOR_PID"
