package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Sink takes the judged records of a probe: the caller's verdict. Run,
// AgentClient.Run and Replay call Judge from one goroutine with every record
// after the settle phase, in the order the requests were sent (never as
// they complete), until it returns true; then the attack stops, and the
// records still in flight are kept as PhaseAfter, never judged.
type Sink interface {
	// Judge takes the next record in send order and reports whether the
	// probe is decided, so that the attack stops.
	Judge(Record) (stop bool)
}

// runConfig holds what RunOptions set.
type runConfig struct {
	onRecord   func(Record) error
	every      time.Duration
	onProgress func(Progress)
}

// RunOption adds behaviour to Run and AgentClient.Run.
type RunOption func(*runConfig)

// OnRecord calls fn with every record of the probe, in send order, from one
// goroutine, its Phase set: the settle phase's, the judged ones, then those
// sent but not judged because the verdict came first (to save results:
// RecordWriter.Write). An error from fn stops the run and is returned.
func OnRecord(fn func(Record) error) RunOption {
	return func(c *runConfig) { c.onRecord = fn }
}

// OnProgress calls fn about every interval with a snapshot of the run, from
// the goroutine that calls the Sink (so fn may read what the Sink holds;
// keep it quick).
func OnProgress(every time.Duration, fn func(Progress)) RunOption {
	return func(c *runConfig) { c.every, c.onProgress = every, fn }
}

func newRunConfig(opts []RunOption) runConfig {
	var c runConfig
	for _, o := range opts {
		o(&c)
	}
	if c.onProgress == nil || c.every <= 0 {
		c.onProgress, c.every = nil, 0
	}
	return c
}

// prepare validates p and returns what every way of running it shares: the
// folder that orders, settles and counts, the run options, and p's options
// with defaults filled in.
func prepare(p Probe, sink Sink, opts []RunOption) (*folder, runConfig, Options, error) {
	if err := p.Validate(); err != nil {
		return nil, runConfig{}, Options{}, err
	}
	if sink == nil {
		return nil, runConfig{}, Options{}, errors.New("probe: no Sink to judge the records")
	}
	cfg := newRunConfig(opts)
	o := p.Options.withDefaults()
	f := newFolder(sink, int64(o.MaxRequests), cfg.onRecord)
	f.settle = newSettler(o, p.Target.URL)
	f.rateAsked = float64(o.Rate)
	return f, cfg, o, nil
}

// Run attacks p's target at a constant rate and classifies every response.
// It runs an unjudged settle phase first (Options.SettleResponses), then
// hands the records, in the order the requests were sent, to sink, and stops
// as soon as sink says so, or when the time or request budget is spent. It
// returns the statistics of the judged records, and an error for an invalid
// probe, when the target never settles (ErrNotSettled), when an OnRecord
// function fails, or when ctx ends (then with the statistics so far).
func Run(ctx context.Context, p Probe, sink Sink, opts ...RunOption) (Stats, error) {
	f, cfg, o, err := prepare(p, sink, opts)
	if err != nil {
		return Stats{}, err
	}
	start := time.Now()
	var tick func()
	if cfg.onProgress != nil {
		tick = func() { cfg.onProgress(f.progress(start)) }
	}
	reason := attack(ctx, p.Target, o, newRecorder(p.Classify, p.Map).withCheck(p.Check), func(r Record) StopReason {
		if ctx.Err() != nil && f.stop == "" {
			// Canceled: what completes now was aborted, not answered.
			f.stop = StopCanceled
		}
		why, _ := f.fold(r)
		return why
	}, cfg.every, tick)
	stats := f.finish(reason)
	switch {
	case f.err != nil:
		return stats, f.err
	case reason == StopCanceled:
		return stats, fmt.Errorf("probe stopped after %d requests: %w", stats.Requests, context.Cause(ctx))
	}
	return stats, nil
}

// attack runs one vegeta attack of t under o and hands every result, as a
// Record, to sink as it completes; sink returns a reason to stop the attack.
// Results that complete after the stop (requests in flight, aborted by
// closing their connections) still go to sink. Every interval, tick (if
// any) is called from the same goroutine as sink until the stop.
func attack(ctx context.Context, t Target, o Options, rc *recorder, sink func(Record) StopReason,
	every time.Duration, tick func()) (reason StopReason) {
	conns := &connTracker{dialer: net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}}
	tr := &http.Transport{
		MaxIdleConnsPerHost: o.MaxWorkers,
		TLSHandshakeTimeout: o.Timeout,
		// Proxies come only from Options.Via, never from the environment.
		Proxy: nil,
	}
	vopts := []func(*vegeta.Attacker){
		vegeta.Client(&http.Client{Transport: tr}),
		vegeta.Timeout(o.Timeout),
		vegeta.KeepAlive(o.KeepAlive),
		vegeta.Workers(uint64(min(o.MaxWorkers, vegeta.DefaultWorkers))),
		vegeta.MaxWorkers(uint64(o.MaxWorkers)),
		vegeta.MaxBody(o.MaxBody),
		// A probe judges what the mesh answers, not where a redirect leads.
		vegeta.Redirects(vegeta.NoFollow),
	}
	if o.Via != nil {
		vopts = append(vopts, vegeta.Proxy(http.ProxyURL(o.Via)))
	}
	atk := vegeta.NewAttacker(vopts...)
	// Set after vegeta's options (KeepAlive replaces the dialer): dial
	// through the tracker so that stopping can abort requests in flight.
	tr.DialContext = conns.DialContext

	pacer := budgetPacer{rate: vegeta.ConstantPacer{Freq: o.Rate, Per: time.Second}, max: uint64(o.MaxRequests)}
	results := atk.Attack(vegeta.NewStaticTargeter(t.vegeta()), pacer, o.Duration, "")

	var ticks <-chan time.Time
	if tick != nil {
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		ticks = ticker.C
	}
	stopped := false
	stop := func(why StopReason) {
		stopped, reason = true, why
		atk.Stop()
		conns.closeAll()
	}
	var received int64
	done := ctx.Done()
	for {
		select {
		case res, ok := <-results:
			if !ok {
				if !stopped {
					reason = StopDuration
					if received >= int64(o.MaxRequests) {
						reason = StopMaxRequests
					}
				}
				return reason
			}
			received++
			if why := sink(rc.record(res)); why != "" && !stopped {
				stop(why)
			}
		case <-done:
			done = nil
			if !stopped {
				stop(StopCanceled)
			}
		case <-ticks:
			if !stopped {
				tick()
			}
		}
	}
}

// vegeta returns the vegeta target: the Host travels as a header, which
// vegeta turns into req.Host.
func (t Target) vegeta() vegeta.Target {
	h := t.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if t.Host != "" {
		h.Set("Host", t.Host)
	}
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	return vegeta.Target{Method: method, URL: t.URL, Body: t.Body, Header: h}
}

// budgetPacer paces at a constant rate and stops after max hits.
type budgetPacer struct {
	rate vegeta.ConstantPacer
	max  uint64
}

// Pace implements vegeta.Pacer.
func (p budgetPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.max {
		return 0, true
	}
	return p.rate.Pace(elapsed, hits)
}

// Rate implements vegeta.Pacer.
func (p budgetPacer) Rate(elapsed time.Duration) float64 { return p.rate.Rate(elapsed) }

// connTracker dials connections and can close them all, which aborts the
// requests in flight when an attack stops early.
type connTracker struct {
	dialer net.Dialer
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

// DialContext dials and remembers the connection until it is closed.
func (c *connTracker) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, tracker: c}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, fmt.Errorf("dial %s: attack stopped", addr)
	}
	if c.conns == nil {
		c.conns = map[*trackedConn]struct{}{}
	}
	c.conns[tc] = struct{}{}
	return tc, nil
}

// closeAll closes every open connection and refuses new ones.
func (c *connTracker) closeAll() {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for tc := range conns {
		tc.Conn.Close()
	}
}

func (c *connTracker) forget(tc *trackedConn) {
	c.mu.Lock()
	delete(c.conns, tc)
	c.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	tracker *connTracker
	once    sync.Once
}

func (tc *trackedConn) Close() error {
	tc.once.Do(func() { tc.tracker.forget(tc) })
	return tc.Conn.Close()
}
