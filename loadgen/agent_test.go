package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

func newAgent(t *testing.T, l AgentLimits) *httptest.Server {
	t.Helper()
	a, err := NewAgentServer(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

func postSpec(t *testing.T, ctx context.Context, agentURL string, spec any) *http.Response {
	t.Helper()
	var body []byte
	switch s := spec.(type) {
	case string:
		body = []byte(s)
	default:
		var err error
		if body, err = json.Marshal(spec); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, agentURL+AgentProbePath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readStream reads an agent stream to its end: the records and the summary.
func readStream(t *testing.T, r io.Reader) ([]Record, *agentSummary) {
	t.Helper()
	var recs []Record
	var sum *agentSummary
	if err := readAgentStream(r, "test", func(l agentLine) bool {
		if l.Summary != nil {
			sum = l.Summary
		} else {
			recs = append(recs, l.Record)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return recs, sum
}

// TestAgentEndToEnd runs a probe client -> agent -> server: the verdict is
// decided locally and the remote attack stops at once.
func TestAgentEndToEnd(t *testing.T) {
	backend := newEchoServer(t, "echo.local", 10, share{"v1", 75}, share{"v2", 25})
	a, err := NewAgentServer(DefaultAgentLimits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	agent := httptest.NewServer(a)
	defer agent.Close()

	o := fastOptions(50000)
	o.Duration = 30 * time.Second
	p := judgedProbe{Target: Target{URL: backend.URL + "/echo", Host: "echo.local"}, Options: o,
		Classify: mustClassifier(t, "json:os.hostname"),
		Map:      VersionMap{"echo-v1-7d9f8b6c5d-x2x4z": "v1", "echo-v2-7d9f8b6c5d-x2x4z": "v2"},
		Expect:   weights(t, "v1=75,v2=25")}
	c := &AgentClient{URL: agent.URL}
	if err := c.Healthy(context.Background()); err != nil {
		t.Fatal(err)
	}
	var progress int
	out, err := c.judged(context.Background(), p, OnProgress(time.Millisecond, func(Progress) { progress++ }))
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Verdict != verify.Pass || out.Stats.Stopped != StopDecided || out.Stats.Requests != out.Result.Requests {
		t.Fatalf("verdict %v, stopped %q, %d requests (result %d)", out.Result.Verdict, out.Stats.Stopped, out.Stats.Requests, out.Result.Requests)
	}
	if out.Stats.RateAsked != 2000 || out.Stats.RateAchieved <= 0 || out.Stats.Latency.P50 <= 0 {
		t.Fatalf("stats %+v", out.Stats)
	}
	t.Logf("verdict after %d requests; stream at %.0f/s", out.Stats.Requests, out.Stats.RateAchieved)
	// Close waits for the agent's handler: it returns only once the remote
	// attack has stopped. A full run would have sent 60,000 requests.
	agent.Close()
	if got := backend.requests.Load(); got > out.Stats.Requests+20000 {
		t.Fatalf("the backend saw %d requests after a verdict at %d: the remote attack did not stop", got, out.Stats.Requests)
	}
	t.Logf("backend saw %d requests", backend.requests.Load())
	if hosts := backend.seenHosts(); len(hosts) != 1 || hosts["echo.local"] == 0 {
		t.Fatalf("hosts %v", hosts)
	}

	// The same probe with the wrong expectation fails through the agent too.
	agent2 := newAgent(t, DefaultAgentLimits())
	p.Expect = weights(t, "v1=50,v2=50")
	out, err = (&AgentClient{URL: agent2.URL}).judged(context.Background(), p)
	if err != nil || out.Result.Verdict != verify.Fail {
		t.Fatalf("50/50: %v, %v", out.Result.Verdict, err)
	}
}

// TestAgentStreamSummary checks the stream of a run that ends by its
// duration: one record per response, then a summary that counts them.
func TestAgentStreamSummary(t *testing.T) {
	backend := newEchoServer(t, "", 11, share{"v1", 100})
	agent := newAgent(t, DefaultAgentLimits())
	resp := postSpec(t, context.Background(), agent.URL, AgentSpec{Target: Target{URL: backend.URL}, Rate: 100,
		Duration: "200ms", KeepAlive: true, Classify: "header:x-version"})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	recs, sum := readStream(t, resp.Body)
	if sum == nil || sum.Stopped != StopDuration || sum.Requests != int64(len(recs)) || len(recs) == 0 {
		t.Fatalf("summary %+v after %d records", sum, len(recs))
	}
	for _, r := range recs {
		if r.Version != "v1" || r.Status != 200 {
			t.Fatalf("record %+v", r)
		}
	}
}

func TestAgentLimits(t *testing.T) {
	backend := newEchoServer(t, "", 12, share{"v1", 100})
	l := DefaultAgentLimits()
	l.MaxRate, l.MaxConcurrent, l.MaxSpecBytes, l.MaxDuration = 100, 1, 2048, time.Minute
	agent := newAgent(t, l)
	ok := AgentSpec{Target: Target{URL: backend.URL}, Rate: 10, KeepAlive: true, Classify: "status"}

	for _, tc := range []struct {
		name string
		spec any
		code int
		want string
	}{
		{"rate", func() AgentSpec { s := ok; s.Rate = 101; return s }(), 400, "at most 100 requests per second"},
		{"rate 0", func() AgentSpec { s := ok; s.Rate = 0; return s }(), 400, "at least 1"},
		{"duration", func() AgentSpec { s := ok; s.Duration = "2m"; return s }(), 400, "at most 1m0s"},
		{"bad duration", func() AgentSpec { s := ok; s.Duration = "soon"; return s }(), 400, "Go duration"},
		{"requests", func() AgentSpec { s := ok; s.MaxRequests = l.MaxRequests + 1; return s }(), 400, "max requests"},
		{"workers", func() AgentSpec { s := ok; s.MaxWorkers = l.MaxWorkers + 1; return s }(), 400, "max workers"},
		{"body", func() AgentSpec { s := ok; s.MaxBody = l.MaxBody + 1; return s }(), 400, "max body"},
		{"timeout", func() AgentSpec { s := ok; s.Timeout = "2m"; return s }(), 400, "timeout"},
		{"host port", func() AgentSpec { s := ok; s.Target.Host = "echo.local:80"; return s }(), 400, "404"},
		{"scheme", func() AgentSpec { s := ok; s.Target.URL = "file:///etc/passwd"; return s }(), 400, "http or https"},
		{"classifier", func() AgentSpec { s := ok; s.Classify = "regex:(a)(b)"; return s }(), 400, "capture groups"},
		{"unknown field", `{"target":{"url":"http://x/"},"rate":1,"command":"sh"}`, 400, `unknown field "command"`},
		{"trailing", `{"target":{"url":"http://x/"},"rate":1} {}`, 400, "more than one JSON value"},
		{"too big", `{"target":{"url":"http://x/","header":{"A":["` + strings.Repeat("a", 4096) + `"]}},"rate":1}`, 413, "larger than 2048 bytes"},
	} {
		resp := postSpec(t, context.Background(), agent.URL, tc.spec)
		msg := agentMessage(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, msg, tc.code, tc.want)
		}
	}

	// Wrong method and content type.
	resp, err := http.Get(agent.URL + AgentProbePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET probe: %s", resp.Status)
	}
	resp, err = http.Post(agent.URL+AgentProbePath, "text/plain", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %s", resp.Status)
	}

	// Concurrency: while one probe streams, a second is refused with 429.
	ctx, cancel := context.WithCancel(context.Background())
	long := ok
	long.Duration = "1m"
	first := postSpec(t, ctx, agent.URL, long)
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first probe: %s", first.Status)
	}
	second := postSpec(t, context.Background(), agent.URL, ok)
	msg := agentMessage(second.Body)
	second.Body.Close()
	if second.StatusCode != http.StatusTooManyRequests || second.Header.Get("Retry-After") == "" || !strings.Contains(msg, "limit is 1") {
		t.Fatalf("second probe: %s %q", second.Status, msg)
	}
	// The client going away stops the first probe and frees the slot.
	cancel()
	first.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		short := ok
		short.MaxRequests = 1
		resp := postSpec(t, context.Background(), agent.URL, short)
		if resp.StatusCode == http.StatusOK {
			_, sum := readStream(t, resp.Body)
			resp.Body.Close()
			if sum == nil || sum.Stopped != StopMaxRequests || sum.Requests != 1 {
				t.Fatalf("summary %+v", sum)
			}
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not freed after the client left: %s", resp.Status)
		}
		time.Sleep(10 * time.Millisecond) // polling: there is no event to wait on
	}
}

func TestAgentClientErrors(t *testing.T) {
	backend := newEchoServer(t, "", 13, share{"v1", 100})
	l := DefaultAgentLimits()
	l.MaxRate = 100
	agent := newAgent(t, l)
	p := judgedProbe{Target: Target{URL: backend.URL}, Options: fastOptions(100), Classify: mustClassifier(t, "header:x-version"),
		Expect: weights(t, "v1=100")}
	_, err := (&AgentClient{URL: agent.URL}).judged(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "refused the probe: 400 Bad Request: rate 2000: this agent allows at most 100") {
		t.Fatalf("rate over the limit: %v", err)
	}
	// A stream that breaks off without a summary is an error, not a verdict.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprintln(w, `{"t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v1"}`)
	}))
	defer broken.Close()
	p.Options.SettleResponses = -1 // judge the one record
	out, err := (&AgentClient{URL: broken.URL}).judged(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "without a summary") || out.Stats.Requests != 1 {
		t.Fatalf("broken stream: %v, %d requests", err, out.Stats.Requests)
	}
	// A malformed line names its line number.
	garbled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v1"}`)
		fmt.Fprintln(w, `{"t":"2025-01-02T03:04:05Z","latency":1,"status":503,"version":"v1","error":"x"}`)
	}))
	defer garbled.Close()
	if _, err := (&AgentClient{URL: garbled.URL}).judged(context.Background(), p); err == nil || !strings.Contains(err.Error(), "stream line 2") {
		t.Fatalf("garbled stream: %v", err)
	}
}

// TestAgentGracefulShutdown: ending the agent's context stops running probes
// (their streams end with a summary saying so) and Serve returns.
func TestAgentGracefulShutdown(t *testing.T) {
	backend := newEchoServer(t, "", 14, share{"v1", 100})
	a, err := NewAgentServer(DefaultAgentLimits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	if err := (&AgentClient{URL: base}).Healthy(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp := postSpec(t, context.Background(), base, AgentSpec{Target: Target{URL: backend.URL}, Rate: 50, Duration: "1m",
		KeepAlive: true, Classify: "status"})
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadBytes('\n'); err != nil { // the probe is running
		t.Fatal(err)
	}
	cancel()
	recs, sum := readStream(t, br)
	if sum == nil || sum.Stopped != StopCanceled || !strings.Contains(sum.Error, "shutting down") || sum.Requests != int64(len(recs))+1 {
		t.Fatalf("summary %+v after %d more records", sum, len(recs))
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestAgentLimitsValidate(t *testing.T) {
	if _, err := NewAgentServer(AgentLimits{}, nil); err == nil {
		t.Fatal("zero limits accepted")
	}
}

func FuzzParseAgentSpec(f *testing.F) {
	for _, s := range []string{
		`{"target":{"url":"http://127.0.0.1:1/","host":"echo.local"},"rate":10,"duration":"1s","classify":"json:os.hostname","map":{"p":"v1"}}`,
		`{"target":{"url":"http://x/"},"rate":0}`, `{"rate":"x"}`, `{}`, `[]`,
		`{"target":{"url":"http://x/"},"rate":1,"via":"http://p:1","timeout":"1ms","maxBody":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseAgentSpec(data)
		if err != nil {
			return
		}
		run, err := s.resolve(DefaultAgentLimits())
		if err != nil {
			return
		}
		if err := run.options.Validate(); err != nil || run.options.Rate > DefaultAgentLimits().MaxRate ||
			run.options.Duration <= 0 || run.options.MaxRequests <= 0 {
			t.Fatalf("resolved options out of bounds: %+v, %v", run.options, err)
		}
	})
}
