package istio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Cmd is one process to run.
type Cmd struct {
	Path   string   // executable
	Args   []string // arguments, without the executable
	Env    []string // complete environment
	Stdout io.Writer
	Stderr io.Writer
}

// String is the command line as a shell would read it (for logs and
// --dry-run).
func (c Cmd) String() string {
	parts := []string{quote(c.Path)}
	for _, a := range c.Args {
		parts = append(parts, quote(a))
	}
	return strings.Join(parts, " ")
}

func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Runner runs processes: the boundary between meshcheck and istioctl. Run
// returns nil on exit status 0, an *ExitError for another status, and the
// context's error when ctx ends first (the process is killed).
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// ExitError is a process that ran and exited non-zero.
type ExitError struct{ Code int }

// Error is "exit status N", like os/exec.
func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExecRunner runs processes with os/exec.
type ExecRunner struct {
	// WaitDelay bounds how long Run waits for output after the process is
	// killed on cancellation; 10 s when 0.
	WaitDelay time.Duration
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, c Cmd) error {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", c.Path, err)
	}
	return nil
}

// lineLog is an io.Writer that logs each complete line and keeps the last
// ones for error messages. It is safe for concurrent use (stdout and stderr
// may share it).
type lineLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	source  string
	keep    int
	partial []byte
	last    []string
}

func newLineLog(log *slog.Logger, source string, keep int) *lineLog {
	return &lineLog{log: log, source: source, keep: keep}
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLog) line(s string) {
	s = strings.TrimRight(s, "\r")
	if strings.TrimSpace(s) == "" {
		return
	}
	l.log.Info(s, "source", l.source)
	l.last = append(l.last, s)
	if len(l.last) > l.keep {
		l.last = l.last[len(l.last)-l.keep:]
	}
}

// Last flushes a pending partial line and returns the kept lines.
func (l *lineLog) Last() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.line(string(l.partial))
		l.partial = nil
	}
	return append([]string(nil), l.last...)
}
