//go:build apiserver

package kube

import (
	"fmt"
	"os"
	"testing"

	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := apiservertest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
