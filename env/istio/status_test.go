package istio

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestProxyStatus: istioctl proxy-status runs against meshcheck's
// kubeconfig only, its output goes to w, and its failure is returned.
func TestProxyStatus(t *testing.T) {
	var got Cmd
	r := runnerFunc(func(_ context.Context, c Cmd) error {
		got = c
		io.WriteString(c.Stdout, "NAME  CLUSTER\n")
		io.WriteString(c.Stderr, "warning: x\n")
		return &ExitError{Code: 1}
	})
	var out strings.Builder
	err := ProxyStatus(t.Context(), r, "/opt/istioctl", "/state/kubeconfig", &out)
	var ee *ExitError
	if !errors.As(err, &ee) || out.String() != "NAME  CLUSTER\nwarning: x\n" {
		t.Errorf("error %v, output %q; want the exit error and both streams", err, out.String())
	}
	if got.Path != "/opt/istioctl" || strings.Join(got.Args, " ") != "proxy-status --kubeconfig /state/kubeconfig" || !slices.Contains(got.Env, "KUBECONFIG=/state/kubeconfig") {
		t.Errorf("command %s with env KUBECONFIG? %v", got, slices.Contains(got.Env, "KUBECONFIG=/state/kubeconfig"))
	}
}
