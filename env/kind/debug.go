package kind

import (
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/kube/debug"
)

var _ env.Debugger = (*Env)(nil)

// CollectDebug implements env.Debugger with debug.Collect, through
// meshcheck's kubeconfig of the cluster: port-forwards to the vantage
// proxies, and `istioctl proxy-status` with the istioctl Istio was
// installed with.
func (e *Env) CollectDebug(ctx context.Context, dir string) error {
	s := e.Session()
	if s == nil {
		return errors.New("debug bundle: the kind environment is closed")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		return fmt.Errorf("debug bundle: kubeconfig %s: %w", s.Kubeconfig(), err)
	}
	client, err := kube.NewClient(cfg, e.log)
	if err != nil {
		return fmt.Errorf("debug bundle: %w", err)
	}
	o := debug.Options{Kube: client.Kube, Forwarder: kube.SPDYForwarder{Client: client, Log: e.log}}
	if s.istioctl != "" {
		o.ProxyStatus = func(ctx context.Context, w io.Writer) error {
			return istio.ProxyStatus(ctx, s.runner, s.istioctl, s.Kubeconfig(), w)
		}
	}
	return debug.Collect(ctx, dir, o)
}
