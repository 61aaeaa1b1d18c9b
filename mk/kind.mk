# The main job (docs/kind.md): `make verify` runs the tutorial scenarios on a
# real kind cluster with Istio. Needs a container engine (Docker, Podman or
# nerdctl); without one `run --env kind` exits 4 and says so. `run --env kind`
# reuses the cluster `meshcheck up` left (kind-up), else creates one (cluster,
# Istio, images) and deletes it after the run; `meshcheck down` then makes
# sure nothing is left whatever happened (it is idempotent).
VERIFY_SCENARIOS ?= scenarios/echo scenarios/hello
KIND_UP_FLAGS ?=
KIND_RUN_FLAGS ?=

.PHONY: verify verify-plan kind-up kind-down kind-plan

verify: build
	@status=0; \
	./$(BIN) run $(VERIFY_SCENARIOS) --env kind $(KIND_RUN_FLAGS) || status=$$?; \
	./$(BIN) down || { rc=$$?; if [ $$status -eq 0 ]; then status=$$rc; fi; }; \
	exit $$status

# What `make verify` would do: the cluster plan, then every manifest it would
# apply per step; needs no container engine and changes nothing.
verify-plan: build
	./$(BIN) run $(VERIFY_SCENARIOS) --env kind --dry-run $(KIND_RUN_FLAGS)

# The same steps one at a time, for working on a cluster by hand.
kind-up: build
	./$(BIN) up $(KIND_UP_FLAGS)

kind-down: build
	./$(BIN) down

# What `up` would do (kind config, IstioOperator, istioctl, images); needs no
# container engine.
kind-plan: build
	./$(BIN) up --dry-run $(KIND_UP_FLAGS)
