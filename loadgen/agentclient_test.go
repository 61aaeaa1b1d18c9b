package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

// relay is a TCP relay in front of an agent, standing in for the
// port-forward a real cluster needs: it counts the connections it accepts
// and can reset every open one, as a lost port-forward does.
type relay struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []*net.TCPConn
}

func newRelay(t *testing.T, upstream string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	t.Cleanup(func() { ln.Close(); r.reset() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.accepted.Add(1)
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c.(*net.TCPConn), up.(*net.TCPConn))
			r.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return r
}

func (r *relay) url() string { return "http://" + r.ln.Addr().String() }

// reset ends every open connection with a TCP RST.
func (r *relay) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.SetLinger(0)
		c.Close()
	}
	r.conns = nil
}

// TestAgentClientSharesItsConnections: the calls of one AgentClient share
// one transport, so that a second call reuses the first one's connection
// (a transport per call would dial again), and Close releases them.
func TestAgentClientSharesItsConnections(t *testing.T) {
	agent := newAgent(t, DefaultAgentLimits())
	r := newRelay(t, strings.TrimPrefix(agent.URL, "http://"))
	c := &AgentClient{URL: r.url()}
	ctx := t.Context()
	for range 3 {
		if err := c.Healthy(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.accepted.Load(); n != 1 {
		t.Errorf("three health checks opened %d connections, want 1 shared", n)
	}
	c.Close()
	if err := c.Healthy(ctx); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if n := r.accepted.Load(); n != 2 {
		t.Errorf("after Close the next call opened %d connections in all, want 2 (Close drops the idle one)", n)
	}
	c.Close()
}

// TestAgentClientTunnelReset: the connection to the agent is reset in the
// middle of a probe's stream, as when the port-forward is lost. Run ends at
// once with an error naming the agent and how far the stream got, not a
// verdict; the same client then runs the next probe on a new connection.
func TestAgentClientTunnelReset(t *testing.T) {
	backend := newEchoServer(t, "echo.local", 11, share{"v1", 75}, share{"v2", 25})
	agent := newAgent(t, DefaultAgentLimits())
	r := newRelay(t, strings.TrimPrefix(agent.URL, "http://"))
	c := &AgentClient{URL: r.url()}
	defer c.Close()

	o := fastOptions(0)
	o.Rate = 500
	o.Duration = time.Minute
	p := Probe{Target: Target{URL: backend.URL + "/echo", Host: "echo.local"}, Options: o,
		Classify: mustClassifier(t, "json:os.hostname"),
		Map:      VersionMap{"echo-v1-7d9f8b6c5d-x2x4z": "v1", "echo-v2-7d9f8b6c5d-x2x4z": "v2"}}
	var seen int
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := c.Run(ctx, p, sinkFunc(func(Record) bool {
		if seen++; seen == 100 {
			r.reset()
		}
		return false
	}))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run after a reset mid-stream: err %v (context %v), want an error before the deadline", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "agent "+r.url()) {
		t.Errorf("error %q does not name the agent", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("error %q reads as a cancellation", err)
	}

	judged := judgedProbe{Target: p.Target, Options: fastOptions(50000), Classify: p.Classify, Map: p.Map, Expect: weights(t, "v1=75,v2=25")}
	out, err := c.judged(ctx, judged)
	if err != nil || out.Result.Verdict != verify.Pass {
		t.Fatalf("the next probe on the same client: verdict %v, %v", out.Result.Verdict, err)
	}
	if n := r.accepted.Load(); n < 2 {
		t.Errorf("the relay accepted %d connections, want a new one after the reset", n)
	}
}
