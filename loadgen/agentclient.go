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
	"strings"
	"sync"
	"time"
)

// AgentClient runs probes "from inside" the mesh: an agent sends the
// requests and streams the records back; the client judges them with the
// same code as Run and cancels the remote attack once the Sink says stop.
type AgentClient struct {
	// URL is the agent's base URL, e.g. http://127.0.0.1:18080.
	URL string
	// HTTPClient talks to the agent; nil uses one client of the
	// AgentClient's own, made on first use and shared by its calls, without
	// an overall timeout (a stream lasts as long as its probe) and without
	// environment proxies. Close releases it.
	HTTPClient *http.Client

	once sync.Once
	own  *http.Client
}

func (c *AgentClient) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	c.once.Do(func() {
		c.own = &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   2,
		}}
	})
	return c.own
}

// Close closes the idle connections of the client the AgentClient made
// itself (a given HTTPClient is the caller's to close). The AgentClient
// stays usable: a later call opens new connections.
func (c *AgentClient) Close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

func (c *AgentClient) endpoint(path string) string { return strings.TrimSuffix(c.URL, "/") + path }

// Healthy asks the agent's health endpoint whether it accepts probes.
func (c *AgentClient) Healthy(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(AgentHealthPath), nil)
	if err != nil {
		return fmt.Errorf("agent %s: %w", c.URL, err)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return fmt.Errorf("agent %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent %s: health: %s", c.URL, resp.Status)
	}
	return nil
}

// Run runs p through the agent and hands its records to sink locally, as
// Run does (same send order, settle phase and phases). It returns an error
// for an invalid probe, when the agent refuses the spec (with the agent's
// reason), when the stream breaks before sink says stop or a summary comes,
// when an OnRecord function fails, or when ctx ends.
func (c *AgentClient) Run(ctx context.Context, p Probe, sink Sink, opts ...RunOption) (Stats, error) {
	f, cfg, _, err := prepare(p, sink, opts)
	if err != nil {
		return Stats{}, err
	}

	body, err := json.Marshal(specOf(p))
	if err != nil {
		return Stats{}, fmt.Errorf("agent spec: %w", err)
	}
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, c.endpoint(AgentProbePath), bytes.NewReader(body))
	if err != nil {
		return Stats{}, fmt.Errorf("agent %s: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		return Stats{}, fmt.Errorf("agent %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Stats{}, fmt.Errorf("agent %s refused the probe: %s: %s", c.URL, resp.Status, agentMessage(resp.Body))
	}

	lines := make(chan agentLine, 256)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		readErr <- readAgentStream(resp.Body, c.URL, func(l agentLine) bool {
			select {
			case lines <- l:
				return true
			case <-reqCtx.Done():
				return false
			}
		})
	}()

	start := time.Now()
	var ticks <-chan time.Time
	if cfg.onProgress != nil {
		t := time.NewTicker(cfg.every)
		defer t.Stop()
		ticks = t.C
	}
	var (
		reason  StopReason
		summary *agentSummary
		runErr  error
	)
	done := ctx.Done()
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			if l.Summary != nil {
				summary = l.Summary
				continue
			}
			f.received++
			if why, err := f.fold(l.Record); why != "" {
				reason, runErr = why, err
				cancel() // stop the remote attack
				break loop
			}
		case <-done:
			reason = StopCanceled
			runErr = fmt.Errorf("probe through agent stopped after %d requests: %w", f.stats.requests, context.Cause(ctx))
			cancel()
			break loop
		case <-ticks:
			cfg.onProgress(f.progress(start))
		}
	}
	if reason == "" { // the stream ended by itself
		switch err := <-readErr; {
		case err != nil:
			reason, runErr = StopError, err
		case summary == nil:
			reason, runErr = StopError, fmt.Errorf("agent %s: the stream ended after %d records without a summary", c.URL, f.stats.requests)
		case summary.Error != "":
			reason, runErr = summary.Stopped, fmt.Errorf("agent %s: %s", c.URL, summary.Error)
		case summary.Requests != f.received:
			reason, runErr = StopError, fmt.Errorf("agent %s: the summary counts %d records, the stream held %d", c.URL, summary.Requests, f.received)
		default:
			reason = summary.Stopped
		}
	}
	return f.finish(reason), runErr
}

// readAgentStream decodes the NDJSON stream, calling fn per line until it
// returns false. Records are checked like a results file's.
func readAgentStream(r io.Reader, name string, fn func(agentLine) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxRecordLine)
	n := 0
	for sc.Scan() {
		n++
		var l agentLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("agent %s: stream line %d: %w", name, n, err)
		}
		if l.Summary == nil {
			if err := l.Record.validate(); err != nil {
				return fmt.Errorf("agent %s: stream line %d: %w", name, n, err)
			}
		}
		if !fn(l) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("agent %s: stream line %d: %w", name, n+1, err)
	}
	return nil
}

// agentMessage reads the error an agent sent with a refusal.
func agentMessage(r io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(r, 4096))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	if s := strings.TrimSpace(string(data)); s != "" {
		return truncate(s, maxTextBytes)
	}
	return "no reason given"
}
