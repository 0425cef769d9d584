# modeldeploy: the two commands are `make demo` and `make test`.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
CRD := modeldeploy.io_modeldeployments.yaml
CRD_COPIES := crds/$(CRD) charts/modeldeploy/crds/$(CRD) config/crd/bases/$(CRD)

.PHONY: help demo test fmt-check clippy check-generated generate unit e2e controlplane build

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

generate: ## Regenerate the CRD YAML from the Rust types (and its chart and kustomize copies)
	$(CARGO) run --quiet --locked -p modeldeploy-api --bin crdgen > crds/$(CRD).tmp
	mv crds/$(CRD).tmp crds/$(CRD)
	cp crds/$(CRD) charts/modeldeploy/crds/$(CRD)
	cp crds/$(CRD) config/crd/bases/$(CRD)

check-generated: ## Fail when the committed CRD YAML differs from what the Rust types generate
	@fresh=$$(mktemp); trap 'rm -f "$$fresh"' EXIT; \
	$(CARGO) run --quiet --locked -p modeldeploy-api --bin crdgen > "$$fresh"; \
	for copy in $(CRD_COPIES); do \
	  if ! diff -u "$$copy" "$$fresh" >/dev/null; then \
	    diff -u "$$copy" "$$fresh" | head -40; \
	    echo "$$copy is stale: run 'make generate' and commit the result" >&2; exit 1; \
	  fi; \
	done; echo "generated CRDs are fresh"

unit: ## Unit and table tests (no cluster needed)
	$(CARGO) test --workspace --locked --exclude modeldeploy-e2e

e2e: ## End-to-end tests against a fresh local control plane
	e2e/controlplane/run.sh -- $(CARGO) test --locked -p modeldeploy-e2e -- --test-threads=8

controlplane: ## Build (or reuse) the local control-plane binaries
	e2e/controlplane/build.sh

build: ## Build the operator
	$(CARGO) build --locked -p modeldeploy-operator
