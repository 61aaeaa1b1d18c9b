# Control-plane test tier (docs/fidelity.md): istiod (pilot-discovery) and
# istioctl of the pinned Istio release, built from istio.io/istio
# (tools/istio, a separate module) into a git-ignored cache, run by
# internal/istiodtest against the API-server tier's kube-apiserver and read
# over xDS. Tests behind the `controlplane` build tag need both caches.
ISTIO_BIN_DIR ?= $(CURDIR)/.cache/istio/bin

# Packages holding `controlplane` tests; their tests are named
# TestControlPlane* (the packages' other tests run in test-apiserver).
CONTROLPLANE_PKGS := ./internal/istiodtest/... ./internal/routegen/... ./internal/authzgen/... ./env/programmed/... ./env/istio/ ./cmd/meshcheck/

# Size and seed of the differential corpus: `make test` runs a sample,
# `make fidelity` the corpus docs/fidelity.md reports.
FIDELITY_SAMPLE ?= 100
FIDELITY_CONFIGS ?= 2000
FIDELITY_SEED ?= 1

.PHONY: istio-bins test-controlplane fidelity vet-controlplane

# Builds the binaries; skipped when they exist for the pinned commit and
# toolchain (stamp file in the folder).
istio-bins:
	GO=$(GO) tools/istio/build.sh $(ISTIO_BIN_DIR)

# The control-plane tier alone: every scenario's programmed routes against
# the model, the programmed-route matcher on real istiod output, istioctl
# in `scenarios validate`, and a seeded sample of the differential corpus.
test-controlplane: istio-bins apiserver-bins
	KUBEBUILDER_ASSETS=$(APISERVER_BIN_DIR) ISTIO_BIN_DIR=$(ISTIO_BIN_DIR) \
	ROUTEGEN_CONFIGS=$(FIDELITY_SAMPLE) ROUTEGEN_SEED=$(FIDELITY_SEED) \
	$(GO) test -count=1 -tags controlplane -run '^TestControlPlane' $(CONTROLPLANE_PKGS)

# The differential corpus docs/fidelity.md reports: FIDELITY_CONFIGS
# generated configs, judged by the model and by istiod; prints the
# agreement and every disagreement.
fidelity: istio-bins apiserver-bins
	KUBEBUILDER_ASSETS=$(APISERVER_BIN_DIR) ISTIO_BIN_DIR=$(ISTIO_BIN_DIR) \
	ROUTEGEN_CONFIGS=$(FIDELITY_CONFIGS) ROUTEGEN_SEED=$(FIDELITY_SEED) \
	$(GO) test -count=1 -timeout 60m -tags controlplane -run '^TestControlPlaneCorpus$$' -v ./internal/routegen/

# go vet of the files behind the `controlplane` build tag too.
vet-controlplane:
	$(GO) vet -tags controlplane ./...
