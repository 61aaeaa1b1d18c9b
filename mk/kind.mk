# The main job (docs/kind.md): `make verify` is `meshcheck verify`: it
# creates a kind cluster with Istio (or reuses the one `meshcheck up` left),
# runs every scenario under scenarios/, writes the reports to _out/
# (report.txt, report.json, junit.xml, summary.md; after a failure the debug
# bundle in debug/) and deletes the cluster,
# except after a failure with --keep-on-failure (the default here, so that
# the cluster can be inspected; `meshcheck down`, which CI always runs,
# deletes it). Needs a container engine (Docker, Podman or nerdctl); without
# one it exits 4 and says so.
#
# The recipe execs meshcheck: make runs a recipe line with $(SHELL) -c, and
# exec replaces that shell with meshcheck, so that a terminal's Ctrl-C
# (SIGINT to the whole foreground process group) and the SIGTERM GNU make
# passes on to the recipe's process when it gets one itself (src/commands.c,
# fatal_error_signal; "Interrupts" in the GNU make manual) reach meshcheck,
# with no shell in between, and it cleans up (deleting a cluster it created).
VERIFY_FLAGS ?= --keep-on-failure
VERIFY_SCENARIOS ?= scenarios/echo scenarios/hello
KIND_UP_FLAGS ?=
KIND_RUN_FLAGS ?=

.PHONY: verify verify-plan kind-up kind-down kind-plan

verify: build
	exec ./$(BIN) verify $(VERIFY_FLAGS)

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
