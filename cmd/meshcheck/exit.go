package main

import (
	"fmt"

	"github.com/meshcheck/meshcheck/verify"
)

// Exit codes shared by every command.
const (
	ExitPass         = 0 // verification passed (or the command succeeded)
	ExitFail         = 1 // verification failed
	ExitUsage        = 2 // usage or input error
	ExitInconclusive = 3 // the budget ended before the evidence decided
	ExitEnvironment  = 4 // cluster, istioctl or container engine error
)

// exitError carries an exit code out of a command; err, when set, is printed
// as one line on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad input (exit 2).
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

// envError marks err as an environment failure (exit 4).
func envError(err error) error { return &exitError{code: ExitEnvironment, err: err} }

// verdictError turns a verdict into the command's outcome: nil for PASS,
// else a silent exitError with code 1 or 3.
func verdictError(v verify.Verdict) error {
	switch v {
	case verify.Pass:
		return nil
	case verify.Fail:
		return &exitError{code: ExitFail}
	}
	return &exitError{code: ExitInconclusive}
}
