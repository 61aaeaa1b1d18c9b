# The main job (docs/kind.md): `make verify` runs the tutorial scenarios on a
# real kind cluster with Istio. Needs a container engine (Docker, Podman or
# nerdctl); without one `meshcheck up` exits 4 and says so. The cluster is
# deleted at the end whatever happened (`meshcheck down` is idempotent; `up`
# also deletes it itself when it fails or is interrupted).
VERIFY_SCENARIOS ?= scenarios/echo scenarios/hello
KIND_UP_FLAGS ?=

.PHONY: verify kind-up kind-down kind-plan

verify: build
	@status=0; \
	./$(BIN) up $(KIND_UP_FLAGS) || status=$$?; \
	if [ $$status -eq 0 ]; then ./$(BIN) run $(VERIFY_SCENARIOS) --env kind || status=$$?; fi; \
	./$(BIN) down || { rc=$$?; if [ $$status -eq 0 ]; then status=$$rc; fi; }; \
	exit $$status

# The same steps one at a time, for working on a cluster by hand.
kind-up: build
	./$(BIN) up $(KIND_UP_FLAGS)

kind-down: build
	./$(BIN) down

# What `up` would do (kind config, IstioOperator, istioctl, images); needs no
# container engine.
kind-plan: build
	./$(BIN) up --dry-run $(KIND_UP_FLAGS)
