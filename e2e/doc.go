// Package e2e is meshcheck's conformance suite on sigs.k8s.io/e2e-framework
// and gomega, behind the build tag e2e (make e2e):
//
//	go test -tags e2e -count=1 ./e2e/ -args -meshcheck.env=kind
//
// TestMain opens the environment -meshcheck.env names (kind: a kind
// cluster with Istio, created and deleted by meshcheck's own provisioning;
// existing: the cluster of --kubeconfig and --context, e2e-framework's own
// flags; local: the in-process emulation) in an e2e-framework Setup
// function and closes it in the Finish function, which always runs.
// Each scenario under -meshcheck.scenarios is one feature, labelled with
// its name (scenario=, tutorial=) and its tutorial's URL (source=): its
// Setup sets the environment up, an assessment per step applies it, an
// assessment per probe waits (gomega's Eventually) until the data plane is
// programmed and runs the probe, expecting it to PASS (matchers.HavePassed,
// whose failure message is the probe's verdict in words), and its Teardown
// tears the scenario down whatever happened. The suite drives the same
// engine as meshcheck run and verify, a runner.Session, and at the end
// writes the run's reports to -meshcheck.out (runner.ReportFiles).
//
// The suite's files are all tests behind the tag; this file documents the
// package, and matchers (no tag) holds the matchers, tested by every
// `go test`.
package e2e
