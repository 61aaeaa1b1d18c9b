# The conformance suite (e2e/, build tag e2e; docs in e2e/doc.go): the
# scenarios under scenarios/ as go tests on sigs.k8s.io/e2e-framework and
# gomega, one feature per scenario and one assessment per step and probe,
# driving the same engine as `meshcheck verify` (runner.Session). `make e2e`
# runs it on a kind cluster it creates and deletes (needs a container
# engine), writing the run's reports to _out/e2e/ (report.txt, report.json,
# junit.xml, summary.md, report.html; after a failure the debug bundle in
# _out/e2e/debug/). E2E_FLAGS are the suite's flags, given after -args:
# -meshcheck.env=kind|existing|local, --kubeconfig and --context (existing),
# -meshcheck.scenarios, -meshcheck.out, -meshcheck.rate, e2e-framework's
# --labels scenario=echo, ... E2E_TESTFLAGS are go test's own, before the
# package: -v shows each assessment and, as meshcheck run does, each
# probe's report as it finishes.
#
# `make e2e-local` runs it in the local environment (in-process, no
# container engine, at E2E_LOCAL_RATE requests per second as `make demo`
# does); `make test` runs it, after the race run.
#
# The recipes exec go test, as mk/kind.mk execs meshcheck: a terminal's
# Ctrl-C reaches the test binary, which tears down and deletes what it
# created.
E2E_FLAGS ?= -meshcheck.env=kind
E2E_TESTFLAGS ?=
E2E_LOCAL_RATE ?= 1000

.PHONY: e2e e2e-local

e2e:
	exec $(GO) test -tags e2e -count=1 -timeout 60m $(E2E_TESTFLAGS) ./e2e/ -args $(E2E_FLAGS)

e2e-local:
	exec $(GO) test -tags e2e -count=1 -timeout 10m ./e2e/ -args -meshcheck.env=local -meshcheck.rate=$(E2E_LOCAL_RATE) -meshcheck.out=../_out/e2e-local
