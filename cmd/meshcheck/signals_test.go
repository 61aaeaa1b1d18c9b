package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
)

// signalRun runs watchSignals over the signals (then a closed channel) and
// returns the output, the context's cause and the exit codes asked for.
func signalRun(t *testing.T, signals ...os.Signal) (string, error, []int) {
	t.Helper()
	sigs := make(chan os.Signal, len(signals))
	for _, s := range signals {
		sigs <- s
	}
	close(sigs)
	ctx, cancel := context.WithCancelCause(t.Context())
	var out bytes.Buffer
	var exits []int
	watchSignals(sigs, cancel, func() string { return "the kind cluster \"meshcheck\" (meshcheck down --name meshcheck)" }, &out, func(code int) { exits = append(exits, code) })
	var cause error
	if ctx.Err() != nil {
		cause = context.Cause(ctx)
	}
	return out.String(), cause, exits
}

// TestSignals: the first SIGINT or SIGTERM cancels the run; a SIGTERM
// during the cleanup is ignored (GitHub Actions sends one 7.5 s after its
// SIGINT); a second SIGINT says what is left behind and exits 3.
func TestSignals(t *testing.T) {
	out, cause, exits := signalRun(t)
	if cause != nil || len(exits) != 0 || out != "" {
		t.Errorf("no signal: cause %v, exits %v, output %q; want nothing", cause, exits, out)
	}

	out, cause, exits = signalRun(t, os.Interrupt)
	if cause == nil || !strings.Contains(cause.Error(), "interrupt") || len(exits) != 0 {
		t.Errorf("one SIGINT: cause %v, exits %v; want the run cancelled and no exit", cause, exits)
	}

	out, cause, exits = signalRun(t, os.Interrupt, syscall.SIGTERM, syscall.SIGTERM)
	if cause == nil || len(exits) != 0 || strings.Count(out, "ignored") != 2 {
		t.Errorf("SIGINT then SIGTERM twice: cause %v, exits %v, output %q; want cancelled, both SIGTERMs ignored, no exit", cause, exits, out)
	}

	out, cause, exits = signalRun(t, syscall.SIGTERM, syscall.SIGTERM, os.Interrupt, os.Interrupt)
	if cause == nil || !strings.Contains(cause.Error(), "terminated") {
		t.Errorf("SIGTERM first: cause %v, want the run cancelled by it", cause)
	}
	if len(exits) != 1 || exits[0] != ExitInconclusive || !strings.Contains(out, "left behind: the kind cluster \"meshcheck\" (meshcheck down --name meshcheck)") {
		t.Errorf("a second SIGINT: exits %v, output %q; want one exit 3 naming what is left behind", exits, out)
	}
}

// TestLeftBehind: what an interrupted run leaves is named with how to
// remove it, per environment.
func TestLeftBehind(t *testing.T) {
	dir := t.TempDir()
	kindRun := runFlags{env: "kind", name: "ci-1", kubeconfigDir: dir}
	if got := kindRun.leftBehind(); !strings.Contains(got, `kind cluster "ci-1"`) || !strings.Contains(got, "meshcheck down --name ci-1") ||
		!strings.Contains(got, dir+"/clusters/ci-1/kubeconfig") {
		t.Errorf("kind: %q", got)
	}
	existingRun := runFlags{env: "existing", context: "staging"}
	if got := existingRun.leftBehind(); !strings.Contains(got, "kubectl --context staging delete namespace -l app.kubernetes.io/managed-by=meshcheck") {
		t.Errorf("existing: %q", got)
	}
	var d describer
	if got := d.describe(); got != "nothing outside this process" {
		t.Errorf("nothing set: %q", got)
	}
}
