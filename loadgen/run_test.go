package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

func TestHostHeaderArrivesAsGiven(t *testing.T) {
	srv := newEchoServer(t, "", 1, share{"v1", 100})
	for _, host := range []string{"echo.local", ""} {
		p := judgedProbe{Target: Target{URL: srv.URL + "/echo", Host: host}, Options: fastOptions(50), Expect: statusExpect(200)}
		p.Options.MaxRequests = 50
		srv.mu.Lock()
		clear(srv.hosts)
		srv.mu.Unlock()
		if _, err := runJudged(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		want := host
		if want == "" {
			want = strings.TrimPrefix(srv.URL, "http://")
		}
		hosts := srv.seenHosts()
		if len(hosts) != 1 || hosts[want] == 0 {
			t.Fatalf("host %q: the server saw %v", host, hosts)
		}
	}
}

func TestHostWithPortRefused(t *testing.T) {
	for _, host := range []string{"echo.local:80", "[::1]:8080", "echo.local:"} {
		err := validateHost(host)
		if err == nil || !strings.Contains(err.Error(), "carries a port: drop it") || !strings.Contains(err.Error(), mesh.HostPortRule) {
			t.Errorf("validateHost(%q) = %v, want the port refused with the Istio version history", host, err)
		}
	}
	for _, host := range []string{"echo.local", "[::1]", "10.0.0.1", ""} {
		if err := validateHost(host); err != nil {
			t.Errorf("validateHost(%q) = %v", host, err)
		}
	}
	for _, host := range []string{"::1", "http://echo.local", "echo local", "echo.local/x"} {
		if err := validateHost(host); err == nil {
			t.Errorf("validateHost(%q) accepted", host)
		}
	}
	p := judgedProbe{Target: Target{URL: "http://127.0.0.1:1/", Host: "echo.local:80"}, Options: DefaultOptions(), Expect: statusExpect(200)}
	if _, err := runJudged(context.Background(), p); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Run with a Host port: %v", err)
	}
}

func TestProbeValidate(t *testing.T) {
	good := Probe{Target: Target{URL: "http://127.0.0.1:1/"}, Options: DefaultOptions(),
		Classify: mustClassifier(t, "status"), Map: VersionMap{"200": "v1"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Probe)
		want string
	}{
		{"rate 0", func(p *Probe) { p.Options.Rate = 0 }, "at least 1 request per second"},
		{"negative duration", func(p *Probe) { p.Options.Duration = -1 }, "duration"},
		{"negative budget", func(p *Probe) { p.Options.MaxRequests = -1 }, "max requests"},
		{"no URL", func(p *Probe) { p.Target.URL = "" }, "no URL"},
		{"ftp", func(p *Probe) { p.Target.URL = "ftp://x/" }, "http or https"},
		{"Host header", func(p *Probe) { p.Target.Header = http.Header{"Host": {"x"}} }, "--host"},
		{"bad method", func(p *Probe) { p.Target.Method = "GE T" }, "method"},
		{"map without classifier", func(p *Probe) { p.Classify = Classifier{} }, "no classifier is set"},
		{"bad map", func(p *Probe) { p.Map = VersionMap{"a": "not ok"} }, "version map"},
		{"bad via", func(p *Probe) { p.Options.Via = &url.URL{Scheme: "socks5", Host: "x"} }, "forward proxy"},
	} {
		p := good
		tc.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestClassifiersEndToEnd runs a probe per classifier against a server that
// always answers v1 and expects all traffic on v1.
func TestClassifiersEndToEnd(t *testing.T) {
	srv := newEchoServer(t, "", 2, share{"v1", 100})
	for _, tc := range []struct {
		spec string
		m    VersionMap
	}{
		{spec: "json:os.hostname", m: VersionMap{"echo-v1-7d9f8b6c5d-x2x4z": "v1"}},
		{spec: "json:items.0.v"},
		{spec: "regex:Hello (v[0-9])"},
		{spec: "header:x-version"},
		{spec: "status", m: VersionMap{"200": "v1"}},
	} {
		p := judgedProbe{Target: Target{URL: srv.URL}, Options: fastOptions(5000), Classify: mustClassifier(t, tc.spec), Map: tc.m,
			Expect: weights(t, "v1=100")}
		out, err := runJudged(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if out.Result.Verdict != verify.Pass || out.Stats.Unclassified != 0 {
			t.Errorf("%s: %v with %d unclassified (%v)", tc.spec, out.Result.Verdict, out.Stats.Unclassified, out.Stats.UnclassifiedSamples)
		}
	}
}

func TestUnclassifiedCountedWithSamples(t *testing.T) {
	srv := newEchoServer(t, "", 3, share{"v1", 100})
	// A map without the pod name: every response is unclassified.
	o := fastOptions(5000)
	o.SettleResponses = -1 // judge the unclassified responses from the first
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "json:os.hostname"),
		Map: VersionMap{"other-pod": "v1"}, Expect: weights(t, "v1=100")}
	out, err := runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Verdict != verify.Fail || out.Stats.Unclassified == 0 || out.Stats.Unclassified != out.Result.Errors.Unclassified {
		t.Fatalf("verdict %v, stats %d unclassified, result %+v", out.Result.Verdict, out.Stats.Unclassified, out.Result.Errors)
	}
	s := out.Stats.UnclassifiedSamples
	if len(s) != 1 || !strings.Contains(s[0].Text, "version map does not hold") || !strings.Contains(s[0].Body, "echo-v1") ||
		s[0].Count != out.Stats.Unclassified {
		t.Fatalf("samples = %+v", s)
	}
	// Without a map, a raw value that is not a version name is unclassified.
	p.Map, p.Classify = nil, mustClassifier(t, "json:message")
	out, err = runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Stats.Unclassified == 0 || !strings.Contains(out.Stats.UnclassifiedSamples[0].Text, "not a version name") {
		t.Fatalf("raw %q: %+v", "Hello v1", out.Stats.UnclassifiedSamples)
	}
}

// TestErrorsNeverVersions sends requests that fail in every way while the
// bodies and headers name a version: none may count as one.
func TestErrorsNeverVersions(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", "v1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"os":{"hostname":"v1"}} no healthy upstream`))
	}))
	defer bad.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name, url  string
		timeout    time.Duration
		wantStatus int
		wantText   string
	}{
		{"503", bad.URL, 0, 503, "503 Service Unavailable"},
		{"refused", refused, 0, 0, "refused"},
		{"timeout", hang.URL, 50 * time.Millisecond, 0, "Timeout"},
	} {
		for _, spec := range []string{"json:os.hostname", "header:x-version", "status"} {
			o := fastOptions(20)
			o.Rate, o.Timeout = 500, tc.timeout
			o.SettleResponses = -1 // judge the errors from the first
			exp := weights(t, "v1=100")
			exp.ErrorBudget = 0.5 // let the run reach its budget
			p := judgedProbe{Target: Target{URL: tc.url}, Options: o, Classify: mustClassifier(t, spec), Expect: exp}
			if spec == "status" {
				p.Map = VersionMap{"503": "v1", "0": "v1"}
			}
			out, err := runJudged(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			r := out.Result
			for _, l := range r.Lines {
				if l.Name == "v1" && l.Count != 0 {
					t.Errorf("%s/%s: %d errors counted as v1", tc.name, spec, l.Count)
				}
			}
			if r.Errors.Transport+r.Errors.BadStatus != r.Requests || out.Stats.Errors != r.Requests || r.Requests == 0 {
				t.Errorf("%s/%s: errors %+v of %d requests; stats %d", tc.name, spec, r.Errors, r.Requests, out.Stats.Errors)
			}
			if out.Stats.StatusCodes[tc.wantStatus] != r.Requests {
				t.Errorf("%s/%s: status codes %v", tc.name, spec, out.Stats.StatusCodes)
			}
			if len(out.Stats.ErrorSamples) == 0 || !strings.Contains(out.Stats.ErrorSamples[0].Text, tc.wantText) {
				t.Errorf("%s/%s: samples %+v, want %q", tc.name, spec, out.Stats.ErrorSamples, tc.wantText)
			}
		}
	}
}

// TestEarlyStop: a correct 75/25 split is decided long before the request
// budget or the duration; the attack must stop then, and every request the
// server saw must be in the results, in one of the three phases.
func TestEarlyStop(t *testing.T) {
	srv := newEchoServer(t, "", 4, share{"v1", 75}, share{"v2", 25})
	o := fastOptions(50000)
	o.Duration = time.Minute
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "header:x-version"), Expect: weights(t, "v1=75,v2=25")}
	phases := map[Phase]int64{}
	out, err := runJudged(context.Background(), p, OnRecord(func(r Record) error { phases[r.Phase]++; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Verdict != verify.Pass || out.Stats.Stopped != StopDecided {
		// The failing lines and the error counts tell a wrong verdict
		// from a machine too loaded to answer (transport errors).
		t.Fatalf("verdict %v, stopped %q after %d requests: failing lines %q, errors %+v, statuses %v",
			out.Result.Verdict, out.Stats.Stopped, out.Result.Requests, out.Result.Failures(), out.Result.Errors, out.Stats.StatusCodes)
	}
	if out.Stats.Requests != out.Result.Requests || phases[PhaseJudged] != out.Result.Requests {
		t.Fatalf("stats counted %d requests, the verdict %d, the judged records %d", out.Stats.Requests, out.Result.Requests, phases[PhaseJudged])
	}
	// Every request sent is recorded: settled, judged, or sent and not
	// judged (in flight, or completed behind an earlier one still in
	// flight, when the verdict came). How many are in that last phase
	// depends on scheduling, not on the code (the race detector on a busy
	// machine makes it thousands), so the bound that shows the stop is the
	// full minute's 120,000 the attack would otherwise send. The server may
	// see a few more than the records: stopping closes the connections of
	// the requests in flight (at most MaxWorkers), and net/http retries an
	// idempotent GET whose reused connection closed before any response.
	sent := phases[PhaseSettle] + phases[PhaseJudged] + phases[PhaseAfter]
	if got := srv.requests.Load(); got > sent+int64(defaultMaxWorkers) || sent > 20000 || out.Stats.Requests > 10000 {
		t.Fatalf("server saw %d requests; records %v (%d), the verdict %d", got, phases, sent, out.Stats.Requests)
	}
}

func TestRequestBudget(t *testing.T) {
	srv := newEchoServer(t, "", 5, share{"v1", 75}, share{"v2", 25})
	exp := weights(t, "v1=75,v2=25")
	exp.Tolerance = 0.01 // needs far more than 300 requests
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: fastOptions(300), Classify: mustClassifier(t, "header:x-version"), Expect: exp}
	out, err := runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// The budget counts the settle phase's requests too.
	if out.Result.Verdict != verify.Inconclusive || out.Stats.Stopped != StopMaxRequests ||
		out.Stats.Settle.Requests != DefaultSettleResponses || out.Stats.Requests+out.Stats.Settle.Requests != 300 {
		t.Fatalf("verdict %v, stopped %q after %d judged and %d settle requests", out.Result.Verdict, out.Stats.Stopped,
			out.Stats.Requests, out.Stats.Settle.Requests)
	}
	if got := srv.requests.Load(); got != 300 {
		t.Fatalf("server saw %d requests, want exactly the budget 300", got)
	}
}

func TestDurationBudget(t *testing.T) {
	srv := newEchoServer(t, "", 6, share{"v1", 100})
	exp := weights(t, "v1=100")
	exp.Tolerance = 0.001
	o := fastOptions(0)
	o.Rate, o.Duration = 100, 300*time.Millisecond
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "header:x-version"), Expect: exp}
	out, err := runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// vegeta's constant pacer never runs ahead of rate x elapsed.
	if out.Stats.Stopped != StopDuration || out.Stats.Requests < 1 || out.Stats.Requests > 32 {
		t.Fatalf("stopped %q after %d requests", out.Stats.Stopped, out.Stats.Requests)
	}
}

func TestCancel(t *testing.T) {
	srv := newEchoServer(t, "", 7, share{"v1", 100})
	exp := weights(t, "v1=100")
	exp.Tolerance = 0.001
	ctx, cancel := context.WithCancel(context.Background())
	var seen atomic.Int64
	o := fastOptions(0)
	o.Rate = 500
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "header:x-version"), Expect: exp}
	out, err := runJudged(ctx, p, OnRecord(func(Record) error {
		if seen.Add(1) == DefaultSettleResponses+20 {
			cancel()
		}
		return nil
	}))
	if !errors.Is(err, context.Canceled) || out.Stats.Stopped != StopCanceled || out.Stats.Requests < 20 {
		t.Fatalf("err %v, stopped %q after %d", err, out.Stats.Stopped, out.Stats.Requests)
	}
}

func TestKeepAlive(t *testing.T) {
	srv := newEchoServer(t, "", 8, share{"v1", 100})
	for _, keep := range []bool{true, false} {
		before := srv.conns.Load()
		o := fastOptions(200)
		o.Rate, o.KeepAlive = 500, keep
		exp := statusExpect(200)
		exp.Tolerance = 0.001
		p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Expect: exp}
		out, err := runJudged(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		conns := srv.conns.Load() - before
		// With keep-alive, connections are reused (only stalls of the host
		// open more); without, every request opens its own.
		sent := out.Stats.Requests + out.Stats.Settle.Requests
		if keep && conns > sent/2 || !keep && conns != sent {
			t.Errorf("keep-alive %v: %d connections for %d requests", keep, conns, sent)
		}
	}
}

func TestMaxBodyBoundsReads(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello v1 " + big))
	}))
	defer srv.Close()
	o := fastOptions(50)
	o.MaxBody = 64
	exp := weights(t, "v1=100")
	exp.Tolerance = 0.001
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "regex:Hello (v[0-9])"), Expect: exp}
	var maxLen int
	out, err := runJudged(context.Background(), p, OnRecord(func(r Record) error {
		maxLen = max(maxLen, len(r.Body))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Lines[0].Count != 50-DefaultSettleResponses {
		t.Fatalf("classified %d of the %d judged from the first 64 bytes", out.Result.Lines[0].Count, 50-DefaultSettleResponses)
	}
	// A JSON classifier cannot read a truncated document: unclassified, with
	// a sample cut to maxSampleBytes.
	p.Classify, p.Options.MaxBody, p.Options.SettleResponses = mustClassifier(t, "json:a"), 4096, -1
	out, err = runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Stats.Unclassified == 0 || len(out.Stats.UnclassifiedSamples[0].Body) > maxSampleBytes {
		t.Fatalf("unclassified %d, samples %v", out.Stats.Unclassified, len(out.Stats.UnclassifiedSamples))
	}
}

// TestVia sends through a forward proxy, which sees absolute URLs and the
// Host header.
func TestVia(t *testing.T) {
	var proxied atomic.Int64
	var badHost atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		if r.Host != "echo.local" {
			badHost.Add(1)
		}
		proxied.Add(1)
		w.Header().Set("X-Version", "v1")
	}))
	defer proxy.Close()
	via, err := ParseVia(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	o := fastOptions(100)
	o.Via = via
	exp := weights(t, "v1=100")
	exp.Tolerance = 0.001
	p := judgedProbe{Target: Target{URL: "http://echo-service.echo.svc.cluster.local/echo", Host: "echo.local"}, Options: o,
		Classify: mustClassifier(t, "header:x-version"), Expect: exp}
	out, err := runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 100 || badHost.Load() != 0 || out.Result.Lines[0].Count+out.Stats.Settle.Requests != 100 {
		t.Fatalf("proxied %d (bad host %d), v1 %d", proxied.Load(), badHost.Load(), out.Result.Lines[0].Count)
	}
}
