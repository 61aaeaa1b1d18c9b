# meshcheck's build. `make test` runs every test that needs no Docker;
# `make verify` is the main job (kind + Istio + scenarios) and needs Docker.
GO ?= go
BIN := bin/meshcheck

.PHONY: all build test race test-race vet fmt-check clean

all: build

# The version `meshcheck version` prints: git describe of the checkout
# (also in a git worktree, where the toolchain's VCS stamp is missing);
# empty outside a checkout, and the build information then speaks.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X github.com/meshcheck/meshcheck/internal/buildinfo.stamp=$(VERSION))

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meshcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Vets every file, including those behind the `apiserver`, `controlplane`
# and `e2e` build tags.
vet:
	$(GO) vet ./...
	$(GO) vet -tags apiserver ./...
	$(GO) vet -tags controlplane ./...
	$(GO) vet -tags e2e ./...

# Every test that runs without Docker: unit, simulation, loopback load,
# fuzz seed corpora, the local end-to-end scenarios and the real API-server
# tier (test-apiserver, in mk/apiserver.mk, builds kube-apiserver and etcd
# into .cache/ first when they are missing) and the control-plane tier
# (test-controlplane, in mk/controlplane.mk: real istiod and istioctl, built
# into .cache/ when missing), after actionlint of the workflows, the race
# run and the e2e suite in the local environment (e2e-local, mk/e2e.mk);
# last, the HTML report in headless Chromium (test-browser, mk/browser.mk).
test: fmt-check vet lint-workflows race e2e-local test-apiserver test-controlplane test-browser

# The race detector over every package, with -short: the seeded simulations
# and the seconds-long loopback tests skip (under -race they would take many
# minutes); make test runs them without it. The packages are compiled in
# parallel, then tested one at a time (-p 1): the local-environment tests run
# an emulated mesh and its load generator in one process, and two such
# packages at once under the race detector overload two cores until requests
# time out. test-race is its old name.
race:
	$(GO) test -race -short -count=1 -run '^$$' ./... >/dev/null
	$(GO) test -race -short -count=1 -p 1 ./...

test-race: race

clean:
	rm -rf bin

# Topic fragments: verify, loadgen, local (demo), apiserver, controlplane,
# kind (verify), e2e (the go test suite), lint (workflows), browser (the
# HTML report in Chromium).
include $(wildcard mk/*.mk)
