# The embedded local environment (env/local): `make demo` runs the tutorial
# scenarios with --env local, in-process, with no container engine or
# cluster. An emulated request costs about half a millisecond end to end
# (docs/benchmarks/local.md), so the demo raises the scenarios' rate
# (100/s, chosen for kind) to DEMO_RATE; the verdicts need the same number
# of requests either way.
DEMO_RATE ?= 1000
DEMO_SCENARIOS ?= scenarios/echo scenarios/hello

.PHONY: demo

demo: build
	./$(BIN) run $(DEMO_SCENARIOS) --env local --rate $(DEMO_RATE)
