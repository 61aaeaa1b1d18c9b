package knative

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"

	ksapi "github.com/meshcheck/meshcheck/backend/knative"
	"github.com/meshcheck/meshcheck/env/kube"
)

// InstallLabel is the value of kube.LabelScenario on everything the
// install applies: the objects belong to the cluster's Knative, not to a
// scenario, so no scenario's teardown sweeps them (as
// openfaas.InstallLabel).
const InstallLabel = "backend.knative"

// The Knative configuration the install sets (serving-core.yaml's
// ConfigMaps in Namespace).
const (
	// Namespace is Knative Serving's namespace.
	Namespace = "knative-serving"
	// ConfigNetwork is the ConfigMap of Knative's networking settings.
	ConfigNetwork = "config-network"
	// KeyIngressClass is config-network's key naming the ingress
	// implementation (knative.dev/docs/serving/services/ingress-class:
	// "ingress-class", default istio.ingress.networking.knative.dev).
	KeyIngressClass = "ingress-class"
	// IngressClassIstio is net-istio's ingress class.
	IngressClassIstio = "istio.ingress.networking.knative.dev"
	// ConfigDeployment is the ConfigMap of Knative's revision deployment
	// settings.
	ConfigDeployment = "config-deployment"
	// KeySkipTagResolving is config-deployment's key listing registries
	// whose tags Knative does not resolve to digests
	// (registries-skipping-tag-resolving; default kind.local, ko.local,
	// dev.local). meshcheck's images are loaded into the kind nodes and in
	// no registry, so their registry is added.
	KeySkipTagResolving = "registries-skipping-tag-resolving"
)

// DefaultSkipTagResolving is serving-core.yaml's registries-skipping-tag-
// resolving, used when the file's ConfigMap does not set the key.
const DefaultSkipTagResolving = "kind.local,ko.local,dev.local"

// InstallOptions bound the install's waits.
type InstallOptions struct {
	// ReadyTimeout bounds the waits for the CRDs to be served and for the
	// Deployments to be ready; 0 means kube.DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// PollInterval is how often waits read the API; 0 means
	// kube.DefaultPollInterval.
	PollInterval time.Duration
	// ImageRegistry is the registry of meshcheck's loaded images, added to
	// registries-skipping-tag-resolving; "" adds nothing.
	ImageRegistry string
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// Configure sets, in the release's ConfigMaps among objs (changed in
// place), config-network's ingress-class to net-istio's and adds registry
// to config-deployment's registries-skipping-tag-resolving. It returns the
// data it set, by ConfigMap, for the dry run and the log; a release
// without config-network is an error.
func Configure(objs []*unstructured.Unstructured, registry string) (map[string]map[string]string, error) {
	set := map[string]map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetNamespace() != Namespace {
			continue
		}
		switch o.GetName() {
		case ConfigNetwork:
			if err := unstructured.SetNestedField(o.Object, IngressClassIstio, "data", KeyIngressClass); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", Namespace, ConfigNetwork, err)
			}
			set[ConfigNetwork] = map[string]string{KeyIngressClass: IngressClassIstio}
		case ConfigDeployment:
			if registry == "" {
				continue
			}
			v, _, _ := unstructured.NestedString(o.Object, "data", KeySkipTagResolving)
			v = SkipTagResolving(v, registry)
			if err := unstructured.SetNestedField(o.Object, v, "data", KeySkipTagResolving); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", Namespace, ConfigDeployment, err)
			}
			set[ConfigDeployment] = map[string]string{KeySkipTagResolving: v}
		}
	}
	if _, ok := set[ConfigNetwork]; !ok {
		return nil, fmt.Errorf("%w: %s has no ConfigMap %s/%s to set %s in", ErrManifests, FileCore, Namespace, ConfigNetwork, KeyIngressClass)
	}
	return set, nil
}

// SkipTagResolving is the comma-separated list current (the default when
// empty) with registry added once.
func SkipTagResolving(current, registry string) string {
	if strings.TrimSpace(current) == "" {
		current = DefaultSkipTagResolving
	}
	var regs []string
	for _, r := range strings.Split(current, ",") {
		if r = strings.TrimSpace(r); r != "" {
			regs = append(regs, r)
		}
	}
	if !slices.Contains(regs, registry) {
		regs = append(regs, registry)
	}
	return strings.Join(regs, ",")
}

// Install applies m with meshcheck's server-side apply, labelled as the
// backend's objects (InstallLabel): serving-crds.yaml, a wait until the
// API serves the Service kind, then serving-core.yaml with config-network
// and config-deployment set (Configure), then net-istio.yaml; each Apply
// waits until the file's Deployments (in knative-serving: activator,
// autoscaler, controller, webhook, net-istio-controller, net-istio-webhook)
// are ready by kube's readiness rule. This is the order of Knative's YAML
// install (knative.dev/docs/install/yaml-install/serving/
// install-serving-with-yaml). Running it again changes nothing.
func Install(ctx context.Context, c *kube.Client, m *Manifests, opts InstallOptions) error {
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
	if err := d.Apply(ctx, kube.Change{Apply: m.CRDs}); err != nil {
		return fmt.Errorf("install Knative: %s: %w", FileCRDs, err)
	}
	if err := WaitServed(ctx, c.Kube.Discovery(), opts); err != nil {
		return fmt.Errorf("install Knative: %w", err)
	}
	if _, err := Configure(m.Core, opts.ImageRegistry); err != nil {
		return fmt.Errorf("install Knative: %w", err)
	}
	if err := d.Apply(ctx, kube.Change{Apply: m.Core}); err != nil {
		return fmt.Errorf("install Knative: %s: %w", FileCore, err)
	}
	if err := d.Apply(ctx, kube.Change{Apply: m.NetIstio}); err != nil {
		return fmt.Errorf("install Knative: %s: %w", FileNetIstio, err)
	}
	log.Info("Knative Serving installed", "serving", Pinned.Serving, "netIstio", Pinned.NetIstio, "namespace", Namespace)
	return nil
}

// WaitServed polls discovery until serving.knative.dev/v1 lists the
// Service resource (its CRD established), within opts.ReadyTimeout, every
// opts.PollInterval.
func WaitServed(ctx context.Context, dc discovery.DiscoveryInterface, opts InstallOptions) error {
	timeout, poll := opts.ReadyTimeout, opts.PollInterval
	if timeout == 0 {
		timeout = kube.DefaultReadyTimeout
	}
	if poll == 0 {
		poll = kube.DefaultPollInterval
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(context.Context) (bool, error) {
		last = CheckInstalled(dc)
		switch {
		case last == nil:
			return true, nil
		case errors.Is(last, ErrNotInstalled):
			return false, nil
		default:
			return false, last
		}
	})
	if err != nil && errors.Is(last, ErrNotInstalled) {
		return fmt.Errorf("the API server does not serve %s after %s: %w", servedName, timeout, last)
	}
	return err
}

// servedName names the resource CheckInstalled looks for.
var servedName = ksapi.Resource + " in " + ksapi.SchemeGroupVersion.String()

// ErrNotInstalled marks a cluster without Knative Serving's Service kind.
var ErrNotInstalled = errors.New("Knative Serving is not installed")

// CheckInstalled requires the API to serve the Service kind of
// serving.knative.dev/v1 (the CRD services.serving.knative.dev); without it
// the error wraps ErrNotInstalled and says what is missing.
func CheckInstalled(dc discovery.DiscoveryInterface) error {
	groups, err := dc.ServerGroups()
	if err != nil {
		return fmt.Errorf("look for the CRD %s: %w", ksapi.CRDName, err)
	}
	served := false
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			if v.GroupVersion == ksapi.SchemeGroupVersion.String() {
				served = true
			}
		}
	}
	if served {
		list, err := dc.ServerResourcesForGroupVersion(ksapi.SchemeGroupVersion.String())
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("look for the CRD %s: %w", ksapi.CRDName, err)
		}
		if list != nil {
			for _, r := range list.APIResources {
				if r.Name == ksapi.Resource {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: the API serves no %s (no CRD %s): install Knative Serving %s with net-istio %s, %s, %s and %s, or use --env kind --knative-manifests DIR, which installs them",
		ErrNotInstalled, servedName, ksapi.CRDName, Pinned.Serving, Pinned.NetIstio, FileCRDs, FileCore, FileNetIstio)
}

// ServiceReady says whether the live Knative Service u is ready: its
// status.observedGeneration is its metadata.generation and its condition
// Ready is True (knative.dev/serving pkg/apis/serving/v1
// service_lifecycle.go: Ready summarises ConfigurationsReady and
// RoutesReady). Otherwise why says what is missing, with the condition's
// reason and message when it has them.
func ServiceReady(u *unstructured.Unstructured) (ready bool, why string) {
	gen := u.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if observed < gen {
		return false, fmt.Sprintf("status.observedGeneration %d < generation %d (the controller has not seen it yet)", observed, gen)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		if m["status"] == "True" {
			return true, ""
		}
		why = fmt.Sprintf("condition Ready is %v", m["status"])
		if r, ok := m["reason"].(string); ok && r != "" {
			why += " (" + r + ")"
		}
		if msg, ok := m["message"].(string); ok && msg != "" {
			why += ": " + msg
		}
		return false, why
	}
	return false, "no condition Ready yet"
}
