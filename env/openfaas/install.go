package openfaas

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env/kube"
)

// InstallLabel is the value of kube.LabelScenario on everything the
// install applies: the objects belong to the cluster's OpenFaaS, not to a
// scenario, so no scenario's teardown sweeps them. The dot keeps it apart
// from every scenario name (DNS labels).
const InstallLabel = "backend.openfaas"

// GatewayDeployment is the chart's gateway Deployment and Service in
// Namespace.
const GatewayDeployment = fnapi.GatewayName

// InstallOptions bound the install's waits.
type InstallOptions struct {
	// ReadyTimeout bounds the wait for the chart's Deployments; 0 means
	// kube.DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// PollInterval is how often waits read the API; 0 means
	// kube.DefaultPollInterval.
	PollInterval time.Duration
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// Setup is what the install applies before the chart: the namespaces
// Namespace and FunctionNamespace with sidecar injection
// (istio-injection=enabled), and the chart's crds/ objects.
func (r Rendered) Setup() kube.Change {
	ch := kube.Change{Apply: []*unstructured.Unstructured{
		kube.NamespaceObject(Namespace, true),
		kube.NamespaceObject(FunctionNamespace, true),
	}}
	ch.Apply = append(ch.Apply, r.CRDs...)
	return ch
}

// Install applies r with meshcheck's server-side apply, as `helm install`
// orders it: the namespaces and CRDs (Setup), then the pre-install hooks
// that do not exist yet (Helm runs them on install only: the chart's
// basic-auth Secret holds a random password, which must not change under a
// running gateway), then the chart's objects; and waits until every
// Deployment of the chart, the gateway among them, is ready by kube's
// readiness rule. Running it again changes nothing.
func Install(ctx context.Context, c *kube.Client, r Rendered, opts InstallOptions) error {
	d, err := kube.NewDeployer(c, kube.Options{
		Scenario:     InstallLabel,
		ReadyTimeout: opts.ReadyTimeout,
		PollInterval: opts.PollInterval,
	})
	if err != nil {
		return err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := d.Apply(ctx, r.Setup()); err != nil {
		return fmt.Errorf("install OpenFaaS: namespaces and CRDs: %w", err)
	}
	var hooks []*unstructured.Unstructured
	for _, h := range r.PreInstall {
		ok, err := c.Exists(ctx, h)
		if err != nil {
			return fmt.Errorf("install OpenFaaS: pre-install hook: %w", err)
		}
		if ok {
			log.Info("OpenFaaS pre-install hook object exists: left as it is", "kind", h.GetKind(), "namespace", h.GetNamespace(), "name", h.GetName())
			continue
		}
		hooks = append(hooks, h)
	}
	if err := d.Apply(ctx, kube.Change{Apply: hooks}); err != nil {
		return fmt.Errorf("install OpenFaaS: pre-install hooks: %w", err)
	}
	if err := d.Apply(ctx, kube.Change{Apply: r.Objects}); err != nil {
		return fmt.Errorf("install OpenFaaS: %w", err)
	}
	log.Info("OpenFaaS installed", "chart", Pinned.Name, "version", Pinned.Version, "namespace", Namespace)
	return nil
}
