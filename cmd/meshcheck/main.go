// Command meshcheck proves that a service mesh routes traffic the way its
// configuration says: it deploys routing scenarios, drives constant-rate load
// and decides, with stated error rates, whether the observed per-version
// distribution matches the configured weights.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx and starts teardown; restoring the default
	// handling then lets a second Ctrl-C end the process even while a step
	// that cannot be cancelled (kind's Create) is running.
	context.AfterFunc(ctx, stop)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
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
