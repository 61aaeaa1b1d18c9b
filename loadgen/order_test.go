package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

func TestSequencerReleasesInSendOrder(t *testing.T) {
	var s sequencer
	var got []uint64
	emit := func(r Record) { got = append(got, r.Seq) }
	for _, seq := range []uint64{2, 0, 3, 1, 5} {
		if err := s.push(Record{Seq: seq}, emit); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != "[0 1 2 3]" {
		t.Fatalf("released %v, want [0 1 2 3]", got)
	}
	for _, dup := range []uint64{1, 5} {
		if err := s.push(Record{Seq: dup}, emit); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("push(%d) again: %v", dup, err)
		}
	}
	s.hold(Record{Seq: 9})
	s.hold(Record{Seq: 7})
	var left []uint64
	for _, r := range s.drain() {
		left = append(left, r.Seq)
	}
	if fmt.Sprint(left) != "[5 7 9]" {
		t.Fatalf("drained %v, want [5 7 9]", left)
	}
}

// skewServer routes each request to v1 or v2 with a seeded draw and answers
// v2's after an extra delay: a canary that is slower than the stable
// version. The draw happens when the request arrives, in whatever order.
type skewServer struct {
	*httptest.Server
	mu  sync.Mutex
	rnd *rand.Rand
}

func newSkewServer(t *testing.T, seed uint64, v1Percent int, v2Delay time.Duration) *skewServer {
	t.Helper()
	s := &skewServer{rnd: rand.New(rand.NewPCG(seed, 99))}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := "v1"
		if s.rnd.IntN(100) >= v1Percent {
			v = "v2"
		}
		s.mu.Unlock()
		if v == "v2" {
			select {
			case <-time.After(v2Delay): // the version's latency, not a test's wait
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("X-Version", v)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestLatencySkew: v2 answers 1.5 s later than v1. Judged as responses
// complete, the first ~1.5 s of a run would hold v1 only and a correct 75/25
// would FAIL; judged in send order it PASSes at 100, 300 and 1,000 requests
// per second, and a true 55/45 with the same skew FAILs.
func TestLatencySkew(t *testing.T) {
	slowTest(t)
	const skew = 1500 * time.Millisecond
	cases := []struct {
		rate, v1 int
		want     verify.Verdict
	}{
		{100, 75, verify.Pass}, {300, 75, verify.Pass}, {1000, 75, verify.Pass},
		{300, 55, verify.Fail}, {1000, 55, verify.Fail},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-rps-true-%d", c.rate, c.v1), func(t *testing.T) {
			t.Parallel()
			srv := newSkewServer(t, uint64(20+i), c.v1, skew)
			o := fastOptions(20000)
			o.Rate, o.Timeout = c.rate, 10*time.Second
			p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "header:x-version"),
				Expect: weights(t, "v1=75,v2=25")}
			out, err := runJudged(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v after %d judged requests, %d in flight or held at the verdict; settle %d",
				out.Result.Verdict, out.Stats.Requests, out.Stats.Ignored, out.Stats.Settle.Requests)
			if out.Result.Verdict != c.want {
				t.Fatalf("verdict %v, want %v: %v", out.Result.Verdict, c.want, out.Result.Failures())
			}
			if c.want == verify.Pass && out.Stats.Ignored == 0 {
				t.Errorf("no request in flight at the verdict: the skew did not show")
			}
		})
	}
}

// slowTest skips t under -short: it takes seconds of wall time.
func slowTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("takes seconds of wall time: run without -short (make test does)")
	}
}

// flakyServer answers 503 to its first n requests (a route still warming),
// then v1.
func flakyServer(t *testing.T, n int64) *httptest.Server {
	t.Helper()
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Version", "v1")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSettleSkipsWarmingRoute: three leading 503s would FAIL a probe judged
// from its first response with no error budget; the settle phase waits them
// out and the judged requests PASS.
func TestSettleSkipsWarmingRoute(t *testing.T) {
	srv := flakyServer(t, 3)
	exp := weights(t, "v1=100")
	exp.ErrorBudget = 0
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: fastOptions(5000), Classify: mustClassifier(t, "header:x-version"), Expect: exp}
	out, err := runJudged(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	s := out.Stats.Settle
	if out.Result.Verdict != verify.Pass || s.StatusCodes[503] != 3 || s.Requests < 3+DefaultSettleResponses || out.Stats.Errors != 0 {
		t.Fatalf("verdict %v, settle %+v, judged errors %d", out.Result.Verdict, s, out.Stats.Errors)
	}
	// Without the settle phase the same start FAILs at once.
	p.Target.URL = flakyServer(t, 3).URL
	p.Options.SettleResponses = -1
	if out, err = runJudged(context.Background(), p); err != nil || out.Result.Verdict != verify.Fail {
		t.Fatalf("without settle: %v, %v", out.Result.Verdict, err)
	}
}

func TestSettleTimeoutNamesWhatItSaw(t *testing.T) {
	srv := flakyServer(t, 1<<40)
	o := fastOptions(0)
	o.Rate, o.SettleTimeout = 200, 300*time.Millisecond
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "header:x-version"), Expect: weights(t, "v1=100")}
	out, err := runJudged(context.Background(), p)
	if !errors.Is(err, ErrNotSettled) || out.Stats.Requests != 0 || out.Stats.Stopped != StopSettle {
		t.Fatalf("err %v, %d judged, stopped %q", err, out.Stats.Requests, out.Stats.Stopped)
	}
	for _, want := range []string{"no 20 consecutive good responses within the settle timeout 300ms", "503 ×", `sample body "no healthy upstream`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// A request budget spent while settling is the same failure.
	o.SettleTimeout, o.MaxRequests = time.Minute, 30
	p.Options = o
	if _, err = runJudged(context.Background(), p); !errors.Is(err, ErrNotSettled) || !strings.Contains(err.Error(), "request budget ended in the settle phase") {
		t.Fatalf("budget spent settling: %v", err)
	}
}

func TestUnreachableIsAnEnvironmentError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	p := judgedProbe{Target: Target{URL: url}, Options: fastOptions(0), Classify: mustClassifier(t, "header:x-version"), Expect: weights(t, "v1=100")}
	out, err := runJudged(context.Background(), p)
	if !errors.Is(err, ErrNotSettled) || !strings.HasPrefix(err.Error(), "cannot reach "+url+": ") ||
		!strings.Contains(err.Error(), "connection refused") || out.Stats.Settle.Requests != DefaultSettleResponses {
		t.Fatalf("err %v after %d settle requests", err, out.Stats.Settle.Requests)
	}
}

// TestResultsFileMarksPhases: a saved run lists every request once, in send
// order: settle, then judged, then those the verdict did not wait for.
func TestResultsFileMarksPhases(t *testing.T) {
	srv := newSkewServer(t, 5, 75, 200*time.Millisecond)
	path := filepath.Join(t.TempDir(), "r.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rw := NewRecordWriter(f, Header{Environment: "local", Emulated: true, URL: srv.URL, Rate: 1000})
	o := fastOptions(20000)
	o.Rate = 1000
	p := judgedProbe{Target: Target{URL: srv.URL}, Options: o, Classify: mustClassifier(t, "header:x-version"), Expect: weights(t, "v1=75,v2=25")}
	out, err := runJudged(context.Background(), p, OnRecord(rw.Write))
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, recs := readResults(t, data)
	if h != (Header{Results: ResultsSchema, Environment: "local", Emulated: true, URL: srv.URL, Rate: 1000}) {
		t.Errorf("header %+v", h)
	}
	counts := map[Phase]int64{}
	order := ""
	var next uint64
	for _, r := range recs {
		if r.Seq < next {
			t.Fatalf("seq %d after %d", r.Seq, next)
		}
		next = r.Seq + 1
		if counts[r.Phase] == 0 {
			order += string(r.Phase) + " "
		}
		counts[r.Phase]++
	}
	if order != "settle judged after " || counts[PhaseSettle] != out.Stats.Settle.Requests ||
		counts[PhaseJudged] != out.Stats.Requests || counts[PhaseAfter] != out.Stats.Ignored {
		t.Fatalf("phases %q %v; stats settle %d judged %d ignored %d", order, counts,
			out.Stats.Settle.Requests, out.Stats.Requests, out.Stats.Ignored)
	}
}

// TestAgentStreamJudgedInSendOrder: an agent streams records as they
// complete, each with its send number; the client judges them in send
// order. Here every v2 answer (every fourth request) arrives only after the
// v1 answers sent up to 40 requests later.
func TestAgentStreamJudgedInSendOrder(t *testing.T) {
	const n = 4000
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		line := func(seq int, v string) {
			fmt.Fprintf(w, `{"seq":%d,"t":%q,"latency":1000,"status":200,"version":%q}`+"\n",
				seq, t0.Add(time.Duration(seq)*time.Millisecond).Format(time.RFC3339Nano), v)
		}
		for block := 0; block < n; block += 40 {
			for i := block; i < block+40; i++ {
				if i%4 != 3 {
					line(i, "v1")
				}
			}
			for i := block + 3; i < block+40; i += 4 {
				line(i, "v2")
			}
		}
		fmt.Fprintf(w, `{"summary":{"requests":%d,"stopped":"max-requests"}}`+"\n", n)
	}))
	defer stream.Close()
	var seqs []uint64
	p := judgedProbe{Target: Target{URL: "http://echo.echo.svc.cluster.local/"}, Options: fastOptions(n),
		Classify: mustClassifier(t, "header:x-version"), Expect: weights(t, "v1=75,v2=25")}
	p.Expect.Tolerance = 0.01 // stay undecided: judge the whole stream
	out, err := (&AgentClient{URL: stream.URL}).judged(context.Background(), p, OnRecord(func(r Record) error {
		seqs = append(seqs, r.Seq)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("record %d written with seq %d: not in send order", i, s)
		}
	}
	if out.Result.Verdict == verify.Fail || out.Stats.Requests+out.Stats.Settle.Requests != n {
		t.Fatalf("verdict %v after %d judged (%v)", out.Result.Verdict, out.Stats.Requests, out.Result.Failures())
	}
}
