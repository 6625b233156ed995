# Baseplate developer entry points. `make help` lists them.
CARGO ?= cargo
KUBECTL ?= kubectl
DOCKER ?= docker
IMAGE ?= baseplate:latest
APP ?= examples/hello.yaml

.PHONY: help render test lint fmt crds bench e2e load run install uninstall image

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

render: ## Render the reference App with the built-in defaults (no cluster needed)
	$(CARGO) run --quiet -p baseplate --bin baseplate -- render $(APP)

test: lint ## Lint, then every test that needs no cluster (unit, snapshot, property, CRD, mock-API)
	$(CARGO) test --workspace --all-targets --locked
	$(CARGO) fmt --all -- --check

lint: ## Clippy on the whole workspace, all targets, warnings as errors (lints: Cargo.toml)
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

crds: ## Regenerate deploy/crds.yaml and the editor schemas in deploy/schemas/ from the Rust types
	$(CARGO) run --quiet -p baseplate --bin baseplate -- crds > deploy/crds.yaml
	$(CARGO) run --quiet -p baseplate --bin baseplate -- schema --write deploy/schemas

bench: ## Criterion benchmarks of rendering
	$(CARGO) bench -p baseplate-crd

# The suite (package baseplate-tests) runs the `baseplate` binary of the same profile, so
# build it first: Cargo builds a package's binaries only for that package's own tests.
e2e: ## End-to-end tests against the cluster in KUBECONFIG (Kubernetes 1.33+)
	$(CARGO) build --locked -p baseplate --bin baseplate
	BASEPLATE_E2E=1 $(CARGO) test --locked -p baseplate-tests --test e2e -- --ignored --test-threads=1 --nocapture

N ?= 1000
load: ## Load harness against the cluster in KUBECONFIG: N Apps (default 1000), report in bench/results/load-N.json
	$(KUBECTL) apply --server-side --force-conflicts -f deploy/crds.yaml
	$(CARGO) build --release --locked -p baseplate --bin baseplate
	$(CARGO) run --release --locked -p baseplate-bench --bin baseplate-load -- --apps $(N) --output bench/results/load-$(N).json $(LOAD_ARGS)

run: ## Run the operator from this machine against the current kubeconfig context
	$(CARGO) run -p baseplate --bin baseplate -- run --leader-election=false --http-address 127.0.0.1:8080

install: ## Install CRDs, RBAC and the operator Deployment into the current cluster
	$(KUBECTL) apply --server-side -k deploy/

# Not `delete -k deploy/`: that would delete the CRDs, hence every App and, through garbage
# collection, every App's children in the cluster.
uninstall: ## Remove the operator; the CRDs, Apps and their children stay
	$(KUBECTL) delete --ignore-not-found -f deploy/service.yaml -f deploy/deployment.yaml \
		-f deploy/rbac.yaml -f deploy/serviceaccount.yaml -f deploy/namespace.yaml

image: ## Build the operator image (IMAGE=baseplate:latest)
	$(DOCKER) build -t $(IMAGE) .
