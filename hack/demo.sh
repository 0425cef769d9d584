#!/usr/bin/env bash
# `make demo`: a local Kubernetes control plane whose model pods really serve, the operator, the
# demo model (config/samples/demo-model-canary.yaml) answering through the local Gateway, and two
# canaries under steady load, judged by analysis of the servers' real metrics in Prometheus:
# version 1.1.0 is healthy and promoted by itself (the load generator's per-second lines show the
# split move from 1.0.0 to ~20 %, ~50 % and 100 % of 1.1.0); version 1.2.0 fails a third of its
# requests and is rolled back by itself. Leaves everything running until Ctrl-C; with DEMO_EXIT=1
# (CI) it exits once both are done, non-zero if either misses its deadline or ends otherwise.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$REPO/.run/demo
NS=models
NAME=iris-demo
HOST=iris.models.local
SAMPLE=config/samples/demo-model-canary.yaml
NEW_VERSION=1.1.0
BAD_VERSION=1.2.0
# Seconds the result of each canary is shown before going on.
HOLD=${DEMO_HOLD:-8}
# Bound on each canary, from applying it to its end.
WALK_TIMEOUT=${DEMO_WALK_TIMEOUT:-240}
cd "$REPO"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[1;31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }

stop_load() {
  if [ -n "${LOAD_PID:-}" ]; then kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null || true; fi
  # The viewer exits on its own once the generator is gone, after printing what is left.
  if [ -n "${VIEW_PID:-}" ]; then wait "$VIEW_PID" 2>/dev/null || true; fi
  LOAD_PID="" VIEW_PID=""
}
cleanup() {
  stop_load || true
  [ -n "${OPERATOR_PID:-}" ] && kill "$OPERATOR_PID" 2>/dev/null && wait "$OPERATOR_PID" 2>/dev/null
  e2e/controlplane/down.sh "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Building the operator, the kubectl plugin and the load generator"
cargo build --locked -p modeldeploy-operator -p modeldeploy-cli -p modeldeploy-load
export PATH=$REPO/target/debug:$PATH

say "Starting a local control plane (the first run builds Kubernetes and Traefik from source: about 10 minutes)"
e2e/controlplane/up.sh --owner $$ "$RUN"
# shellcheck source=/dev/null
. "$RUN/env"

say "Installing the CRDs"
kubectl apply --server-side -f crds/modeldeploy.io_modeldeployments.yaml \
  -f crds/modeldeploy.io_modelanalysistemplates.yaml \
  -f crds/modeldeploy.io_clustermodelanalysistemplates.yaml
# `kubectl wait` fails at once on a CRD whose status is not written yet, so poll instead.
established() {
  [ "$(kubectl get crd modeldeployments.modeldeploy.io \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ]
}
deadline=$((SECONDS + 60))
until established; do
  [ $SECONDS -lt $deadline ] || { echo "the ModelDeployment CRD was not established within 60s" >&2; exit 1; }
  sleep 0.5
done
echo "customresourcedefinition/modeldeployments.modeldeploy.io established"

say "Starting modeldeploy-operator (logs: $RUN/operator.log)"
target/debug/modeldeploy-operator --kubeconfig "$KUBECONFIG" --http-address 127.0.0.1:0 \
  --leader-election-namespace default --prometheus-url "$MODELDEPLOY_PROMETHEUS_URL" \
  > "$RUN/operator.log" 2>&1 &
OPERATOR_PID=$!

say "Deploying the demo model, version 1.0.0 ($SAMPLE)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$NS" -f "$SAMPLE"
kubectl wait -n "$NS" --for=condition=Ready "mdep/$NAME" --timeout=180s
kubectl get -n "$NS" mdep,deployments,services,httproutes,pods -l "modeldeploy.io/deployment=$NAME"

say "Asking the model through the Gateway ($MODELDEPLOY_GATEWAY on $MODELDEPLOY_GATEWAY_ADDRESS)"
CURL="curl -H 'Host: $HOST' -H 'content-type: application/json' -d '{\"instances\": [[5.1, 3.5, 1.4, 0.2]]}' http://$MODELDEPLOY_GATEWAY_ADDRESS/predict"
echo "    $CURL"
# Ready means the route is written; Traefik takes a moment to load it, so allow a few tries.
deadline=$((SECONDS + 30))
until answer=$(eval "$CURL -fsS" 2>&1); do
  [ $SECONDS -lt $deadline ] || fail "the Gateway did not answer for $HOST: $answer"
  sleep 0.5
done
echo "    $answer"

say "Sending 50 requests a second through the Gateway (modeldeploy-load; lines marked 'load |')"
# The generator writes to a file that the final tally reads; a viewer copies it to the terminal.
# It runs for longer than the walk can take and is stopped once the walk is done.
modeldeploy-load --target "$MODELDEPLOY_GATEWAY_ADDRESS" --host "$HOST" --rate 50 --duration 10m \
  --every-second > "$RUN/load.log" 2>&1 &
LOAD_PID=$!
tail -s 0.2 -n +1 -f --pid="$LOAD_PID" "$RUN/load.log" | sed -u 's/^/    load | /' &
VIEW_PID=$!
# A few seconds of 1.0.0 alone, to set off the split that follows.
sleep 3

# The user's manifest stays the thing applied: the sample with the model version and the server's
# MODEL_VERSION, which must agree, set to a new version, and the server's settings `$2` (a YAML
# env item) added. The file on disk is left as it is.
manifest() {
  sed -e "s/^\(    version: \)\"1\.0\.0\"/\1\"$1\"/" \
      -e "s/\(name: MODEL_VERSION, value: \)\"1\.0\.0\"/\1\"$1\"/" \
      -e "${2:+/name: MODEL_VERSION/a\\      $2}" "$SAMPLE"
}
# A sample that no longer matches these patterns would roll out nothing; better to say so.
[ "$(manifest "$NEW_VERSION" | grep -c "\"$NEW_VERSION\"")" = 2 ] \
  || fail "$SAMPLE does not set version \"1.0.0\" and MODEL_VERSION \"1.0.0\" as expected"

jsonpath() { kubectl get -n "$NS" "mdep/$NAME" -o jsonpath="$1"; }
# Prints the plugin's status each time the phase, the step, the traffic or an analysis count
# changes, until the condition `until` holds; fails once the deadline passes.
follow() {
  local until=$1 last="" now deadline=$((SECONDS + WALK_TIMEOUT))
  while :; do
    now=$(jsonpath '{.status.phase} {.status.rollout.step} {.status.trafficSummary} {.status.rollout.analysis[*].metrics[*].measured}')
    if [ "$now" != "$last" ]; then
      echo; kubectl modeldeploy status -n "$NS" "$NAME" | sed -n '1,/^Conditions/p' | sed '$d'
      last=$now
    fi
    eval "$until" && return 0
    [ $SECONDS -lt $deadline ] \
      || fail "the canary did not end within ${WALK_TIMEOUT}s; see $RUN/operator.log"
    sleep 1
  done
}

say "Rolling out model version $NEW_VERSION as a canary; analysis decides, nobody promotes"
diff -u "$SAMPLE" <(manifest "$NEW_VERSION") --label "$SAMPLE" --label "$SAMPLE (applied)" | sed 's/^/    /' || true
manifest "$NEW_VERSION" | kubectl apply -n "$NS" -f -
follow "[ \"\$(jsonpath '{.status.phase} {.status.servingModelVersion}')\" = 'Healthy $NEW_VERSION' ]"
kubectl wait -n "$NS" --for=condition=Ready "mdep/$NAME" --timeout=60s
say "Version $NEW_VERSION passed its analysis and serves all traffic"
sleep "$HOLD"

say "Rolling out model version $BAD_VERSION, which fails a third of its requests"
BAD_ENV='- {name: ERROR_RATE, value: "0.3"}'
diff -u "$SAMPLE" <(manifest "$BAD_VERSION" "$BAD_ENV") --label "$SAMPLE" --label "$SAMPLE (applied)" | sed 's/^/    /' || true
manifest "$BAD_VERSION" "$BAD_ENV" | kubectl apply -n "$NS" -f -
follow "[ \"\$(jsonpath '{.status.rollout.stage}')\" = Aborted ]"
say "Version $BAD_VERSION failed its analysis: $(jsonpath '{.status.rollout.abortReason}')"
[ "$(jsonpath '{.status.servingModelVersion}')" = "$NEW_VERSION" ] \
  || fail "version $NEW_VERSION should serve after the rollback"
sleep "$HOLD"
stop_load

say "Every answer of the load generator, added up from its seconds"
# modeldeploy-load prints its own table only when its duration runs out, and the walk's length is
# not known in advance, so the per-second lines are added up instead: 'version: n (share%)'
# items are versions; anything else ('error: n (502×n)', 'connection refused: n') is a failure.
table=$(awk '
  /^ *[0-9.]+s  sent +[0-9]+  / {
    sub(/^ *[0-9.]+s  sent +[0-9]+  /, "")
    n = split($0, items, "  ")
    for (i = 1; i <= n; i++) {
      if (!match(items[i], /: [0-9]+/)) continue
      key = substr(items[i], 1, RSTART - 1)
      if (!(key in count)) order[++keys] = key
      count[key] += substr(items[i], RSTART + 2, RLENGTH - 2)
      if (items[i] ~ /%\)$/) { version[key] = 1; answers += substr(items[i], RSTART + 2, RLENGTH - 2) }
    }
  }
  END {
    printf "%-18s %8s %7s\n", "variant", "answers", "share"
    for (k = 1; k <= keys; k++)
      if (order[k] in version) printf "%-18s %8d %6.1f%%\n", order[k], count[order[k]], 100 * count[order[k]] / answers
    for (k = 1; k <= keys; k++)
      if (!(order[k] in version)) printf "%-18s %8d\n", order[k], count[order[k]]
  }' "$RUN/load.log")
echo "$table" | sed 's/^/    /'
awk -v v="$NEW_VERSION" '$1 == v && $2 > 0 { found = 1 } END { exit !found }' <<< "$table" \
  || fail "no answer ever came from version $NEW_VERSION; see $RUN/load.log and $RUN/operator.log"

kubectl get -n "$NS" mdep,deployments,services -l "modeldeploy.io/deployment=$NAME"
echo "The old revision's pods drain for scaleDownDelaySeconds (30s), then its Deployment is removed."
kubectl events -n "$NS" --for "modeldeployment/$NAME"

if [ "${DEMO_EXIT:-0}" = 1 ]; then
  say "Demo complete"
  exit 0
fi
say "Everything keeps running. In another terminal:"
echo "    export KUBECONFIG=$KUBECONFIG PATH=$REPO/target/debug:$MODELDEPLOY_BIN:\$PATH"
echo "    $CURL"
echo "    modeldeploy-load --target $MODELDEPLOY_GATEWAY_ADDRESS --host $HOST --rate 50 --duration 30s --every-second"
echo "    kubectl modeldeploy status -n $NS $NAME --watch"
echo "Prometheus scrapes the model servers at $MODELDEPLOY_PROMETHEUS_URL; requests per second by version:"
echo "    curl -s $MODELDEPLOY_PROMETHEUS_URL/api/v1/query --data-urlencode 'query=sum by (model_version) (rate(demo_model_inference_requests_total[1m]))'"
echo "Press Ctrl-C to stop the operator and the control plane."
wait "$OPERATOR_PID"
