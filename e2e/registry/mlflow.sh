#!/usr/bin/env bash
# A real MLflow tracking server (with its model registry) for the registry tests.
#
#   mlflow.sh                        install, or reuse, the virtualenv; print its path
#   mlflow.sh start PORT DIR [ARG…]  start `mlflow server` on 127.0.0.1:PORT with its database,
#                                    artifacts and log (mlflow.log) in DIR; print its PID, which
#                                    is also its process group (ARGs go to `mlflow server`)
#   mlflow.sh stop PID               stop that server and every process it started
#
# The virtualenv is cached under $MODELDEPLOY_CACHE (default ~/.cache/modeldeploy) by MLflow
# version and the hash of this script and of the Python it was built with; a second run returns
# at once. `start` returns before the server answers: poll GET /health for readiness.
# MODELDEPLOY_PYTHON picks the interpreter (default python3, 3.11 or newer).
#
# What gets installed: mlflow-skinny plus the packages `mlflow server` imports at start-up (its
# Flask app, the SQLAlchemy/Alembic store, the GraphQL schema, the gateway's aiohttp, numpy and
# pandas, Flask-WTF for `--app-name basic-auth`). The full `mlflow` package adds scikit-learn,
# scipy, pyarrow, matplotlib and docker, none of which the server needs: 850 MB instead of about
# 360 MB. Every transitive package is pinned below, so a clean machine gets what was tested.
set -euo pipefail

MLFLOW_VERSION=3.17.2
SCRIPT_PATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
CACHE_ROOT=${MODELDEPLOY_CACHE:-$HOME/.cache/modeldeploy}
PYTHON=${MODELDEPLOY_PYTHON:-python3}

log() { printf '[mlflow %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[mlflow] error: %s\n' "$*" >&2; exit 1; }

# What the server imports; versions are fixed by constraints below.
requirements() {
  cat <<EOF
mlflow-skinny==$MLFLOW_VERSION
Flask
Flask-CORS
Flask-WTF
alembic
sqlalchemy
graphene
aiohttp
cryptography
numpy
pandas
EOF
}

# `pip freeze` of a working install (Python 3.11, x86_64). Change MLFLOW_VERSION and these
# together; any edit to this file makes a new virtualenv.
constraints() {
  cat <<'EOF'
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
alembic==1.20.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
attrs==26.1.0
blinker==1.9.0
cachetools==7.3.3
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cloudpickle==3.1.3
cryptography==50.0.2
databricks-sdk==0.162.0
fastapi==0.165.0
Flask==3.1.3
flask-cors==6.0.5
Flask-WTF==1.3.0
frozenlist==1.8.0
gitdb==4.0.12
GitPython==3.2.1
google-auth==2.63.0
graphene==3.4.3
graphql-core==3.2.14
graphql-relay==3.2.0
h11==0.16.0
idna==3.20
importlib_metadata==9.1.0
itsdangerous==2.2.0
Jinja2==3.1.6
Mako==1.4.3
MarkupSafe==3.0.4
mlflow-skinny==3.17.2
multidict==7.2.1
numpy==2.4.6
opentelemetry-api==1.45.2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
packaging==26.4
pandas==3.1.1
propcache==0.5.4
protobuf==7.36.2
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.4
pydantic_core==2.50.5
python-dateutil==2.9.0.post0
python-dotenv==1.2.4
PyYAML==6.0.4
requests==2.34.2
six==1.17.0
smmap==5.0.3
SQLAlchemy==2.1.9
sqlparse==0.6.1
starlette==1.10.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.54.0
Werkzeug==3.1.9
WTForms==3.3.2
yarl==1.25.1
zipp==4.1.2
EOF
}

python_identity() {
  "$PYTHON" -c 'import platform, sys; print(sys.version, platform.machine())'
}

venv_dir() {
  local key
  key=$({ cat "$SCRIPT_PATH"; python_identity; } | sha256sum | cut -c1-16)
  echo "$CACHE_ROOT/mlflow-$MLFLOW_VERSION-$key"
}

# Prints the virtualenv's path; installs it first when the cache has no complete one.
install() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON is not installed; MLflow is installed from PyPI into a virtualenv"
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
    || die "$PYTHON cannot make virtualenvs (on Debian: apt-get install python3-venv)"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is $("$PYTHON" --version 2>&1); the pinned numpy and pandas need Python 3.11 or newer (set MODELDEPLOY_PYTHON)"
  local venv
  venv=$(venv_dir)
  if [ -f "$venv/.complete" ]; then echo "$venv"; return; fi

  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.mlflow.lock"
  log "waiting for the install lock"; flock 9
  if [ -f "$venv/.complete" ]; then exec 9>&-; echo "$venv"; return; fi

  local need_kb=$((1024 * 1024)) free_kb
  free_kb=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
  [ "$free_kb" -ge "$need_kb" ] || die "installing MLflow needs about 1 GiB free under $CACHE_ROOT; only $((free_kb / 1024)) MiB is free"

  # A virtualenv cannot be moved (its scripts name their interpreter by path), so it is built in
  # place; without .complete it is an interrupted install and is thrown away.
  rm -rf "$venv"
  trap 'rm -rf "$venv"' EXIT
  local started=$SECONDS
  log "installing MLflow $MLFLOW_VERSION (mlflow-skinny and the server's dependencies) from PyPI into $venv"
  "$PYTHON" -m venv "$venv" || die "cannot create a virtualenv with $PYTHON"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r <(requirements) -c <(constraints) \
    || die "pip could not install MLflow $MLFLOW_VERSION (see its output above)"
  # Imports what `mlflow server` imports before it binds, so a broken install fails here and not
  # as a server that never answers.
  "$venv/bin/python" -W ignore -c 'import mlflow.server, mlflow.server.fastapi_app, mlflow.server.auth' \
    || die "MLflow $MLFLOW_VERSION installed, but its server cannot be imported (see above)"
  local installed
  installed=$("$venv/bin/python" -m mlflow --version)
  [[ "$installed" == *"$MLFLOW_VERSION"* ]] || die "expected MLflow $MLFLOW_VERSION, found: $installed"
  touch "$venv/.complete"
  trap - EXIT
  exec 9>&-
  log "MLflow $MLFLOW_VERSION installed in $((SECONDS - started))s ($(du -sh "$venv" | cut -f1))"
  echo "$venv"
}

start() {
  [ $# -ge 2 ] || die "usage: $0 start PORT DIR [mlflow server ARG…]"
  local port=$1 dir=$2
  shift 2
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, not '$port'"
  local venv
  venv=$(install)
  mkdir -p "$dir/artifacts"
  dir=$(cd "$dir" && pwd)

  # One worker and no job runner: the tests need the REST API, not throughput or the GenAI jobs
  # (which would start a process per job queue). Telemetry is off: this machine reaches no one.
  # `setsid` makes the server a process-group leader so that `stop` ends its workers too. The
  # working directory is DIR because `--app-name basic-auth` keeps its user database in
  # the working directory.
  (
    cd "$dir"
    export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
    exec setsid "$venv/bin/python" -m mlflow server \
      --host 127.0.0.1 --port "$port" --workers 1 \
      --backend-store-uri "sqlite:///$dir/mlflow.db" \
      --default-artifact-root "$dir/artifacts" \
      "$@"
  ) >"$dir/mlflow.log" 2>&1 </dev/null &
  local pid=$!

  # A test killed the hard way never runs its cleanup; this stops the server once the process
  # named by MODELDEPLOY_MLFLOW_OWNER_PID is gone.
  if [ -n "${MODELDEPLOY_MLFLOW_OWNER_PID:-}" ]; then
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    setsid bash -c '
      while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
      "$3" stop "$2"' watchdog "$MODELDEPLOY_MLFLOW_OWNER_PID" "$pid" "$SCRIPT_PATH" \
      >/dev/null 2>&1 </dev/null &
  fi
  log "mlflow server starting on 127.0.0.1:$port (pid $pid, log $dir/mlflow.log)"
  echo "$pid"
}

# SIGTERM to the whole process group lets uvicorn finish; SIGKILL after 10 s if it did not.
stop() {
  if [ $# -ne 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then die "usage: $0 stop PID"; fi
  local group=$1
  # `kill -- -1` would signal every process there is, and `-0` our own group.
  [ "$group" -ge 2 ] || die "$group is not the PID of a server that start printed"
  kill -TERM -- "-$group" 2>/dev/null || return 0
  local deadline=$((SECONDS + 10))
  while kill -0 -- "-$group" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "mlflow server $group did not stop within 10s; killing it"
      kill -KILL -- "-$group" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}

case "${1:-}" in
  "") install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "unknown command '$1'; usage: $0 [start PORT DIR [ARG…] | stop PID]" ;;
esac
