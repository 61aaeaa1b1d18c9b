package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshcheck/meshcheck/verify"
)

// echoServer answers like mendhak/http-https-echo: a JSON body naming the
// pod, a header and a text line naming the version. It draws each response's
// version at random from its shares (seeded), and 404s any Host other than
// host when host is set.
type echoServer struct {
	*httptest.Server
	requests atomic.Int64
	conns    atomic.Int64

	mu     sync.Mutex
	rnd    *rand.Rand
	hosts  map[string]int
	host   string
	shares []share
}

type share struct {
	version string
	percent int
}

func newEchoServer(t *testing.T, host string, seed uint64, shares ...share) *echoServer {
	t.Helper()
	s := &echoServer{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), hosts: map[string]int{}, host: host, shares: shares}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *echoServer) pick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.rnd.IntN(100)
	for _, sh := range s.shares {
		if n < sh.percent {
			return sh.version
		}
		n -= sh.percent
	}
	return s.shares[len(s.shares)-1].version
}

func (s *echoServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	s.hosts[r.Host]++
	s.mu.Unlock()
	if s.host != "" && r.Host != s.host {
		http.Error(w, "no route", http.StatusNotFound)
		return
	}
	v := s.pick()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Version", v)
	fmt.Fprintf(w, `{"path":%q,"os":{"hostname":"echo-%s-7d9f8b6c5d-x2x4z"},"message":"Hello %s","items":[{"v":%q}]}`+"\n",
		r.URL.Path, v, v, v)
}

func (s *echoServer) seenHosts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.hosts {
		out[k] = v
	}
	return out
}

// weights returns an expectation of the given weights with default
// tolerance and alpha.
func weights(t *testing.T, spec string) verify.Expectation {
	t.Helper()
	ws, err := verify.ParseWeights(spec)
	if err != nil {
		t.Fatal(err)
	}
	e := verify.Defaults()
	e.Weights = ws
	return e
}

func statusExpect(code int) verify.Expectation {
	e := verify.Defaults()
	e.Status = code
	return e
}

func mustClassifier(t *testing.T, spec string) Classifier {
	t.Helper()
	c, err := ParseClassifier(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fastOptions runs at a high rate so that verdicts come within a second or two.
func fastOptions(maxRequests int) Options {
	o := DefaultOptions()
	o.Rate = 2000
	o.MaxRequests = maxRequests
	o.Duration = 0
	return o
}

// judgedProbe is a Probe with the expectation a test judges it against, as
// package judge pairs them.
type judgedProbe struct {
	Target   Target
	Options  Options
	Classify Classifier
	Map      VersionMap
	Check    HeaderCheck
	Expect   verify.Expectation
}

// load returns the Probe; a status expectation settles on any response below
// 500, as package judge sets it.
func (p judgedProbe) load() Probe {
	o := p.Options
	o.SettleAnyStatus = p.Expect.Status != 0
	return Probe{Target: p.Target, Options: o, Classify: p.Classify, Map: p.Map, Check: p.Check}
}

// outcome is a judged run: the verdict and the traffic behind it.
type outcome struct {
	Result verify.Result
	Stats  Stats
}

// engineSink is the Sink of the tests: a verify.Engine, as package judge
// feeds it.
type engineSink struct{ eng *verify.Engine }

func (s engineSink) Judge(r Record) bool {
	return s.eng.Observe(verify.Observation{Status: r.Status, Version: r.Version, Unmet: r.Unmet != ""}) != verify.Inconclusive
}

// runJudged runs p with an engine for p.Expect as its Sink.
func runJudged(ctx context.Context, p judgedProbe, opts ...RunOption) (outcome, error) {
	eng, err := verify.New(p.Expect)
	if err != nil {
		return outcome{}, err
	}
	stats, err := Run(ctx, p.load(), engineSink{eng}, opts...)
	return outcome{Result: eng.Result(), Stats: stats}, err
}

// judged runs p through the agent with an engine for p.Expect as its Sink.
func (c *AgentClient) judged(ctx context.Context, p judgedProbe, opts ...RunOption) (outcome, error) {
	eng, err := verify.New(p.Expect)
	if err != nil {
		return outcome{}, err
	}
	stats, err := c.Run(ctx, p.load(), engineSink{eng}, opts...)
	return outcome{Result: eng.Result(), Stats: stats}, err
}

// replayed re-judges a results file against exp.
func replayed(t *testing.T, path string, exp verify.Expectation) (Header, outcome, error) {
	t.Helper()
	eng, err := verify.New(exp)
	if err != nil {
		t.Fatal(err)
	}
	h, stats, err := ReplayFile(path, engineSink{eng})
	return h, outcome{Result: eng.Result(), Stats: stats}, err
}

// readResults returns the header and the records of a results file.
func readResults(t *testing.T, data []byte) (Header, []Record) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	h, ok, err := decodeHeader(lines[0])
	if !ok || err != nil {
		t.Fatalf("first line %q is not a header: %v", lines[0], err)
	}
	var recs []Record
	for i, l := range lines[1:] {
		r, err := decodeRecord(l)
		if err != nil {
			t.Fatalf("line %d: %v", i+2, err)
		}
		recs = append(recs, r)
	}
	return h, recs
}

// sinkFunc adapts a function to Sink.
type sinkFunc func(Record) bool

func (f sinkFunc) Judge(r Record) bool { return f(r) }
