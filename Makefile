# meshcheck's build. `make test` runs every test that needs no Docker;
# `make verify` is the main job (kind + Istio + scenarios) and needs Docker.
GO ?= go
BIN := bin/meshcheck

.PHONY: all build test vet fmt-check clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/meshcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: fmt-check vet
	$(GO) test -count=1 ./...

clean:
	rm -rf bin

# Topic fragments: verify, loadgen, local (demo), apiserver, kind (verify).
include $(wildcard mk/*.mk)
