package judge

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

// splitServer answers v1 on three requests of four and v2 on the fourth, in
// the X-Version header.
func splitServer(t *testing.T) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		v := "v1"
		if n.Add(1)%4 == 0 {
			v = "v2"
		}
		w.Header().Set("X-Version", v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func probe(t *testing.T, url, classify, weights string) Probe {
	t.Helper()
	o := loadgen.DefaultOptions()
	o.Rate, o.MaxRequests = 2000, 20000
	p := Probe{Load: loadgen.Probe{Target: loadgen.Target{URL: url}, Options: o}, Expect: verify.Defaults()}
	if classify != "" {
		c, err := loadgen.ParseClassifier(classify)
		if err != nil {
			t.Fatal(err)
		}
		p.Load.Classify = c
	}
	if weights != "" {
		ws, err := verify.ParseWeights(weights)
		if err != nil {
			t.Fatal(err)
		}
		p.Expect.Weights = ws
	}
	return p
}

// TestRunStopsWhenDecided: the engine decides a 75/25 split and the attack
// stops there, long before its budget; the records saved are the judged
// ones plus settle and after.
func TestRunStopsWhenDecided(t *testing.T) {
	srv := splitServer(t)
	var records, progress int64
	res, stats, err := Run(context.Background(), probe(t, srv.URL, "header:x-version", "v1=75,v2=25"), Options{
		Records:  func(loadgen.Record) error { records++; return nil },
		Every:    time.Millisecond,
		Progress: func(Progress) { progress++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verify.Pass || stats.Stopped != loadgen.StopDecided || stats.Requests != res.Requests || stats.Requests >= 20000 {
		t.Fatalf("%v after %d (stats %d), stopped %q", res.Verdict, res.Requests, stats.Requests, stats.Stopped)
	}
	if records != stats.Settle.Requests+stats.Requests+stats.Ignored {
		t.Errorf("%d records written, stats count %d settle + %d judged + %d ignored", records, stats.Settle.Requests,
			stats.Requests, stats.Ignored)
	}
	if progress == 0 {
		t.Error("no progress snapshot")
	}
}

// TestRunStatusSettlesOnAnyAnswer: a status expectation settles on 403s
// (below 500), which are errors to a version classifier, and passes.
func TestRunStatusSettlesOnAnyAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "RBAC: access denied", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	p := probe(t, srv.URL, "", "")
	p.Expect.Status = 403
	res, stats, err := Run(context.Background(), p, Options{})
	if err != nil || res.Verdict != verify.Pass || stats.Settle.Requests != loadgen.DefaultSettleResponses {
		t.Fatalf("%v, settle %d, %v", res.Verdict, stats.Settle.Requests, err)
	}
}

func TestValidate(t *testing.T) {
	if err := probe(t, "http://127.0.0.1:1/", "status", "v1=100").Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Probe
		want string
	}{
		{probe(t, "http://127.0.0.1:1/", "", "v1=100"), "expecting versions needs a classifier"},
		{probe(t, "", "status", "v1=100"), "no URL"},
		{probe(t, "http://127.0.0.1:1/", "status", ""), "weights"},
	} {
		if err := tc.p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
		if _, _, err := Run(context.Background(), tc.p, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run: %v, want %q", err, tc.want)
		}
	}
}

func TestProgressString(t *testing.T) {
	line := Progress{Progress: loadgen.Progress{Elapsed: 1500 * time.Millisecond, Requests: 1200, Rate: 199.5},
		Result: verify.Result{Lines: []verify.Line{{Name: "v1", Share: 0.75, Lower: 0.7, Upper: 0.8}}}}.String()
	if want := "  1.5s  1,200 req  199.5/s  v1 75% [70%, 80%]"; line != want {
		t.Fatalf("progress line %q, want %q", line, want)
	}
}

// writeFile writes a results file of n judged records, 3 v1 to 1 v2.
func writeFile(t *testing.T, n int, h *loadgen.Header) string {
	t.Helper()
	var b strings.Builder
	if h != nil {
		fmt.Fprintf(&b, `{"results":%q,"environment":%q,"emulated":%v,"scenario":"echo","step":"split","probe":"ingress","from":"ingress","url":"http://x/echo","host":"echo.local","rate":200,"agent":%q}`+"\n",
			loadgen.ResultsSchema, h.Environment, h.Emulated, h.Agent)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := "v1"
		if i%4 == 3 {
			v = "v2"
		}
		fmt.Fprintf(&b, `{"seq":%d,"phase":"judged","t":%q,"latency":1000000,"status":200,"version":%q}`+"\n",
			i, t0.Add(time.Duration(i)*5*time.Millisecond).Format(time.RFC3339Nano), v)
	}
	path := filepath.Join(t.TempDir(), "r.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayFile(t *testing.T) {
	exp := probe(t, "http://x/", "status", "v1=75,v2=25").Expect
	run, err := ReplayFile(writeFile(t, 8000, &loadgen.Header{Environment: "local", Emulated: true}), exp)
	if err != nil {
		t.Fatal(err)
	}
	p := run.Probes[0]
	if run.Verdict != verify.Pass || !run.Emulated || run.Environment != "local" || !p.Emulated || p.Scenario != "echo" ||
		p.Step != "split" || p.Name != "ingress" || p.Vantage != "ingress" || p.Target.Host != "echo.local" || p.Stats.RateAsked != 200 ||
		len(p.Notes) != 0 {
		t.Fatalf("replayed run %+v", run)
	}
	run, err = ReplayFile(writeFile(t, 8000, &loadgen.Header{Environment: "kind", Agent: "http://127.0.0.1:18080"}), exp)
	if err != nil || run.Emulated || run.Environment != "kind" || len(run.Probes[0].Notes) != 1 ||
		!strings.Contains(run.Probes[0].Notes[0], "agent at http://127.0.0.1:18080") {
		t.Fatalf("kind run through an agent: %+v, %v", run, err)
	}
	run, err = ReplayFile(writeFile(t, 8000, nil), exp)
	if err != nil || run.Emulated || run.Verdict != verify.Pass || len(run.Probes[0].Notes) != 1 || run.Probes[0].Notes[0] != NoHeaderNote {
		t.Fatalf("file without header: %+v, %v", run, err)
	}
	bad := exp
	bad.Alpha = 0.9
	if _, err := ReplayFile(writeFile(t, 10, nil), bad); err == nil || !strings.HasPrefix(err.Error(), "expectation: ") {
		t.Errorf("bad expectation: %v", err)
	}
	if _, err := ReplayFile(filepath.Join(t.TempDir(), "absent.ndjson"), exp); err == nil || !strings.Contains(err.Error(), "absent.ndjson") {
		t.Errorf("absent file: %v", err)
	}
}
