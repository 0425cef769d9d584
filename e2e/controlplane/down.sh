#!/usr/bin/env bash
# Stops the control plane started by up.sh in RUN_DIR: SIGTERM first, SIGKILL after 10 seconds;
# then removes the pods' network namespace.
set -uo pipefail
CONTROLPLANE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=${1:-$(cd "$CONTROLPLANE_DIR/../.." && pwd)/.run/controlplane}
[ -f "$RUN/pids" ] || { "$CONTROLPLANE_DIR/../dataplane/netns.sh" down "$RUN"; exit 0; }
# Stop in reverse order of start, so that clients go before the API server and etcd.
pids=$(tac "$RUN/pids" | awk '{print $1}')
for pid in $pids; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
for _ in $(seq 1 20); do
  alive=0
  for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.5
done
for pid in $pids; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; done
rm -f "$RUN/pids"
"$CONTROLPLANE_DIR/../dataplane/netns.sh" down "$RUN" || echo "[controlplane] could not remove the pods' network namespace" >&2
echo "[controlplane] stopped" >&2
