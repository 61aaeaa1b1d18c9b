package istio

import (
	"context"
	"io"
	"os"
)

// ProxyStatus runs `istioctl proxy-status` against the cluster of
// kubeconfig through r, writing its output (stdout and stderr) to w: which
// proxies istiod knows and whether each has acknowledged the latest
// configuration (istioctl/pkg/proxystatus).
func ProxyStatus(ctx context.Context, r Runner, istioctl, kubeconfig string, w io.Writer) error {
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig)
	return r.Run(ctx, Cmd{Path: istioctl, Args: []string{"proxy-status", "--kubeconfig", kubeconfig}, Env: env, Stdout: w, Stderr: w})
}
