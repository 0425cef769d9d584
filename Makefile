# modeldeploy: the two commands are `make demo` and `make test`.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
CRD_PLURALS := modeldeployments modelanalysistemplates clustermodelanalysistemplates
CRD_DIRS := crds charts/modeldeploy/crds config/crd/bases
REFERENCE := docs/api-reference.md

.PHONY: help demo test bench bench-cluster bench-router fmt-check clippy check-generated generate unit e2e controlplane build

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

demo: ## Start a local control plane and the operator, deploy a model and roll out a new version
	hack/demo.sh

test: ## Everything CI checks: format, lints, generated files, unit and end-to-end tests
	@hack/timed.sh "format check" $(MAKE) --no-print-directory fmt-check
	@hack/timed.sh "clippy" $(MAKE) --no-print-directory clippy
	@hack/timed.sh "generated files" $(MAKE) --no-print-directory check-generated
	@hack/timed.sh "unit tests" $(MAKE) --no-print-directory unit
	@hack/timed.sh "end-to-end tests" $(MAKE) --no-print-directory e2e

fmt-check: ## rustfmt, without changing files
	$(CARGO) fmt --all -- --check

clippy: ## Lints, warnings denied
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

generate: ## Regenerate the CRD YAML (and its chart and kustomize copies) and the API reference
	for plural in $(CRD_PLURALS); do \
	  $(CARGO) run --quiet --locked -p modeldeploy-api --bin crdgen -- crd $$plural > crds/modeldeploy.io_$$plural.yaml.tmp; \
	  mv crds/modeldeploy.io_$$plural.yaml.tmp crds/modeldeploy.io_$$plural.yaml; \
	  cp crds/modeldeploy.io_$$plural.yaml charts/modeldeploy/crds/; \
	  cp crds/modeldeploy.io_$$plural.yaml config/crd/bases/; \
	done
	$(CARGO) run --quiet --locked -p modeldeploy-api --bin crdgen -- --reference > $(REFERENCE)

check-generated: ## Fail when a committed generated file differs from what the Rust types generate
	@fresh=$$(mktemp -d); trap 'rm -rf "$$fresh"' EXIT; \
	$(CARGO) run --quiet --locked -p modeldeploy-api --bin crdgen -- --reference > "$$fresh/reference"; \
	stale=0; \
	for plural in $(CRD_PLURALS); do \
	  $(CARGO) run --quiet --locked -p modeldeploy-api --bin crdgen -- crd $$plural > "$$fresh/crd"; \
	  for dir in $(CRD_DIRS); do \
	    copy=$$dir/modeldeploy.io_$$plural.yaml; \
	    diff -u "$$copy" "$$fresh/crd" > "$$fresh/diff" || { head -40 "$$fresh/diff"; echo "$$copy is stale" >&2; stale=1; }; \
	  done; \
	done; \
	diff -u $(REFERENCE) "$$fresh/reference" > "$$fresh/diff" || { head -40 "$$fresh/diff"; echo "$(REFERENCE) is stale" >&2; stale=1; }; \
	[ $$stale -eq 0 ] || { echo "run 'make generate' and commit the result" >&2; exit 1; }; \
	echo "generated files are fresh"

unit: ## Unit and table tests (no cluster needed)
	$(CARGO) test --workspace --locked --exclude modeldeploy-e2e

e2e: ## End-to-end tests against a fresh local control plane
	$(CARGO) build --locked -p modeldeploy-operator -p modeldeploy-cli
	e2e/kstatus/build.sh >/dev/null
	e2e/controlplane/run.sh -- $(CARGO) test --locked -p modeldeploy-e2e -- --test-threads=8

bench: bench-cluster bench-router ## Every benchmark

bench-cluster: ## Time from an abort request, and from a failing analysis measurement, to traffic back on stable, on a fresh local control plane
	$(CARGO) build --quiet --locked -p modeldeploy-operator -p modeldeploy-bench
	RUST_LOG=$${RUST_LOG:-error} CONTROLPLANE_RUN=$(CURDIR)/.run/bench e2e/controlplane/run.sh -- \
	  sh -c '$(CARGO) run --quiet --locked -p modeldeploy-bench --bin abort-latency && $(CARGO) run --quiet --locked -p modeldeploy-bench --bin analysis-abort'

bench-router: ## The model router's added latency, throughput and shadow cost on loopback, beside nginx (release build)
	$(CARGO) build --quiet --release --locked -p modeldeploy-router -p modeldeploy-demo-model -p modeldeploy-bench-router
	$(CARGO) run --quiet --release --locked -p modeldeploy-bench-router --bin router-overhead

controlplane: ## Build (or reuse) the local control-plane binaries
	e2e/controlplane/build.sh

build: ## Build the operator
	$(CARGO) build --locked -p modeldeploy-operator
