#!/usr/bin/env bash
# Runs a command under a banner and reports how long it took: hack/timed.sh "phase name" cmd...
set -uo pipefail
name=$1; shift
printf '\n==> %s\n' "$name"
start=$SECONDS
"$@"
status=$?
printf '==> %s: %s in %ds\n' "$name" "$([ $status -eq 0 ] && echo passed || echo FAILED)" $((SECONDS - start))
exit $status
