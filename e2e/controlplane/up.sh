#!/usr/bin/env bash
# Starts a local Kubernetes control plane in RUN_DIR (default: .run/controlplane at the
# repository root): etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with
# one fake node whose pods become Running and Ready. Pods of the demo model server's image are
# run for real: modeldeploy-pod-supervisor starts the server on the pod's IP in a network
# namespace (e2e/dataplane/netns.sh) and reports its readiness. Traefik serves the Gateway
# modeldeploy-gateway/local on 127.0.0.1 (e2e/dataplane/build-traefik.sh). Prometheus scrapes
# those servers and whatever tests add to RUN_DIR/prometheus/targets. Installs the Gateway API
# and Istio CRDs.
# Returns once everything answers; writes RUN_DIR/kubeconfig and RUN_DIR/env.
# Stop it with down.sh RUN_DIR. With --owner PID, it also stops when process PID exits.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN=""
OWNER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --owner) OWNER=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) RUN=$1; shift ;;
  esac
done
REPO=$(cd "$CONTROLPLANE_DIR/../.." && pwd)
RUN=${RUN:-$REPO/.run/controlplane}
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)

# A run left behind by a crash is stopped before a new one starts.
"$CONTROLPLANE_DIR/down.sh" "$RUN" >/dev/null 2>&1 || true
rm -rf "$RUN/etcd" "$RUN/pki" "$RUN"/*.log "$RUN/pids" "$RUN/owner" "$RUN/pods" "$RUN/prometheus"
mkdir -p "$RUN/pki"

t0=$SECONDS
BIN=$("$CONTROLPLANE_DIR/build.sh")
log "binaries: $BIN"
TRAEFIK=$("$REPO/e2e/dataplane/build-traefik.sh")
DATAPLANE_DIR=$REPO/e2e/dataplane
# Pods whose image starts with this run the demo model server, and those of the model router's
# image run the router (see kwok-pod-stages.yaml).
SERVED_IMAGE=modeldeploy/demo-model
ROUTER_IMAGE=docker.io/modeldeploy/router
log "building the pod supervisor, the demo model server and the storage initializer"
(cd "$REPO" && cargo build --locked --quiet -p modeldeploy-pod-supervisor -p modeldeploy-demo-model \
  -p modeldeploy-storage-initializer -p modeldeploy-router) \
  || die "cargo build of the pod supervisor, the demo model server and the storage initializer failed"
TARGET_BIN=${CARGO_TARGET_DIR:-$REPO/target}/debug
"$DATAPLANE_DIR/netns.sh" up "$RUN"
# shellcheck source=/dev/null
. "$RUN/netns.env"

# A port below the kernel's ephemeral range, so that no outgoing connection can hold it by the
# time a server binds it; checked free with a connect (and `ss` when there is one).
read -r EPHEMERAL_LOW _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPHEMERAL_LOW=32768
free_port() {
  local port low=10000 span=$((EPHEMERAL_LOW - 10000))
  for _ in $(seq 1 200); do
    port=$((low + RANDOM % span))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    if command -v ss >/dev/null && ss -Htan "( sport = :$port )" 2>/dev/null | grep -q .; then continue; fi
    echo "$port"; return 0
  done
  die "no free TCP port found on 127.0.0.1"
}

start() { # name, command...
  local name=$1; shift
  setsid "$@" >"$RUN/$name.log" 2>&1 < /dev/null &
  echo "$! $name" >> "$RUN/pids"
}

wait_until() { # description, timeout seconds, log name, command...
  local what=$1 timeout=$2 name=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "---- last lines of $RUN/$name.log ----" >&2; tail -n 30 "$RUN/$name.log" >&2 || true
      die "$what did not become ready within ${timeout}s"
    fi
    if ! pid_alive "$name"; then
      echo "---- last lines of $RUN/$name.log ----" >&2; tail -n 30 "$RUN/$name.log" >&2 || true
      die "$name exited during start-up"
    fi
    sleep 0.5
  done
}

pid_alive() { local pid; pid=$(awk -v n="$1" '$2 == n {print $1}' "$RUN/pids"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

log "creating certificates"
(
  cd "$RUN/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -keyout ca.key -out ca.crt -subj /CN=modeldeploy-test-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
  # The pods reach the API server through the supervisor's relay on the host end of their link.
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\n' "$HOST_IP" > server.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -out apiserver.crt -extfile server.ext
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -out admin.crt -extfile client.ext
  openssl genrsa -out sa.key 2048
  openssl rsa -in sa.key -pubout -out sa.pub
) > "$RUN/pki.log" 2>&1 || { cat "$RUN/pki.log" >&2; die "openssl could not create the certificates"; }

ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port); API_PORT=$(free_port)
KCM_PORT=$(free_port); SCHED_PORT=$(free_port); KWOK_PORT=$(free_port)
KC=$RUN/kubeconfig
cat > "$KC" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: modeldeploy-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $RUN/pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $RUN/pki/admin.crt
    client-key: $RUN/pki/admin.key
contexts:
- name: modeldeploy-local
  context:
    cluster: modeldeploy-local
    user: admin
    namespace: default
current-context: modeldeploy-local
KUBECONFIG

log "starting etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$BIN/etcd" --data-dir="$RUN/etcd" --name=modeldeploy-local \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="modeldeploy-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=2147483648
wait_until "etcd" 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

log "starting kube-apiserver on 127.0.0.1:$API_PORT"
start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --cert-dir="$RUN/pki" --tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
  --client-ca-file="$RUN/pki/ca.crt" --secure-port="$API_PORT" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --service-cluster-ip-range=10.0.0.0/16 --authorization-mode=Node,RBAC --allow-privileged=true \
  --disable-admission-plugins=ServiceAccount \
  --service-account-issuer="https://127.0.0.1:$API_PORT" --service-account-key-file="$RUN/pki/sa.pub" \
  --service-account-signing-key-file="$RUN/pki/sa.key"
wait_until "kube-apiserver" 120 kube-apiserver curl -fsS --cacert "$RUN/pki/ca.crt" "https://127.0.0.1:$API_PORT/readyz"

log "starting kube-controller-manager and kube-scheduler"
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KC" \
  --authentication-kubeconfig="$KC" --authorization-kubeconfig="$KC" --leader-elect=false \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --controllers=deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,endpointslice-controller \
  --service-account-private-key-file="$RUN/pki/sa.key" --root-ca-file="$RUN/pki/ca.crt" \
  --concurrent-deployment-syncs=10 --concurrent-replicaset-syncs=10 --concurrent-gc-syncs=30
cat > "$RUN/scheduler.yaml" <<SCHED
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $KC
leaderElection:
  leaderElect: false
SCHED
start kube-scheduler "$BIN/kube-scheduler" --config="$RUN/scheduler.yaml" --bind-address=127.0.0.1 \
  --secure-port="$SCHED_PORT" --authentication-kubeconfig="$KC" --authorization-kubeconfig="$KC"

log "starting kwok"
KWOK_DIR=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$KWOK_DIR" ] || die "cannot find the kwok $KWOK_VERSION module for its stage definitions"
{
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo '---'; cat "$KWOK_DIR/kustomize/stage/$f"
  done
  echo '---'; sed "s|@SERVED_IMAGES@|^($SERVED_IMAGE\|$ROUTER_IMAGE)|g" "$DATAPLANE_DIR/kwok-pod-stages.yaml"
} > "$RUN/kwok.yaml"
start kwok "$BIN/kwok" --kubeconfig="$KC" --config="$RUN/kwok.yaml" --manage-all-nodes=true \
  --cidr="$POD_CIDR" --node-lease-duration-seconds=40 --server-address="127.0.0.1:$KWOK_PORT"

KUBECTL=("$BIN/kubectl" --kubeconfig="$KC")
wait_until "the default namespace" 60 kube-controller-manager "${KUBECTL[@]}" get namespace default
log "creating the fake node kwok-node-0"
"${KUBECTL[@]}" apply -f - >/dev/null <<'NODE'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "64", memory: 512Gi, pods: "1000", nvidia.com/gpu: "16"}
  capacity: {cpu: "64", memory: 512Gi, pods: "1000", nvidia.com/gpu: "16"}
NODE
wait_until "node kwok-node-0" 60 kwok "${KUBECTL[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=2s
# The API server taints new nodes not-ready; the node lifecycle controller that would lift the
# taint is left off so that kwok's heartbeat timing can never evict pods.
"${KUBECTL[@]}" taint node kwok-node-0 node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true

mkdir -p "$RUN/prometheus/targets" "$RUN/prometheus/data"
log "starting the pod supervisor (model servers in $NETNS; their logs: $RUN/pods/)"
start pod-supervisor env KUBECONFIG="$KC" "$TARGET_BIN/modeldeploy-pod-supervisor" --node kwok-node-0 \
  --netns "$NETNS" --image-prefix "$SERVED_IMAGE" --server "$TARGET_BIN/modeldeploy-demo-model" \
  --log-dir "$RUN/pods" --prometheus-targets "$RUN/prometheus/targets/pods.json" \
  --init-binary "docker.io/modeldeploy/storage-initializer=$TARGET_BIN/modeldeploy-storage-initializer" \
  --image-binary "$ROUTER_IMAGE=$TARGET_BIN/modeldeploy-router" \
  --api-relay "$HOST_IP:$API_PORT" --api-ca "$RUN/pki/ca.crt"

log "installing the Gateway API $GATEWAY_API_VERSION and Istio $ISTIO_API_VERSION CRDs"
GW_DIR=$(go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
ISTIO_DIR=$(go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$GW_DIR/config/crd/standard" ] || die "cannot find the Gateway API CRDs in the module sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
[ -f "$ISTIO_DIR/kubernetes/customresourcedefinitions.gen.yaml" ] || die "cannot find the Istio CRDs in the module istio.io/api@$ISTIO_API_VERSION"
for f in "$GW_DIR"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  "${KUBECTL[@]}" apply --server-side --field-manager=modeldeploy-controlplane -f "$f" >/dev/null
done
"${KUBECTL[@]}" apply --server-side --field-manager=modeldeploy-controlplane \
  -f "$ISTIO_DIR/kubernetes/customresourcedefinitions.gen.yaml" >/dev/null
# `kubectl wait` fails at once on a CRD whose status is not written yet, so poll instead.
all_established() {
  local states
  states=$("${KUBECTL[@]}" get crd -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Established")].status}{"\n"}{end}') || return 1
  [ -n "$states" ] && ! grep -qv '^True$' <<< "$states"
}
wait_until "the Gateway API and Istio CRDs" 60 kube-apiserver all_established

log "starting Traefik, the Gateway API data plane (Gateway modeldeploy-gateway/local)"
GATEWAY_PORT=$(free_port); TRAEFIK_API_PORT=$(free_port)
# Traefik reads KUBECONFIG when it finds no in-cluster variables. The throttle (2 s by default)
# is what a route change waits before it takes effect; 100 ms keeps an abort quick.
start traefik env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT KUBECONFIG="$KC" "$TRAEFIK" \
  --global.checkNewVersion=false --global.sendAnonymousUsage=false --log.level=INFO --log.noColor=true \
  --entryPoints.web.address="127.0.0.1:$GATEWAY_PORT" --providers.providersThrottleDuration=100ms \
  --api=true --api.insecure=true --api.dashboard=false --entryPoints.traefik.address="127.0.0.1:$TRAEFIK_API_PORT" \
  --providers.kubernetesGateway=true --providers.kubernetesGateway.statusAddress.ip=127.0.0.1
"${KUBECTL[@]}" apply --server-side --field-manager=modeldeploy-controlplane -f - >/dev/null <<GATEWAY
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: modeldeploy-gateway}
---
# One listener for every test and the demo; routes tell themselves apart by host name.
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: local, namespace: modeldeploy-gateway}
spec:
  gatewayClassName: traefik
  listeners:
    - {name: http, protocol: HTTP, port: $GATEWAY_PORT, allowedRoutes: {namespaces: {from: All}}}
GATEWAY
wait_until "the Gateway" 60 traefik "${KUBECTL[@]}" wait -n modeldeploy-gateway --for=condition=Programmed gateway/local --timeout=2s

log "starting Prometheus (targets: $RUN/prometheus/targets/)"
command -v prometheus >/dev/null || die "prometheus is not installed; on Debian: apt-get install prometheus"
PROM_PORT=$(free_port)
cat > "$RUN/prometheus/prometheus.yml" <<PROM
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  # Debian's Prometheus has no Kubernetes discovery: the pod supervisor keeps the model servers it
  # runs in targets/pods.json (labelled namespace, pod and the pod's labels), and whoever starts a
  # process on the host, such as an operator under test, adds a JSON file of its own.
  - job_name: local
    file_sd_configs:
      - {files: ['$RUN/prometheus/targets/*.json'], refresh_interval: 1s}
PROM
start prometheus prometheus --config.file="$RUN/prometheus/prometheus.yml" \
  --storage.tsdb.path="$RUN/prometheus/data" --storage.tsdb.retention.time=1d \
  --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle
wait_until "Prometheus" 60 prometheus curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready"

cat > "$RUN/env" <<ENV
export KUBECONFIG=$KC
export MODELDEPLOY_BIN=$BIN
export PATH=$BIN:\$PATH
export MODELDEPLOY_POD_CIDR=$POD_CIDR
export MODELDEPLOY_NETNS=$NETNS
export MODELDEPLOY_GATEWAY=modeldeploy-gateway/local
export MODELDEPLOY_GATEWAY_ADDRESS=127.0.0.1:$GATEWAY_PORT
export MODELDEPLOY_TRAEFIK_API=http://127.0.0.1:$TRAEFIK_API_PORT
export MODELDEPLOY_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT
export MODELDEPLOY_PROMETHEUS_TARGETS=$RUN/prometheus/targets
ENV

if [ -n "$OWNER" ]; then
  # Stops the control plane when its owner exits, even if the owner is killed outright.
  # Only while the control plane in RUN is still this owner's: a later run may reuse RUN.
  echo "$OWNER" > "$RUN/owner"
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; [ "$(cat "$3/owner" 2>/dev/null)" = "$1" ] && exec "$2" "$3"' _ "$OWNER" "$CONTROLPLANE_DIR/down.sh" "$RUN" \
    >/dev/null 2>&1 < /dev/null &
fi
log "control plane ready in $((SECONDS - t0))s: export KUBECONFIG=$KC"
