package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/meshcheck/meshcheck/internal/junittest"
	"github.com/meshcheck/meshcheck/judge"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// probeSplitServer answers like an echo pod behind a gateway: for Host
// echo.local it names pod echo-v1-... or echo-v2-... at random with the given
// share of v1 (seeded), and it answers any other Host 404, as Istio's gateway
// does for a Host no route matches.
func probeSplitServer(t *testing.T, v1Percent int, seed uint64) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "echo.local" {
			http.Error(w, "", http.StatusNotFound)
			return
		}
		mu.Lock()
		v := "v2"
		if rnd.IntN(100) < v1Percent {
			v = "v1"
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"os":{"hostname":"echo-%s-6b7f9c8d4-q2w3e"}}`, r.URL.Path, v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// probePodsFile writes the pod name -> version map of probeSplitServer.
func probePodsFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pods.json")
	data := `{"echo-v1-6b7f9c8d4-q2w3e": "v1", "echo-v2-6b7f9c8d4-q2w3e": "v2"}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// probeExec runs meshcheck in-process and returns its exit code and output.
func probeExec(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := newRootCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.ExecuteContext(context.Background())
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return exitCode(err), stdout.String(), stderr.String() + msg
}

// probeArgs are the acceptance test's flags: rate 2000 so that the ~1,000-2,000
// responses a verdict needs arrive within a second or two.
func probeArgs(url, pods string, extra ...string) []string {
	return append([]string{"probe", "--url", url + "/echo", "--rate", "2000", "--duration", "60s",
		"--classify", "json:os.hostname", "--map", pods, "--expect", "v1=75,v2=25"}, extra...)
}

// TestProbeAcceptance is issue 3's acceptance test: against a server that
// answers v1/v2 at random 75/25 and 404s any other Host, probe with --host
// exits 0; against 55/45 it exits 1; without --host it does not pass: every
// response is a 404, so the probe never settles and exits 4 with what it saw.
func TestProbeAcceptance(t *testing.T) {
	pods := probePodsFile(t)
	good := probeSplitServer(t, 75, 1)
	code, out, errOut := probeExec(t, probeArgs(good.URL, pods, "--host", "echo.local")...)
	if code != ExitPass {
		t.Fatalf("75/25 with --host: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"PASS", "rate", "2,000/s asked", "requests", "verdict decided", "status", "200: ", "latency", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	bad := probeSplitServer(t, 55, 2)
	if code, out, errOut := probeExec(t, probeArgs(bad.URL, pods, "--host", "echo.local")...); code != ExitFail {
		t.Fatalf("55/45: exit %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut = probeExec(t, probeArgs(good.URL, pods, "--settle-timeout", "1s")...)
	if code != ExitEnvironment {
		t.Fatalf("without --host: exit %d, want 4:\n%s", code, out)
	}
	if !strings.Contains(errOut, "404 ×") || !strings.Contains(errOut, "no --host") || !strings.Contains(errOut, "settle timeout 1s") {
		t.Errorf("without --host the error does not show the 404s and the hint:\n%s", errOut)
	}
}

func TestProbeJSONAndSave(t *testing.T) {
	pods := probePodsFile(t)
	srv := probeSplitServer(t, 75, 3)
	save := filepath.Join(t.TempDir(), "results.ndjson")
	code, out, errOut := probeExec(t, probeArgs(srv.URL, pods, "--host", "echo.local", "-o", "json", "--save", save)...)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Schema, Command string
		Probes          []struct {
			Target struct{ URL, Host string }
			Result verify.Result
			Stats  map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Probes) != 1 || doc.Schema != report.Schema || doc.Command != "probe" {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	rep := doc.Probes[0]
	rate, ok := rep.Stats["rateAchieved"].(float64)
	if !ok || rate <= 0 || rep.Stats["rateAsked"] != 2000.0 || rep.Target.Host != "echo.local" || rep.Result.Verdict != verify.Pass {
		t.Fatalf("JSON report: %s", out)
	}
	for _, key := range []string{"requests", "durationSeconds", "statusCodes", "latencyMs", "errorSamples", "unclassifiedSamples"} {
		if _, ok := rep.Stats[key]; !ok {
			t.Errorf("stats lack %q", key)
		}
	}
	// The saved run replays to the same verdict, with its target.
	replay, err := judge.ReplayFile(save, rep.Result.Expectation)
	if err != nil {
		t.Fatal(err)
	}
	rp := replay.Probes[0]
	if rp.Result.Verdict != verify.Pass || rp.Stats.Requests != rep.Result.Requests || rp.Target.Host != "echo.local" ||
		rp.Emulated || rp.Stats.RateAsked != 2000 {
		t.Fatalf("replay: %v after %d, live %d; %+v", rp.Result.Verdict, rp.Stats.Requests, rep.Result.Requests, rp)
	}
}

func TestProbeExpectStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "RBAC: access denied", http.StatusForbidden)
	}))
	defer srv.Close()
	code, out, errOut := probeExec(t, "probe", "--url", srv.URL, "--rate", "2000", "--expect-status", "403")
	if code != ExitPass || !strings.Contains(out, "RBAC: access denied") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestProbeUnreachable is issue 8's acceptance: an endpoint that never
// answers is an environment error in one line, not a FAIL table.
func TestProbeUnreachable(t *testing.T) {
	code, out, errOut := probeExec(t, "probe", "--url", "http://127.0.0.1:1/", "--expect", "v1=75,v2=25", "--classify", "json:version")
	if code != ExitEnvironment || out != "" || !strings.HasPrefix(errOut, "cannot reach http://127.0.0.1:1/: ") ||
		!strings.Contains(errOut, "connection refused") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// CI still gets a report: the environment error is a JUnit <error>.
	file := filepath.Join(t.TempDir(), "probe.xml")
	code, out, errOut = probeExec(t, "probe", "--url", "http://127.0.0.1:1/", "--expect", "v1=75,v2=25", "--classify", "json:version",
		"-o", "json", "--report-file", file)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	totals, err := junittest.Check(data)
	if code != ExitEnvironment || err != nil || totals != (junittest.Totals{Suites: 1, Tests: 1, Errors: 1}) ||
		!strings.Contains(string(data), `type="environment"`) || !strings.Contains(out, `"kind": "environment"`) {
		t.Errorf("exit %d, %+v, %v\n%s\nstdout %s\nstderr %s", code, totals, err, data, out, errOut)
	}
}

// TestProbeUndetectableTolerance: a tolerance of at least the smallest
// weight cannot tell a missing version from a present one: a usage error
// naming both numbers.
func TestProbeUndetectableTolerance(t *testing.T) {
	code, _, errOut := probeExec(t, "probe", "--url", "http://127.0.0.1:1/", "--expect", "v1=90,v2=10", "--classify", "json:version", "--tolerance", "0.1")
	if code != ExitUsage || !strings.Contains(errOut, "tolerance 0.1 (±10 points) is not below the smallest non-zero weight v2=10") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

func TestProbeThroughAgent(t *testing.T) {
	pods := probePodsFile(t)
	srv := probeSplitServer(t, 75, 4)
	a, err := loadgen.NewAgentServer(loadgen.DefaultAgentLimits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	agent := httptest.NewServer(a)
	defer agent.Close()
	code, out, errOut := probeExec(t, probeArgs(srv.URL, pods, "--host", "echo.local", "--agent", agent.URL)...)
	if code != ExitPass || !strings.Contains(out, "requests sent by the agent at "+agent.URL) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// An agent that refuses the probe is an environment error.
	code, _, errOut = probeExec(t, probeArgs(srv.URL, pods, "--host", "echo.local", "--agent", agent.URL, "--rate", "9000")...)
	if code != ExitEnvironment || !strings.Contains(errOut, "at most 5000") {
		t.Fatalf("refused: exit %d: %s", code, errOut)
	}
}

func TestProbeInconclusive(t *testing.T) {
	pods := probePodsFile(t)
	srv := probeSplitServer(t, 75, 5)
	code, out, errOut := probeExec(t, probeArgs(srv.URL, pods, "--host", "echo.local", "--max-requests", "50")...)
	if code != ExitInconclusive || !strings.Contains(out, "request budget spent") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestProbeUsageErrors(t *testing.T) {
	pods := probePodsFile(t)
	badMap := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badMap, []byte("{\n\"a\": \"v1\",\n\"a\": \"v2\"\n}"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--expect", "v1=100", "--classify", "status"}, "--url is required"},
		{probeArgs(url, pods, "--host", "echo.local:80"), "carries a port: drop it (--host echo.local)"},
		{probeArgs(url, pods, "--rate", "0"), `"--rate" flag: from 1 to 1000000 requests per second`},
		{probeArgs(url, pods, "--timeout", "0s"), `"--timeout" flag: a positive duration`},
		{probeArgs(url, pods, "--duration", "-1s"), `"--duration" flag: a duration such as 30s`},
		{probeArgs(url, pods, "--classify", "regex:(a)(b)"), "--classify"},
		{probeArgs(url, pods, "--expect", "v1:75"), "--expect"},
		{probeArgs(url, pods, "--expect-status", "403"), "give one of them"},
		{[]string{"probe", "--url", url}, "--expect is required"},
		{probeArgs(url, badMap), "bad.json:3"},
		{probeArgs(url, pods, "--tolerance", "2"), `"--tolerance" flag: a number in (0, 1)`},
		{probeArgs(url, pods, "--alpha", "0.7"), `"--alpha" flag: a number in (0, 0.5)`},
		{probeArgs(url, pods, "--error-budget", "1"), `"--error-budget" flag: a number in [0, 1)`},
		{probeArgs(url, pods, "--via", "socks5://x:1"), "--via"},
		{probeArgs(url, pods, "-H", "nocolon"), "--header"},
		{probeArgs(url, pods, "-o", "yaml"), "want text, json, junit, markdown or html"},
		{probeArgs(url, pods, "--max-requests", "0"), "--max-requests"},
		{probeArgs(url, pods, "--rate", "x"), "invalid argument"},
	} {
		code, _, errOut := probeExec(t, tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
