// Command meshcheck proves that a service mesh routes traffic the way its
// configuration says: it deploys routing scenarios, drives constant-rate load
// and decides, with stated error rates, whether the observed per-version
// distribution matches the configured weights.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/env/kube"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchSignals(sigs, cancel, leftBehind.describe, os.Stderr, os.Exit)
	err := newRootCommand().ExecuteContext(ctx)
	signal.Stop(sigs)
	cancel(nil)
	os.Exit(exitCode(err))
}

// watchSignals handles the signals meshcheck receives until sigs is closed
// or it exits. The first SIGINT or SIGTERM cancels the run (cancel), which
// then cleans up: the runner closes the environment with a context of its
// own. Signal handling stays installed during the cleanup, because GitHub
// Actions cancels a step with SIGINT, then SIGTERM 7.5 s later, then kills
// the process tree 2.5 s after that (GitHub's "Canceling a workflow",
// https://docs.github.com/en/actions/managing-workflow-runs/canceling-a-workflow;
// actions/runner src/Runner.Sdk/ProcessInvoker.cs): a later
// SIGTERM is logged and ignored so that the cleanup goes on. A second
// SIGINT (Ctrl-C) is the user's wish to stop now, also during a step that
// cannot be cancelled (kind's Create): it prints what the run leaves
// behind (describe) and how to remove it, and exits 3.
func watchSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, describe func() string, stderr io.Writer, exit func(int)) {
	interrupted := false
	for sig := range sigs {
		switch {
		case !interrupted:
			interrupted = true
			fmt.Fprintf(stderr, "meshcheck: %s: stopping and cleaning up (Ctrl-C again to stop at once)\n", sig)
			cancel(fmt.Errorf("interrupted by %s", sig))
		case sig == syscall.SIGTERM:
			fmt.Fprintf(stderr, "meshcheck: %s during cleanup: ignored, cleaning up (Ctrl-C stops at once)\n", sig)
		default:
			fmt.Fprintf(stderr, "meshcheck: %s again: stopping without cleaning up; left behind: %s\n", sig, describe())
			exit(ExitInconclusive)
			return
		}
	}
}

// leftBehind is what the running command would leave behind if stopped
// before its cleanup: the commands that create something set it.
var leftBehind describer

// describer holds a description of what a command leaves behind unless it
// cleans up, set once the command knows its environment.
type describer struct {
	mu sync.Mutex
	fn func() string
}

// set makes fn the description.
func (d *describer) set(fn func() string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fn = fn
}

// describe returns the description, or says that nothing outside the
// process is left.
func (d *describer) describe() string {
	d.mu.Lock()
	fn := d.fn
	d.mu.Unlock()
	if fn == nil {
		return "nothing outside this process"
	}
	return fn()
}

// exitCode maps a command's error to the process exit status and prints it.
func exitCode(err error) int {
	if err == nil {
		return ExitPass
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "meshcheck:", ee.err)
		}
		return ee.code
	}
	// Errors cobra returns itself (unknown flag, bad flag value, wrong
	// argument count) are usage errors.
	fmt.Fprintln(os.Stderr, "meshcheck:", err)
	return ExitUsage
}

// leftBehind describes what a run in the flags' environment leaves if it is
// stopped before its cleanup, and how to remove it.
func (f runFlags) leftBehind() string {
	selector := kube.LabelManagedBy + "=" + kube.ManagedBy
	switch f.env {
	case env.Kind:
		l := kind.Layout{Name: f.name}
		l.StateDir, _ = kind.ResolveStateDir(f.kubeconfigDir) // checked by kind.New
		return fmt.Sprintf("the kind cluster %q with kubeconfig %s if this run created it (delete it: meshcheck down --name %s); "+
			"on a cluster it reused, the scenarios' namespaces (delete them: kubectl --kubeconfig %s delete namespace -l %s)",
			f.name, l.Kubeconfig(), f.name, l.Kubeconfig(), selector)
	case env.Existing:
		kubectl := "kubectl"
		if f.kubeconfig != "" {
			kubectl += " --kubeconfig " + f.kubeconfig
		}
		if f.context != "" {
			kubectl += " --context " + f.context
		}
		return fmt.Sprintf("the scenarios' namespaces, labelled %s (delete them: %s delete namespace -l %s)", selector, kubectl, selector)
	}
	return "nothing outside this process"
}
