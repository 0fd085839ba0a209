# Weir's build. `make help` lists the targets. Everything a fresh machine
# needs is installed or built by the targets themselves.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN        := $(CURDIR)/bin
K8S_BIN    := $(BIN)/k8s
ENGINE     := $(BIN)/engine
CONTROLLER_GEN := $(BIN)/controller-gen
COSIGN     := $(BIN)/cosign
KO         := $(BIN)/ko
BASE_BUILDER := $(BIN)/weir-base
REGISTRY   := /usr/bin/docker-registry
FLUX_BIN   := $(BIN)/flux
FLUX_TOOLS := hack/tools/flux
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -X github.com/weir-gitops/weir/engine.Version=$(VERSION)
GO_TEST_FLAGS ?= -race -count=1 -timeout 25m
export KUBEBUILDER_ASSETS := $(K8S_BIN)

CRD_KEEP := kustomize.toolkit.fluxcd.io_kustomizations.yaml \
            notification.toolkit.fluxcd.io_receivers.yaml \
            source.toolkit.fluxcd.io_gitrepositories.yaml \
            weir.dev_plugins.yaml

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build the engine binary into bin/engine.
	CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o $(ENGINE) ./cmd/engine

.PHONY: tools
tools: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(CONTROLLER_GEN) $(COSIGN) $(REGISTRY) wasi-toolchain ## Build kube-apiserver, etcd, controller-gen and cosign from the Go module proxy, install Debian's docker-registry and C toolchain for Wasm (first time: ~15 minutes).

$(K8S_BIN)/kube-apiserver: hack/tools/k8s/go.mod
	@mkdir -p $(K8S_BIN)
	@echo ">> building kube-apiserver v1.37.2 from source: the first build takes about 5-10 minutes on 2 cores, later ones seconds"
	cd hack/tools/k8s && go build -o $@ k8s.io/kubernetes/cmd/kube-apiserver
	@echo ">> kube-apiserver ready in $(K8S_BIN)"

$(K8S_BIN)/etcd: hack/tools/k8s/go.mod
	@mkdir -p $(K8S_BIN)
	@echo ">> building etcd v3.7.0 from source (about 20 s)"
	cd hack/tools/k8s && go build -o $@ go.etcd.io/etcd/server/v3
	@echo ">> etcd ready in $(K8S_BIN)"

$(CONTROLLER_GEN): hack/tools/gen/go.mod
	@mkdir -p $(BIN)
	@echo ">> building controller-gen"
	cd hack/tools/gen && go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

$(COSIGN): hack/tools/cosign/go.mod
	@mkdir -p $(BIN)
	@echo ">> building the cosign CLI v2.6.5 from source (first time: a few minutes), for the signature interoperability tests"
	cd hack/tools/cosign && go build -o $@ github.com/sigstore/cosign/v2/cmd/cosign

$(KO): hack/tools/ko/go.mod
	@mkdir -p $(BIN)
	@echo ">> building ko v0.19.1 from source (first time: a minute or two)"
	cd hack/tools/ko && go build -o $@ github.com/google/ko

$(BASE_BUILDER): hack/tools/ko/go.mod $(wildcard hack/tools/ko/base/*.go)
	@mkdir -p $(BIN)
	cd hack/tools/ko && go build -o $@ ./base

# Flux's own controllers, for running the conformance suite and benchmark B1
# against stock Flux. Not part of `tools`: they are not needed by `make test`
# and take minutes to build. Their CRDs come from the same module zips.
.PHONY: flux
flux: $(FLUX_BIN)/source-controller $(FLUX_BIN)/kustomize-controller $(FLUX_BIN)/notification-controller ## Build Flux's source-, kustomize- (v1.9.6) and notification-controller (v1.9.3) from the Go module proxy into bin/flux, with their CRDs (first time: 15-25 minutes on 2 cores).

$(FLUX_BIN)/source-controller $(FLUX_BIN)/kustomize-controller $(FLUX_BIN)/notification-controller: $(FLUX_BIN)/%: $(FLUX_TOOLS)/go.mod
	@mkdir -p $(FLUX_BIN)/crd
	@echo ">> building Flux's $* from source (version in $(FLUX_TOOLS)/go.mod): the first build takes several minutes on 2 cores, later ones seconds"
	cd $(FLUX_TOOLS) && go build -o $@ github.com/fluxcd/$*
	@cd $(FLUX_TOOLS) && cp "$$(go list -m -f '{{.Dir}}' github.com/fluxcd/$*)"/config/crd/bases/*.yaml $(FLUX_BIN)/crd/ && chmod 644 $(FLUX_BIN)/crd/*.yaml
	@echo ">> $* ready in $(FLUX_BIN), its CRDs in $(FLUX_BIN)/crd"

# clang, lld, wasi-libc and compiler-rt's wasm32 builtins from Debian, for
# the example plugin written in C (plugins/examples/cert-health). Installed
# only when clang cannot find one of them.
.PHONY: wasi-toolchain
wasi-toolchain: ## Install Debian's clang, lld and wasi-libc for the C example plugin.
	@if command -v clang >/dev/null && command -v wasm-ld >/dev/null && [ -f /usr/lib/wasm32-wasi/libc.a ] && \
	  [ -f "$$(clang --target=wasm32-wasi -print-libgcc-file-name)" ]; then exit 0; fi; \
	  echo ">> installing Debian's clang, lld and wasi-libc"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    clang lld wasi-libc libclang-rt-dev-wasm32 >/dev/null

# The OCI registry the plugin tests push to: Debian's docker-registry (the
# CNCF distribution registry). Tests start their own instances on 127.0.0.1.
$(REGISTRY):
	@echo ">> installing Debian's docker-registry"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq docker-registry >/dev/null

##@ Generate

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for api/.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs (Flux's GA kinds from their API modules, and Plugin) and RBAC.
	@tmp=$$(mktemp -d); \
	$(CONTROLLER_GEN) crd paths=./api/... \
	  paths=github.com/fluxcd/source-controller/api/v1 \
	  paths=github.com/fluxcd/kustomize-controller/api/v1 \
	  paths=github.com/fluxcd/notification-controller/api/v1 \
	  output:crd:artifacts:config=$$tmp; \
	rm -f config/crd/bases/*.yaml; \
	for f in $(CRD_KEEP); do cp $$tmp/$$f config/crd/bases/$$f; done; \
	rm -rf $$tmp

##@ Check and test

.PHONY: check
check: $(CONTROLLER_GEN) ## gofmt, go vet, generated files up to date, go mod tidy clean.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	@for m in $(SUB_MODULES); do (cd $$m && go vet ./...); done
	cd hack/tools/ko && go vet ./base
	$(MAKE) --no-print-directory generate manifests
	@go mod tidy && for m in $(SUB_MODULES) hack/tools/k8s hack/tools/gen hack/tools/cosign hack/tools/ko $(FLUX_TOOLS); do (cd $$m && go mod tidy); done
	@if [ -n "$$(git status --porcelain -- api config go.mod go.sum plugins hack)" ]; then \
	  echo "generated files or go.mod are out of date; run 'make generate manifests' and 'go mod tidy':"; \
	  git status --porcelain -- api config go.mod go.sum plugins hack; exit 1; fi

SUB_MODULES := $(shell find plugins -name go.mod -not -path '*/testdata/*' -exec dirname {} \; 2>/dev/null | sort)

.PHONY: test
test: tools ## Run every test: unit, envtest (real kube-apiserver + etcd), plugins, conformance.
	go test $(GO_TEST_FLAGS) ./...
	@for m in $(SUB_MODULES); do echo ">> go test $$m"; (cd $$m && go test -count=1 ./...); done

.PHONY: bench
bench: tools ## Run the benchmarks and write docs/benchmarks.md.
	bash hack/bench.sh

.PHONY: bench-flux
bench-flux: tools flux ## Benchmark B1 side by side: Weir, then Flux's controllers with default flags and with 10/20 workers (B1_APPS=100; slow).
	WEIR_B1_APPS=$(B1_APPS) WEIR_B1_FLUX='$(B1_FLUX)' go test -run '^$$' -bench '^BenchmarkB1$$' -benchtime 1x -timeout 0 ./engine/

B1_APPS ?= 100
B1_FLUX ?= default,10/20

.PHONY: plugins
plugins: wasi-toolchain ## Build the example plugins into bin/plugins/*.wasm.
	@mkdir -p $(BIN)/plugins
	@cd plugins/sdk && go build -o $(BIN)/weir-meta ./cmd/weir-meta
	@for d in plugins/examples/*/; do n=$$(basename $$d); [ -f $$d/go.mod ] || continue; \
	  echo ">> plugin $$n"; (cd $$d && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o $(BIN)/plugins/$$n.wasm .) && \
	  $(BIN)/weir-meta -in $(BIN)/plugins/$$n.wasm -meta $$d/plugin.json || exit 1; done
	@# The plugins not written in Go build with their own Makefile.
	@echo ">> plugin cert-health (C)"
	@$(MAKE) --no-print-directory -s -C plugins/examples/cert-health OUT=$(BIN)/plugins/cert-health.wasm WEIR_META=$(BIN)/weir-meta

.PHONY: conformance
conformance: tools plugin-conformance ## Run the conformance suites against Weir on the local control plane, and the plugin ABI kit on the example plugins.
	go test $(GO_TEST_FLAGS) ./conformance/...
	@# From the package directory, so that go test streams the progress lines.
	go test $(GO_TEST_FLAGS) -run '^TestGAConformance$$' ./engine/internal/gaconformance/ -ga.progress

# `engine plugin test` on every example plugin, as a plugin author runs it;
# JUnit reports land in bin/conformance/. All run; any failure fails the target.
# The timeout is raised from the engine's 10 s default because a transform of
# 5,000 objects through a Go guest takes 5-12 s on 2 busy cores; a runaway
# guest is still caught (limits/timeout uses its own short deadline).
.PHONY: plugin-conformance
plugin-conformance: build plugins ## Run the plugin ABI conformance kit (engine plugin test) on the example plugins.
	@mkdir -p $(BIN)/conformance
	@failed=; for f in $(BIN)/plugins/*.wasm; do n=$$(basename $$f .wasm); \
	  echo ">> engine plugin test $$n"; \
	  $(ENGINE) plugin test --timeout 60s --cache-dir $(BIN)/conformance/cache --junit $(BIN)/conformance/plugin-$$n.xml $$f || failed="$$failed $$n"; done; \
	  if [ -n "$$failed" ]; then echo "plugin ABI conformance failed:$$failed"; exit 1; fi

##@ Image

# Where `make image` pushes. Empty: a docker-registry on $(IMAGE_REGISTRY),
# started by the target when nothing answers there, left running.
KO_DOCKER_REPO ?=
IMAGE_REGISTRY ?= 127.0.0.1:5001
# The base image; empty: one built from the machine's CA certificates and
# pushed next to the engine image (docs/decisions/0005-engine-image-base.md).
KO_DEFAULTBASEIMAGE ?=
CA_CERTIFICATES ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_REF_FILE ?= $(BIN)/image.ref

.PHONY: image
image: $(KO) $(BASE_BUILDER) ## Build the engine image with ko (no Docker engine) and push it to $$KO_DOCKER_REPO (default: a local registry on 127.0.0.1:5001); the reference goes to bin/image.ref.
	@repo="$(KO_DOCKER_REPO)"; \
	if [ -z "$$repo" ]; then $(MAKE) --no-print-directory image-registry; repo=$(IMAGE_REGISTRY)/weir-engine; fi; \
	base="$(KO_DEFAULTBASEIMAGE)"; \
	if [ -z "$$base" ]; then \
	  echo ">> pushing the base image (CA certificates, user 65532) to $$repo-base"; \
	  base=$$($(BASE_BUILDER) -push "$$repo-base:v1" -ca-certificates $(CA_CERTIFICATES)); fi; \
	echo ">> building the engine image on $$base"; \
	KO_DOCKER_REPO="$$repo" KO_DEFAULTBASEIMAGE="$$base" VERSION="$(VERSION)" \
	  $(KO) build ./cmd/engine --bare --tags "$(subst +,-,$(VERSION))" --image-refs $(IMAGE_REF_FILE); \
	echo ">> pushed $$(cat $(IMAGE_REF_FILE)); next: make set-image && kubectl apply -k config/default (docs/install.md)"

.PHONY: set-image
set-image: ## Point config/default at the image in bin/image.ref (what `make image` pushed).
	@ref=$$(cat $(IMAGE_REF_FILE)); name=$$(echo "$${ref%@*}" | sed -E 's#(.*/[^:/]+):[^/]*$$#\1#'); \
	sed -i '/^images:/,$$d' config/default/kustomization.yaml; \
	printf 'images:\n  - name: weir-engine\n    newName: %s\n    digest: %s\n' "$$name" "$${ref#*@}" >> config/default/kustomization.yaml; \
	echo ">> config/default now installs $$name@$${ref#*@}"

.PHONY: test-image
test-image: $(KO) $(BASE_BUILDER) $(REGISTRY) $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd ## Build the image into a local registry and check its manifest and config/default (TestImage; `make test` skips it).
	go test -count=1 -timeout 20m -run '^TestImage$$' -v ./engine/

.PHONY: image-registry
image-registry: $(REGISTRY) ## Start Debian's docker-registry on 127.0.0.1:5001 (storage in .data/registry) unless one answers there.
	@if curl -fsS -o /dev/null http://$(IMAGE_REGISTRY)/v2/; then exit 0; fi; \
	mkdir -p $(CURDIR)/.data/registry; \
	printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: %s}\n' \
	  $(CURDIR)/.data/registry/data $(IMAGE_REGISTRY) > $(CURDIR)/.data/registry/config.yml; \
	echo ">> starting docker-registry on $(IMAGE_REGISTRY) (logs in .data/registry/log; stop it with: kill \$$(cat .data/registry/pid))"; \
	OTEL_TRACES_EXPORTER=none nohup $(REGISTRY) serve $(CURDIR)/.data/registry/config.yml > $(CURDIR)/.data/registry/log 2>&1 & echo $$! > $(CURDIR)/.data/registry/pid; \
	for i in $$(seq 1 100); do curl -fsS -o /dev/null http://$(IMAGE_REGISTRY)/v2/ && exit 0; sleep 0.1; done; \
	echo "docker-registry did not start; see .data/registry/log"; exit 1

.PHONY: conformance-flux
conformance-flux: tools flux build ## Run the GA conformance suite against Flux's own controllers on the local control plane (docs/conformance-flux.md).
	bash hack/conformance-flux.sh

##@ Run

.PHONY: flux-up
flux-up: tools flux ## Run Flux's source-, kustomize- and notification-controller on a local control plane (kubeconfig in .data/flux; Ctrl-C stops).
	go run ./engine/internal/testenv/fluxup --data-dir $(CURDIR)/.data/flux

.PHONY: run
run: tools build plugins ## The demo: a local control plane, the engine, a git server, a registry and signed plugin, demo objects (Ctrl-C stops everything).
	$(ENGINE) dev --data-dir $(CURDIR)/.data --kubeconfig-out $(CURDIR)/.data/kubeconfig --log-file $(CURDIR)/.data/engine.log
