package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Engine is a container engine kind can drive.
type Engine struct {
	Name   string // kind provider: "docker", "podman" or "nerdctl"
	Binary string // the client command: docker, podman, nerdctl, finch, nerdctl.lima
}

// Prober finds a container engine that answers.
type Prober interface {
	Probe(ctx context.Context) (Engine, error)
}

// ErrNoEngine is the class of errors Probe returns when no engine answers.
var ErrNoEngine = errors.New("no container engine answers")

// NoEngineError says which engines were tried and why each failed. Its
// message is one line naming the alternatives.
type NoEngineError struct {
	Tried []string // "docker: the engine does not answer (...)"
}

// Error is one line: what was tried and the alternatives.
func (e *NoEngineError) Error() string {
	return fmt.Sprintf("%v (%s): the kind environment needs a running Docker, Podman or nerdctl engine; run scenarios with --env local (in-process emulation) or --env existing (a cluster you already have) instead",
		ErrNoEngine, strings.Join(e.Tried, "; "))
}

// Is makes errors.Is(err, ErrNoEngine) true.
func (e *NoEngineError) Is(target error) bool { return target == ErrNoEngine }

// CommandProber probes engines by running their client: `<client> info`
// exits non-zero when the client exists but its engine does not answer
// (kind's own detection, cluster.DetectNodeProvider, only runs
// `docker -v`, which succeeds without an engine). It honours
// KIND_EXPERIMENTAL_PROVIDER like the kind CLI (pkg/internal/runtime) and
// otherwise tries docker, nerdctl, podman in DetectNodeProvider's order.
type CommandProber struct {
	LookPath func(file string) (string, error)                                      // exec.LookPath when nil
	Run      func(ctx context.Context, name string, args ...string) (string, error) // runs and returns stderr; execRun when nil
	Getenv   func(string) string                                                    // os.Getenv when nil
	Timeout  time.Duration                                                          // per probe; 20 s when 0
}

// Candidates are the engines to try, in order.
func (p *CommandProber) Candidates() ([]Engine, error) {
	getenv := p.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	switch v := getenv("KIND_EXPERIMENTAL_PROVIDER"); v {
	case "":
		return []Engine{{"docker", "docker"}, {"nerdctl", "nerdctl"}, {"podman", "podman"}}, nil
	case "docker", "podman":
		return []Engine{{v, v}}, nil
	case "nerdctl", "finch", "nerdctl.lima":
		return []Engine{{"nerdctl", v}}, nil
	default:
		return nil, fmt.Errorf("KIND_EXPERIMENTAL_PROVIDER=%q: want docker, podman, nerdctl, finch or nerdctl.lima", v)
	}
}

// Probe returns the first engine whose `info` succeeds.
func (p *CommandProber) Probe(ctx context.Context) (Engine, error) {
	engines, err := p.Candidates()
	if err != nil {
		return Engine{}, err
	}
	lookPath := p.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	run := p.Run
	if run == nil {
		run = execRun
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	var tried []string
	for _, e := range engines {
		if _, err := lookPath(e.Binary); err != nil {
			tried = append(tried, e.Binary+": not on PATH")
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		stderr, err := run(pctx, e.Binary, "info")
		cancel()
		if err == nil {
			return e, nil
		}
		if ctx.Err() != nil {
			return Engine{}, ctx.Err()
		}
		why := lastLine(stderr)
		if why == "" {
			why = err.Error()
		}
		tried = append(tried, fmt.Sprintf("%s: the client is installed but `%s info` fails: %s", e.Binary, e.Binary, why))
	}
	return Engine{}, &NoEngineError{Tried: tried}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

func execRun(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return stderr.String(), fmt.Errorf("no answer within the probe timeout: %w", ctx.Err())
	}
	return stderr.String(), err
}
