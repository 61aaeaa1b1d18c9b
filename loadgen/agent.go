package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The agent's HTTP API.
const (
	// AgentProbePath runs a probe: POST an AgentSpec (JSON); the answer is
	// NDJSON, one Record per response, then one {"summary": agentSummary}.
	AgentProbePath = "/v1/probe"
	// AgentHealthPath answers 200 while the agent accepts probes.
	AgentHealthPath = "/healthz"
	// flushEvery is how long records may wait in the agent's buffer.
	flushEvery = 50 * time.Millisecond
)

// AgentSpec is the probe an agent runs: a Probe without the expectation (the
// caller judges) and with durations written as Go durations ("30s").
type AgentSpec struct {
	Target      Target     `json:"target"`
	Rate        int        `json:"rate"`
	Duration    string     `json:"duration,omitempty"`
	MaxRequests int        `json:"maxRequests,omitempty"`
	Timeout     string     `json:"timeout,omitempty"`
	KeepAlive   bool       `json:"keepAlive"`
	MaxWorkers  int        `json:"maxWorkers,omitempty"`
	MaxBody     int64      `json:"maxBody,omitempty"`
	Via         string     `json:"via,omitempty"`
	Classify    string     `json:"classify,omitempty"`
	Map         VersionMap `json:"map,omitempty"`
	// Check is the probe's HeaderCheck, when it has one.
	Check *HeaderCheckSpec `json:"check,omitempty"`
}

// specOf returns the agent spec of p, with p's option defaults filled in.
func specOf(p Probe) AgentSpec {
	o := p.Options.withDefaults()
	s := AgentSpec{Target: p.Target, Rate: o.Rate, MaxRequests: o.MaxRequests, Timeout: o.Timeout.String(),
		KeepAlive: o.KeepAlive, MaxWorkers: o.MaxWorkers, MaxBody: o.MaxBody, Classify: p.Classify.String(), Map: p.Map}
	if !p.Check.IsZero() {
		spec := p.Check.Spec()
		s.Check = &spec
	}
	if o.Duration > 0 {
		s.Duration = o.Duration.String()
	}
	if o.Via != nil {
		s.Via = o.Via.String()
	}
	return s
}

// ParseAgentSpec decodes one spec strictly: unknown fields and trailing data
// are errors.
func ParseAgentSpec(data []byte) (AgentSpec, error) {
	var s AgentSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return AgentSpec{}, fmt.Errorf("probe spec: %w", err)
	}
	if dec.More() {
		return AgentSpec{}, errors.New("probe spec: more than one JSON value")
	}
	return s, nil
}

// AgentLimits bound what an agent runs.
type AgentLimits struct {
	// MaxRate bounds a probe's rate (requests per second).
	MaxRate int
	// MaxDuration bounds a probe's duration; a spec without one gets it.
	MaxDuration time.Duration
	// MaxRequests bounds a probe's requests; a spec without a budget gets it.
	MaxRequests int
	// MaxConcurrent bounds the probes running at once; more get 429.
	MaxConcurrent int
	// MaxWorkers bounds a probe's concurrent requests.
	MaxWorkers int
	// MaxBody bounds the bytes read of each response body.
	MaxBody int64
	// MaxTimeout bounds a probe's per-request timeout.
	MaxTimeout time.Duration
	// MaxSpecBytes bounds the size of a spec.
	MaxSpecBytes int64
}

// DefaultAgentLimits returns the limits of `meshcheck agent`.
func DefaultAgentLimits() AgentLimits {
	return AgentLimits{MaxRate: 5000, MaxDuration: 10 * time.Minute, MaxRequests: 1_000_000, MaxConcurrent: 2,
		MaxWorkers: defaultMaxWorkers, MaxBody: 1 << 20, MaxTimeout: time.Minute, MaxSpecBytes: 1 << 20}
}

// Validate checks that every limit is positive.
func (l AgentLimits) Validate() error {
	switch {
	case l.MaxRate < 1 || l.MaxRate > MaxRate:
		return fmt.Errorf("agent max rate %d: from 1 to %d requests per second", l.MaxRate, MaxRate)
	case l.MaxDuration <= 0:
		return fmt.Errorf("agent max duration %s: it must be positive", l.MaxDuration)
	case l.MaxRequests < 1:
		return fmt.Errorf("agent max requests %d: at least 1", l.MaxRequests)
	case l.MaxConcurrent < 1:
		return fmt.Errorf("agent max concurrent probes %d: at least 1", l.MaxConcurrent)
	case l.MaxWorkers < 1:
		return fmt.Errorf("agent max workers %d: at least 1", l.MaxWorkers)
	case l.MaxBody < 1:
		return fmt.Errorf("agent max body %d: at least 1 byte", l.MaxBody)
	case l.MaxTimeout <= 0:
		return fmt.Errorf("agent max timeout %s: it must be positive", l.MaxTimeout)
	case l.MaxSpecBytes < 1:
		return fmt.Errorf("agent max spec size %d: at least 1 byte", l.MaxSpecBytes)
	}
	return nil
}

// agentRun is a spec checked against the limits.
type agentRun struct {
	target   Target
	options  Options
	recorder *recorder
}

// resolve checks s against l and fills what it leaves out.
func (s AgentSpec) resolve(l AgentLimits) (agentRun, error) {
	if err := s.Target.Validate(); err != nil {
		return agentRun{}, err
	}
	o := Options{Rate: s.Rate, MaxRequests: s.MaxRequests, KeepAlive: s.KeepAlive, MaxWorkers: s.MaxWorkers, MaxBody: s.MaxBody}
	var err error
	if o.Duration, err = specDuration("duration", s.Duration, l.MaxDuration); err != nil {
		return agentRun{}, err
	}
	if o.Timeout, err = specDuration("timeout", s.Timeout, min(defaultTimeout, l.MaxTimeout)); err != nil {
		return agentRun{}, err
	}
	if s.Via != "" {
		if o.Via, err = ParseVia(s.Via); err != nil {
			return agentRun{}, err
		}
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = l.MaxRequests
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = min(defaultMaxWorkers, l.MaxWorkers)
	}
	if o.MaxBody == 0 {
		o.MaxBody = min(defaultMaxBody, l.MaxBody)
	}
	if err := o.Validate(); err != nil {
		return agentRun{}, err
	}
	switch {
	case o.Rate > l.MaxRate:
		return agentRun{}, fmt.Errorf("rate %d: this agent allows at most %d requests per second", o.Rate, l.MaxRate)
	case o.Duration > l.MaxDuration:
		return agentRun{}, fmt.Errorf("duration %s: this agent allows at most %s", o.Duration, l.MaxDuration)
	case o.MaxRequests > l.MaxRequests:
		return agentRun{}, fmt.Errorf("max requests %d: this agent allows at most %d", o.MaxRequests, l.MaxRequests)
	case o.MaxWorkers > l.MaxWorkers:
		return agentRun{}, fmt.Errorf("max workers %d: this agent allows at most %d", o.MaxWorkers, l.MaxWorkers)
	case o.MaxBody > l.MaxBody:
		return agentRun{}, fmt.Errorf("max body %d: this agent allows at most %d bytes", o.MaxBody, l.MaxBody)
	case o.Timeout > l.MaxTimeout:
		return agentRun{}, fmt.Errorf("timeout %s: this agent allows at most %s", o.Timeout, l.MaxTimeout)
	}
	var c Classifier
	if s.Classify != "" {
		if c, err = ParseClassifier(s.Classify); err != nil {
			return agentRun{}, err
		}
	}
	if s.Map != nil {
		if c.IsZero() {
			return agentRun{}, errors.New("version map: it maps classified values, but no classifier is set")
		}
		if err := s.Map.Validate(); err != nil {
			return agentRun{}, err
		}
	}
	var check HeaderCheck
	if s.Check != nil {
		if check, err = NewHeaderCheck(*s.Check); err != nil {
			return agentRun{}, err
		}
	}
	return agentRun{target: s.Target, options: o, recorder: newRecorder(c, s.Map).withCheck(check)}, nil
}

func specDuration(field, s string, missing time.Duration) (time.Duration, error) {
	if s == "" {
		return missing, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive Go duration such as 30s", field, s)
	}
	return d, nil
}

// agentSummary is the last line of an agent's stream.
type agentSummary struct {
	// Requests is the number of records streamed.
	Requests int64 `json:"requests"`
	// Stopped says why the attack ended.
	Stopped StopReason `json:"stopped"`
	// Error says what went wrong, if anything.
	Error string `json:"error,omitempty"`
}

// summaryLine is the last line of the stream.
type summaryLine struct {
	Summary agentSummary `json:"summary"`
}

// agentLine decodes one line of the stream: a record, or the summary.
type agentLine struct {
	Record
	Summary *agentSummary `json:"summary,omitempty"`
}

// AgentServer runs probes for remote callers inside the mesh. It reads no
// files and runs no commands: a probe is an HTTP attack bounded by its
// limits.
type AgentServer struct {
	limits   AgentLimits
	log      *slog.Logger
	slots    chan struct{}
	mux      *http.ServeMux
	draining atomic.Bool
}

// NewAgentServer returns an agent with limits l, logging to log.
func NewAgentServer(l AgentLimits, log *slog.Logger) (*AgentServer, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &AgentServer{limits: l, log: log, slots: make(chan struct{}, l.MaxConcurrent), mux: http.NewServeMux()}
	s.mux.HandleFunc("POST "+AgentProbePath, s.probe)
	s.mux.HandleFunc("GET "+AgentHealthPath, s.health)
	return s, nil
}

// ServeHTTP serves the agent's API.
func (s *AgentServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve serves on ln until ctx ends, then stops the running probes (each
// stream ends with its summary) and shuts down.
func (s *AgentServer) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("agent: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("agent shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), s.limits.MaxTimeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("agent shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

func (s *AgentServer) health(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		agentError(w, http.StatusServiceUnavailable, errors.New("shutting down"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func agentError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func (s *AgentServer) probe(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			agentError(w, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send the spec as application/json", ct))
			return
		}
	}
	if s.draining.Load() {
		agentError(w, http.StatusServiceUnavailable, errors.New("shutting down"))
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.limits.MaxSpecBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			agentError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("probe spec larger than %d bytes", s.limits.MaxSpecBytes))
			return
		}
		agentError(w, http.StatusBadRequest, fmt.Errorf("read probe spec: %w", err))
		return
	}
	spec, err := ParseAgentSpec(data)
	if err != nil {
		agentError(w, http.StatusBadRequest, err)
		return
	}
	run, err := spec.resolve(s.limits)
	if err != nil {
		agentError(w, http.StatusBadRequest, err)
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		agentError(w, http.StatusTooManyRequests, fmt.Errorf("busy: %d probes running, the limit is %d", len(s.slots), cap(s.slots)))
		return
	}
	s.log.Info("probe started", "url", run.target.URL, "host", run.target.Host, "rate", run.options.Rate,
		"duration", run.options.Duration, "maxRequests", run.options.MaxRequests, "from", r.RemoteAddr)

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		s.log.Warn("probe stream", "error", err)
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var sent int64
	var writeErr error
	// Records wait in the response buffer for at most flushEvery: the tick
	// runs on the goroutine that writes them.
	reason := attack(r.Context(), run.target, run.options, run.recorder, func(rec Record) StopReason {
		if err := enc.Encode(rec); err != nil {
			writeErr = err
			return StopError
		}
		sent++
		return ""
	}, flushEvery, func() {
		if err := rc.Flush(); err != nil && writeErr == nil {
			writeErr = err
		}
	})
	s.log.Info("probe ended", "url", run.target.URL, "requests", sent, "stopped", reason)
	if writeErr != nil {
		return // the caller is gone
	}
	sum := agentSummary{Requests: sent, Stopped: reason}
	if reason == StopCanceled {
		sum.Error = "probe canceled: the caller went away or the agent is shutting down"
	}
	// If the caller canceled, this write fails harmlessly.
	if err := enc.Encode(summaryLine{Summary: sum}); err == nil {
		rc.Flush()
	}
}
