package kube

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Istio kinds whose order matters when routes change.
const (
	istioNetworking = "networking.istio.io"
	kindVirtualSvc  = "VirtualService"
	kindGateway     = "Gateway"
	kindDestRule    = "DestinationRule"
)

// Default waits of a Deployer.
const (
	// DefaultReadyTimeout bounds the wait for Deployments and their pods.
	DefaultReadyTimeout = 5 * time.Minute
	// DefaultPollInterval is how often waits read the API.
	DefaultPollInterval = time.Second
)

// Change is what one scenario step does to the cluster.
type Change struct {
	// Apply holds the objects in effect after the step; unchanged objects
	// are no-ops for server-side apply.
	Apply []*unstructured.Unstructured
	// Delete holds the objects the step removes (kind, namespace and name
	// are used).
	Delete []*unstructured.Unstructured
}

// Phase names one part of a make-before-break change.
type Phase string

// The phases of Apply, in order.
const (
	// PhaseMake adds and updates everything routes may point to:
	// namespaces, workloads, Services, DestinationRules (with the union of
	// their old and new subsets).
	PhaseMake Phase = "make"
	// PhaseRoute applies and deletes Gateways and VirtualServices.
	PhaseRoute Phase = "route"
	// PhaseBreak removes what routes no longer use: subsets dropped from
	// DestinationRules, deleted DestinationRules, workloads and Services.
	PhaseBreak Phase = "break"
)

// Propagator waits until configuration written in one phase has reached
// the mesh's proxies, before the next phase relies on it.
type Propagator interface {
	Propagate(ctx context.Context, phase Phase, changed []Ref) error
}

// PropagatorFunc adapts a function to Propagator.
type PropagatorFunc func(ctx context.Context, phase Phase, changed []Ref) error

// Propagate calls f.
func (f PropagatorFunc) Propagate(ctx context.Context, phase Phase, changed []Ref) error {
	return f(ctx, phase, changed)
}

// Options configure a Deployer.
type Options struct {
	// Scenario is the scenario's name: the value of LabelScenario.
	Scenario string
	// Propagation waits after each phase that changed something; nil
	// means no wait (the environment waits for the data plane itself).
	Propagation Propagator
	// ReadyTimeout bounds each wait for Deployments and pods; 0 means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// PollInterval is how often waits read the API; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
}

// Deployer applies and removes one scenario's objects.
type Deployer struct {
	c            *Client
	scenario     string
	propagation  Propagator
	readyTimeout time.Duration
	poll         time.Duration
	log          *slog.Logger
}

// NewDeployer returns a Deployer of opts.Scenario on c.
func NewDeployer(c *Client, opts Options) (*Deployer, error) {
	if err := validateScenarioName(opts.Scenario); err != nil {
		return nil, err
	}
	d := &Deployer{
		c:            c,
		scenario:     opts.Scenario,
		propagation:  opts.Propagation,
		readyTimeout: opts.ReadyTimeout,
		poll:         opts.PollInterval,
		log:          c.log.With("scenario", opts.Scenario),
	}
	if d.readyTimeout <= 0 {
		d.readyTimeout = DefaultReadyTimeout
	}
	if d.poll <= 0 {
		d.poll = DefaultPollInterval
	}
	return d, nil
}

// Client returns the Deployer's client.
func (d *Deployer) Client() *Client { return d.c }

// Scenario returns the name of the Deployer's scenario.
func (d *Deployer) Scenario() string { return d.scenario }

// Apply makes the change in Istio's make-before-break order, from the
// section "Avoid 503 errors while reconfiguring service routes" of Istio's
// "Traffic Management Best Practices" (istio.io/latest/docs/ops/
// best-practices/traffic-management/):
//
//  1. make: namespaces, then everything else routes may reach (Services,
//     Deployments, ...), then DestinationRules; a DestinationRule that
//     drops subsets is first applied with the union of its live and new
//     subsets. Then wait for the Deployments and their pods to be ready and
//     for the configuration to propagate.
//  2. route: Gateways and VirtualServices are applied and deleted, so they
//     only ever name subsets that exist; wait for propagation.
//  3. break: DestinationRules drop the subsets no route uses any more, and
//     deleted DestinationRules, workloads and Services go; wait for
//     propagation.
//
// Each object is applied server-side with field manager "meshcheck" and
// meshcheck's labels; an existing object without them is an error and is
// left untouched. Re-applying the same change writes nothing.
func (d *Deployer) Apply(ctx context.Context, ch Change) error {
	ph, err := planPhases(d.scenario, ch)
	if err != nil {
		return err
	}
	makeObjs, routeObjs, routeDel, breakDel := ph.makeApply, ph.routeApply, ph.routeDelete, ph.breakDelete
	var finalDRs []*unstructured.Unstructured

	// Phase make.
	var changed, deployments []Ref
	for _, obj := range makeObjs {
		if isKind(obj, "", "Namespace") {
			ch, err := d.ensureNamespace(ctx, obj)
			if err != nil {
				return err
			}
			if ch {
				changed = append(changed, refOf(obj))
			}
			continue
		}
		toApply := obj
		if isKind(obj, istioNetworking, kindDestRule) {
			union, err := d.subsetUnion(ctx, obj)
			if err != nil {
				return err
			}
			if union != nil {
				toApply = union
				finalDRs = append(finalDRs, obj)
			}
		}
		ch, err := d.apply(ctx, toApply)
		if err != nil {
			return err
		}
		if ch {
			changed = append(changed, refOf(obj))
		}
		if isKind(obj, "apps", "Deployment") {
			deployments = append(deployments, refOf(obj))
		}
	}
	if err := d.WaitReady(ctx, deployments); err != nil {
		return err
	}
	if err := d.propagate(ctx, PhaseMake, changed); err != nil {
		return err
	}

	// Phase route.
	changed = nil
	for _, obj := range routeObjs {
		ch, err := d.apply(ctx, obj)
		if err != nil {
			return err
		}
		if ch {
			changed = append(changed, refOf(obj))
		}
	}
	for _, obj := range routeDel {
		ch, err := d.delete(ctx, obj)
		if err != nil {
			return err
		}
		if ch {
			changed = append(changed, refOf(obj))
		}
	}
	if err := d.propagate(ctx, PhaseRoute, changed); err != nil {
		return err
	}

	// Phase break.
	changed = nil
	for _, obj := range finalDRs {
		ch, err := d.apply(ctx, obj)
		if err != nil {
			return err
		}
		if ch {
			changed = append(changed, refOf(obj))
		}
	}
	for _, obj := range breakDel {
		ch, err := d.delete(ctx, obj)
		if err != nil {
			return err
		}
		if ch {
			changed = append(changed, refOf(obj))
		}
	}
	return d.propagate(ctx, PhaseBreak, changed)
}

// propagate waits for a phase's changes to reach the proxies; a phase that
// changed nothing needs no wait.
func (d *Deployer) propagate(ctx context.Context, phase Phase, changed []Ref) error {
	if len(changed) == 0 || d.propagation == nil {
		return nil
	}
	d.log.Debug("waiting for configuration to propagate", "phase", phase, "changed", len(changed))
	if err := d.propagation.Propagate(ctx, phase, changed); err != nil {
		return fmt.Errorf("after the %s phase: %w", phase, err)
	}
	return nil
}

// phases is a Change split into Apply's phases, each object prepared.
type phases struct {
	// makeApply holds the objects of the make phase, in the order they are
	// applied (what others refer to first).
	makeApply []*unstructured.Unstructured
	// routeApply holds the Gateways and VirtualServices to apply.
	routeApply []*unstructured.Unstructured
	// routeDelete holds the Gateways and VirtualServices to delete.
	routeDelete []*unstructured.Unstructured
	// breakDelete holds the other objects to delete, in the reverse order
	// of creation.
	breakDelete []*unstructured.Unstructured
}

// planPhases prepares ch's objects for scenario and sorts them into
// phases: the order Apply sends them in, and --dry-run prints.
func planPhases(scenario string, ch Change) (phases, error) {
	var ph phases
	for _, src := range ch.Apply {
		obj, err := prepare(src, scenario)
		if err != nil {
			return phases{}, err
		}
		if isRoute(obj) {
			ph.routeApply = append(ph.routeApply, obj)
		} else {
			ph.makeApply = append(ph.makeApply, obj)
		}
	}
	for _, obj := range ch.Delete {
		if obj.GetName() == "" || obj.GetKind() == "" {
			return phases{}, fmt.Errorf("cannot delete %s: kind and metadata.name are required", refOf(obj))
		}
		if isRoute(obj) {
			ph.routeDelete = append(ph.routeDelete, obj)
		} else {
			ph.breakDelete = append(ph.breakDelete, obj)
		}
	}
	slices.SortStableFunc(ph.makeApply, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	// Deletions go in the reverse order of creation.
	slices.SortStableFunc(ph.breakDelete, func(a, b *unstructured.Unstructured) int { return rank(b) - rank(a) })
	return ph, nil
}

// prepare copies src, checks that it can be applied and adds the labels of
// scenario. Fields the server owns (status, resourceVersion, uid,
// managedFields, ...) are dropped: an apply configuration must not carry
// them.
func prepare(src *unstructured.Unstructured, scenario string) (*unstructured.Unstructured, error) {
	obj := src.DeepCopy()
	ref := refOf(obj)
	if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
		return nil, fmt.Errorf("cannot apply %s: apiVersion and kind are required", ref)
	}
	if obj.GetName() == "" {
		if obj.GetGenerateName() != "" {
			return nil, fmt.Errorf("cannot apply %s: metadata.generateName is not idempotent; give metadata.name", ref)
		}
		return nil, fmt.Errorf("cannot apply %s: metadata.name is required", ref)
	}
	delete(obj.Object, "status")
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	if err := addLabels(obj, scenario); err != nil {
		return nil, err
	}
	return obj, nil
}

// apply server-side applies obj after checking that an existing object of
// the name is meshcheck's. It reports whether the object changed.
func (d *Deployer) apply(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	ref := refOf(obj)
	res, namespaced, err := d.c.resource(ref.GVK, ref.Namespace)
	if err != nil {
		return false, fmt.Errorf("apply %s: %w", ref, err)
	}
	if namespaced && ref.Namespace == "" {
		return false, fmt.Errorf("apply %s: metadata.namespace is required for a namespaced kind", ref)
	}
	if !namespaced && ref.Namespace != "" {
		return false, fmt.Errorf("apply %s: %s is cluster-scoped: remove metadata.namespace", ref, ref.GVK.Kind)
	}
	before := ""
	live, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("apply %s: read the live object: %w", ref, err)
	default:
		if err := ownedBy(ref, live.GetLabels(), d.scenario); err != nil {
			return false, err
		}
		before = live.GetResourceVersion()
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return false, fmt.Errorf("apply %s: %w", ref, err)
	}
	// Strict field validation: a field the server's schema (for Istio
	// kinds, the CRD's) does not know is an error, not silently dropped.
	force := true
	out, err := res.Patch(ctx, ref.Name, types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager:    fieldManager,
		Force:           &force,
		FieldValidation: metav1.FieldValidationStrict,
	})
	if err != nil {
		if apierrors.IsNotFound(err) && namespaced {
			return false, fmt.Errorf("apply %s: %w (does namespace %q exist? list it in the scenario's namespaces)", ref, err, ref.Namespace)
		}
		return false, fmt.Errorf("apply %s: %w", ref, err)
	}
	ch := out.GetResourceVersion() != before
	if ch {
		d.log.Info("applied", "object", ref.String())
	}
	return ch, nil
}

// delete removes obj if it exists and is meshcheck's, with a UID
// precondition so that an object re-created by someone else meanwhile is
// never deleted. It reports whether something was deleted.
func (d *Deployer) delete(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	ref := refOf(obj)
	res, _, err := d.c.resource(ref.GVK, ref.Namespace)
	if err != nil {
		return false, fmt.Errorf("delete %s: %w", ref, err)
	}
	live, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete %s: read the live object: %w", ref, err)
	}
	if err := ownedBy(ref, live.GetLabels(), d.scenario); err != nil {
		return false, err
	}
	if err := deleteLive(ctx, res, live); err != nil {
		return false, fmt.Errorf("delete %s: %w", ref, err)
	}
	d.log.Info("deleted", "object", ref.String())
	return true, nil
}

// deleteLive deletes the object live names, only if its UID is still the
// same; dependents go in the background (the garbage collector).
func deleteLive(ctx context.Context, res interface {
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions, subresources ...string) error
}, live *unstructured.Unstructured) error {
	uid := live.GetUID()
	policy := metav1.DeletePropagationBackground
	err := res.Delete(ctx, live.GetName(), metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// subsetUnion returns obj with the live DestinationRule's subsets that obj
// drops added back, or nil when obj drops none (or does not exist yet).
func (d *Deployer) subsetUnion(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ref := refOf(obj)
	res, _, err := d.c.resource(ref.GVK, ref.Namespace)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", ref, err)
	}
	live, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apply %s: read the live object: %w", ref, err)
	}
	if err := ownedBy(ref, live.GetLabels(), d.scenario); err != nil {
		return nil, err
	}
	liveSubsets, _, err := unstructured.NestedSlice(live.Object, "spec", "subsets")
	if err != nil {
		return nil, fmt.Errorf("%s: live spec.subsets: %w", ref, err)
	}
	newSubsets, _, err := unstructured.NestedSlice(obj.Object, "spec", "subsets")
	if err != nil {
		return nil, fmt.Errorf("%s: spec.subsets: %w", ref, err)
	}
	// The union keeps the live order, each subset defined as obj defines
	// it, followed by obj's new subsets, so that a DestinationRule that only
	// adds subsets needs no union.
	byName := map[string]any{}
	for _, s := range newSubsets {
		byName[subsetName(s)] = s
	}
	var union []any
	seen := map[string]bool{}
	dropped := false
	for _, s := range liveSubsets {
		name := subsetName(s)
		seen[name] = true
		if def, ok := byName[name]; ok {
			union = append(union, def)
			continue
		}
		union = append(union, s)
		dropped = true
	}
	if !dropped {
		return nil, nil
	}
	for _, s := range newSubsets {
		if !seen[subsetName(s)] {
			union = append(union, s)
		}
	}
	out := obj.DeepCopy()
	if err := unstructured.SetNestedSlice(out.Object, union, "spec", "subsets"); err != nil {
		return nil, fmt.Errorf("%s: spec.subsets: %w", ref, err)
	}
	return out, nil
}

func subsetName(s any) string {
	m, ok := s.(map[string]any)
	if !ok {
		return ""
	}
	name, _ := m["name"].(string)
	return name
}

// isRoute reports whether obj belongs to the route phase.
func isRoute(obj *unstructured.Unstructured) bool {
	return isKind(obj, istioNetworking, kindVirtualSvc) || isKind(obj, istioNetworking, kindGateway)
}

func isKind(obj *unstructured.Unstructured, group, kind string) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == group && gvk.Kind == kind
}

// rank orders the make phase: what others refer to comes first.
func rank(obj *unstructured.Unstructured) int {
	return rankGVK(obj.GroupVersionKind())
}

func rankGVK(gvk schema.GroupVersionKind) int {
	switch gvk.Group + "/" + gvk.Kind {
	case "/Namespace":
		return 0
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return 1
	case "/ServiceAccount", "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole",
		"rbac.authorization.k8s.io/RoleBinding", "rbac.authorization.k8s.io/ClusterRoleBinding":
		return 2
	case "/ConfigMap", "/Secret":
		return 3
	case "/Service":
		return 4
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "/Pod":
		return 6
	case istioNetworking + "/" + kindDestRule:
		return 8
	case istioNetworking + "/" + kindGateway, istioNetworking + "/" + kindVirtualSvc:
		return 9
	}
	if gvk.Group == istioNetworking || gvk.Group == "security.istio.io" {
		return 5 // ServiceEntry, Sidecar, AuthorizationPolicy, PeerAuthentication, ...
	}
	return 7
}
