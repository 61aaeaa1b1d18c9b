# API-server test tier (docs/apiserver.md): kube-apiserver and etcd built
# from Go modules (tools/apiserver, a separate module) into a git-ignored
# cache, started by internal/apiservertest through controller-runtime's envtest.
APISERVER_BIN_DIR ?= $(CURDIR)/.cache/apiserver/bin

.PHONY: apiserver-bins test-apiserver vet-apiserver

# Builds the binaries; skipped when they exist for the pinned versions and
# toolchain (stamp file in the folder).
apiserver-bins:
	GO=$(GO) tools/apiserver/build.sh $(APISERVER_BIN_DIR)

# Every test, including those behind the `apiserver` build tag, which run
# against the real API server.
test-apiserver: apiserver-bins
	KUBEBUILDER_ASSETS=$(APISERVER_BIN_DIR) $(GO) test -count=1 -tags apiserver ./...

# go vet of the files behind the `apiserver` build tag too.
vet-apiserver:
	$(GO) vet -tags apiserver ./...
