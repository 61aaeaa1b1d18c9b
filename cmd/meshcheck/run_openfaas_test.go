package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRunOpenFaaSLocal runs tutorial 002 on the emulated OpenFaaS: the
// functions answer through the ingress and the gateway stand-in, the env
// function sees Envoy's headers and the gateway's identity, and an unknown
// function is a 404.
func TestRunOpenFaaSLocal(t *testing.T) {
	code, out, errOut := runExec(t, "run", "../../scenarios/openfaas", "--env", "local", "--rate", runRate())
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	titles, results := verdicts(out)
	want := []string{"probe openfaas / invoke / nodeinfo", "probe openfaas / invoke / env-headers", "probe openfaas / invoke / unknown-function"}
	if strings.Join(titles, "|") != strings.Join(want, "|") || strings.Join(results, " ") != "PASS PASS PASS" {
		t.Errorf("verdict tables %q %q, want %q all PASS\n%s", titles, results, want, out)
	}
	for _, w := range []string{"status 200 with headers", "every response with status 200 must show x-b3-traceid present", "emulated"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
}

// A function that does not echo the request's headers fails the header
// expectation, and the report names the condition that failed.
func TestRunOpenFaaSHeadersFail(t *testing.T) {
	dir := copyScenario(t, "../../scenarios/openfaas", filepath.Join("manifests", "functions.yaml"), "  handler: echo\n", "  handler: \"hello --message 'no headers here'\"\n")
	code, out, errOut := runExec(t, "run", dir, "--env", "local", "--rate", runRate())
	if code != ExitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, w := range []string{"probe openfaas / invoke / env-headers", "status 200 with headers: 0%", "headers in body:headers: the body has no JSON object there"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
}

// TestRunHelloOpenFaaSLocal: tutorials 000/001 with their function
// platform; the split between the per-version proxies moves as in
// scenarios/hello, each proxy's answer coming from its function through
// the OpenFaaS gateway.
func TestRunHelloOpenFaaSLocal(t *testing.T) {
	code, out, errOut := runExec(t, "run", "../../scenarios/hello-openfaas", "--env", "local", "--rate", runRate())
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	titles, results := verdicts(out)
	if len(titles) != 6 || strings.Count(strings.Join(results, " "), "PASS") != 6 {
		t.Errorf("want 6 verdict tables, all PASS (3 steps x ingress, in-mesh); got %q %q\n%s", titles, results, out)
	}
}
