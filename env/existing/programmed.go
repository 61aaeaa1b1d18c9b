package existing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/programmed"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

var _ env.ProgrammedWaiter = (*Env)(nil)

// DefaultProgrammedTimeout bounds the wait for a probe's vantage proxies
// to be programmed (--programmed-timeout).
const DefaultProgrammedTimeout = 60 * time.Second

// maxProgrammedTimeout is the largest --programmed-timeout.
const maxProgrammedTimeout = 30 * time.Minute

// WithProgrammedTimeout bounds each wait for a probe's vantage proxies to
// be programmed with the step's routes (--programmed-timeout); by default
// DefaultProgrammedTimeout.
func WithProgrammedTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 || d > maxProgrammedTimeout {
			c.errs = append(c.errs, fmt.Errorf("--programmed-timeout %s: want a positive duration up to 30m, such as 60s", d))
		}
		c.programmedTimeout = d
	}
}

// vantageProxy is one Envoy a probe's requests pass through and the
// route it must have.
type vantageProxy struct {
	ns, pod string
	want    programmed.Expectation
}

func (v vantageProxy) String() string { return v.ns + "/" + v.pod }

// WaitProgrammed implements env.ProgrammedWaiter: it polls the route
// configuration of each of the probe's vantage proxies (every ready pod
// behind istio-system/istio-ingressgateway for from: ingress, the in-mesh
// agent's istio-proxy sidecar for from: mesh) through Envoy's admin port
// until each routes the probe's request as the routing model predicts for
// the step (programmed.ForProbe, programmed.Check). Istio's status-based
// waits are gone (istioctl x wait since 1.23; config distribution tracking
// does nothing), so the proxy's own config is the signal. It fails after
// the programmed timeout, naming each proxy that lags, the route it has
// and the one expected.
func (e *Env) WaitProgrammed(ctx context.Context, s *scenario.Scenario, step int, p scenario.Probe) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scenario != s || e.deployer == nil {
		return fmt.Errorf("existing environment: WaitProgrammed of %s before its Setup", s.Metadata.Name)
	}
	return e.waitProgrammed(ctx, s, step, p)
}

// waitProgrammed is WaitProgrammed with e.mu held. The wait lists the
// vantage proxies again every relistInterval, so that a gateway replica
// that becomes ready during the wait is checked too and one that goes away
// no longer counts;
// a proxy that was programmed stays counted (its routes only change with
// the next step). A transient API error while listing (the API server
// restarting, throttling, timing out, or no gateway pod ready yet during a
// rollout) is retried until the programmed timeout; any other error ends
// the wait at once.
func (e *Env) waitProgrammed(ctx context.Context, s *scenario.Scenario, step int, p scenario.Probe) error {
	timeout := e.opts.programmedTimeout
	if timeout == 0 {
		timeout = DefaultProgrammedTimeout
	}
	interval := e.opts.pollInterval
	if interval <= 0 {
		interval = kube.DefaultPollInterval
	}
	relist := e.opts.relistInterval
	if relist <= 0 {
		relist = relistInterval
	}
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Reads of a proxy end with the wait, so that a hung admin read
	// cannot outlast --programmed-timeout.
	readCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := map[string]bool{}      // proxies seen programmed
	lagging := map[string]string{} // proxy -> what it has, at the last poll
	var (
		proxies []vantageProxy
		listed  time.Time // when proxies were listed
		listErr error     // the last listing's error
	)
	for polls := 1; ; polls++ {
		var err error
		if proxies == nil || time.Since(listed) >= relist {
			// The listing has its own short deadline, not the wait's: a
			// listing is quick or the API server is away, and the client's
			// rate limiter refuses a call that would end past a deadline.
			lctx, lcancel := context.WithTimeout(ctx, listTimeout)
			var list []vantageProxy
			if list, err = e.vantageProxies(lctx, s, step, p); err == nil {
				proxies, listed = list, time.Now()
			}
			lcancel()
		}
		switch {
		case err == nil:
			listErr = nil
			if len(proxies) == 0 {
				return nil
			}
			now := map[string]string{}
			for _, v := range proxies {
				name := v.String()
				if done[name] {
					continue
				}
				has, ok := e.programmed(readCtx, v)
				switch {
				case ok:
					done[name] = true
				case readCtx.Err() != nil && lagging[name] != "":
					// The wait's end cut this read short: keep what the
					// proxy had at the poll before.
					now[name] = lagging[name]
				default:
					now[name] = has
				}
			}
			lagging = now
			if len(lagging) == 0 {
				names := make([]string, len(proxies))
				for i, v := range proxies {
					names[i] = v.String()
				}
				e.log.Info("data plane programmed", "probe", p.Name, "proxies", strings.Join(names, ", "),
					"waited", time.Since(start).Round(time.Millisecond), "polls", polls)
				return nil
			}
		case retryableListing(err):
			e.log.Warn("listing the probe's proxies failed; retrying until the programmed timeout", "probe", p.Name, "error", err)
			listErr = err
		default:
			return fmt.Errorf("probe %s: wait for the data plane: %w", p.Name, err)
		}
		next := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			next.Stop()
			return fmt.Errorf("probe %s: wait for the data plane: %w", p.Name, ctx.Err())
		case <-deadline.C:
			next.Stop()
			var why []string
			if listErr != nil {
				why = append(why, fmt.Sprintf("the last poll could not list the proxies: %v", listErr))
			}
			for _, name := range slices.Sorted(maps.Keys(lagging)) {
				why = append(why, fmt.Sprintf("proxy %s has: %s", name, lagging[name]))
			}
			return fmt.Errorf("probe %s: the data plane is not programmed after %s (%d polls, --programmed-timeout): %s",
				p.Name, timeout, polls, strings.Join(why, "; "))
		case <-next.C:
		}
	}
}

// relistInterval is how often a wait lists the vantage proxies again
// while it polls them (at each poll after a failed listing); listTimeout
// bounds one listing.
const (
	relistInterval = 5 * time.Second
	listTimeout    = 10 * time.Second
)

// errNoReadyGateway says that no ingress gateway pod is ready: during a
// rollout or a restart, a state that passes.
var errNoReadyGateway = errors.New("no ready ingress gateway pod")

// retryableListing says whether listing the vantage proxies may succeed
// when tried again: the API server's transient answers (503, 500, 429,
// timeouts; apimachinery's errors package), a connection it refused or
// reset while restarting, and no gateway pod ready yet.
func retryableListing(err error) bool {
	return errors.Is(err, errNoReadyGateway) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsUnexpectedServerError(err) ||
		utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || errors.Is(err, io.ErrUnexpectedEOF)
}

// programmed reads v's route configurations and checks them; when they
// are not as expected, or cannot be read, it says what v has.
func (e *Env) programmed(ctx context.Context, v vantageProxy) (string, bool) {
	dump, err := kube.ProxyAdminGet(ctx, e.forwarder(), v.ns, v.pod, kube.RouteConfigDumpPath)
	if err != nil {
		return fmt.Sprintf("no readable routes (%v); expected %s", err, v.want.Want), false
	}
	rcs, err := programmed.FromConfigDump(dump)
	if err != nil {
		return fmt.Sprintf("no readable routes (%v); expected %s", err, v.want.Want), false
	}
	ok, has := programmed.Check(rcs, v.want)
	return has, ok
}

// vantageProxies lists the proxies a probe's requests pass through, each
// with the route it must have after step. For an ingress probe with
// --ingress-url and no gateway in istio-system it logs that the wait is
// skipped and returns none.
func (e *Env) vantageProxies(ctx context.Context, s *scenario.Scenario, step int, p scenario.Probe) ([]vantageProxy, error) {
	if p.From == mesh.Mesh {
		if _, err := e.agent(ctx, p.ServiceAccount); err != nil {
			return nil, err
		}
		ns := s.SourceNamespace()
		want, err := programmed.ForProbe(s, step, p, 0)
		if err != nil {
			return nil, err
		}
		return []vantageProxy{{ns: ns, pod: e.agents[agentKey(ns, p.ServiceAccount)].pod, want: want}}, nil
	}
	pods, err := e.gatewayPods(ctx)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		e.log.Info("no ingress gateway pods in "+istioNamespace+": the programmed wait is skipped", "probe", p.Name, "ingress", e.opts.ingressURL)
		return nil, nil
	}
	var out []vantageProxy
	for _, g := range pods {
		want, err := programmed.ForProbe(s, step, p, g.port)
		if err != nil {
			return nil, err
		}
		out = append(out, vantageProxy{ns: istioNamespace, pod: g.pod, want: want})
	}
	return out, nil
}

// gatewayPod is a ready ingress gateway pod and the pod port of the
// gateway Service's HTTP port on it.
type gatewayPod struct {
	pod  string
	port int
}

// gatewayPods lists the ready pods behind istio-system/istio-ingressgateway.
// With --ingress-url, a missing Service or no ready pod is no error: the
// gateway the URL reaches is not one meshcheck can see.
func (e *Env) gatewayPods(ctx context.Context) ([]gatewayPod, error) {
	svc, err := e.client.Kube.CoreV1().Services(istioNamespace).Get(ctx, ingressGatewayService, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && e.opts.ingressURL != "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find the ingress gateway: Service %s/%s: %w (install Istio's ingress gateway, or give --ingress-url)", istioNamespace, ingressGatewayService, err)
	}
	port, err := httpPort(svc)
	if err != nil {
		return nil, err
	}
	if len(svc.Spec.Selector) == 0 {
		if e.opts.ingressURL != "" {
			return nil, nil
		}
		return nil, fmt.Errorf("Service %s/%s has no selector: give --ingress-url", svc.Namespace, svc.Name)
	}
	pods, err := e.client.Kube.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list ingress gateway pods: %w", err)
	}
	var out []gatewayPod
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || !kube.PodReady(pod) {
			continue
		}
		target, err := targetPort(pod, port)
		if err != nil {
			return nil, err
		}
		out = append(out, gatewayPod{pod: pod.Name, port: target})
	}
	if len(out) == 0 && e.opts.ingressURL == "" {
		return nil, fmt.Errorf("%w behind Service %s/%s", errNoReadyGateway, svc.Namespace, svc.Name)
	}
	slices.SortFunc(out, func(a, b gatewayPod) int { return strings.Compare(a.pod, b.pod) })
	return out, nil
}

// propagate is the Deployer's wait after each phase of a step: after the
// route phase, until every probe of the step has its vantage proxies
// programmed with the step's routes. The make phase needs no wait of its
// own: istiod pushes each proxy's clusters and endpoints before its
// listeners and routes, on the one ADS stream, in every push
// (pilot/pkg/xds/ads.go: PushOrder CDS, EDS, LDS, RDS), so subsets added
// in the make phase reach a proxy no later than the routes that use them.
// The break phase must not remove old subsets while a vantage proxy still
// routes to them; waiting here, before it, makes sure none does. Setup
// (step -1) has no probes to wait for.
func (e *Env) propagate(ctx context.Context, phase kube.Phase, _ []kube.Ref) error {
	if phase != kube.PhaseRoute || e.applying < 0 {
		return nil
	}
	for _, p := range e.scenario.Steps[e.applying].Probes {
		if err := e.waitProgrammed(ctx, e.scenario, e.applying, p); err != nil {
			return err
		}
	}
	return nil
}
