package istiodtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/mesh"
)

// fieldManager owns every field this package applies.
const fieldManager = "istiodtest"

// objKey names one object.
type objKey struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

func (k objKey) String() string {
	if k.namespace == "" {
		return k.gvk.Kind + " " + k.name
	}
	return k.gvk.Kind + " " + k.namespace + "/" + k.name
}

// applied is one object Apply created, with the pod IP it gave a pod and
// the creation time the API server gave it.
type applied struct {
	gvr     schema.GroupVersionResource
	ip      string
	created metav1.Time
}

// workloadKinds are the kinds that Apply turns into pods (through the
// routing model's expansion) instead of applying them.
var workloadKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "Pod": true, "ReplicaSet": true, "DaemonSet": true}

// Apply makes the API server hold objs, as a cluster running them would,
// and waits until istiod serves that state (Fence): every object that is
// not a workload is applied with server-side apply (Namespaces of all
// objects are created); Deployments, StatefulSets and Pods become the pods
// the routing model expands them to (mesh.NewConfig: same names and
// labels), each Running and Ready with its own pod IP, written through the
// status subresource; every Service with a selector gets an EndpointSlice
// of its ready pods, targetPorts resolved. Objects an earlier Apply created
// that objs no longer holds are deleted. The ingress gateway's Service and
// pod are always kept.
func (c *ControlPlane) Apply(ctx context.Context, objs []runtime.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	desired, err := c.desired(objs)
	if err != nil {
		return err
	}
	fence := c.fenceObjects(c.fence + 1)
	fenceDesired, err := c.desired(fence)
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	want := map[objKey]bool{}
	for _, phase := range append(slices.Clone(desired), fenceDesired...) {
		for _, o := range phase {
			want[keyOf(o.u)] = true
		}
	}
	for _, phase := range desired {
		if err := c.applyPhase(ctx, phase); err != nil {
			return err
		}
	}
	if err := c.prune(ctx, want); err != nil {
		return err
	}
	for _, phase := range fenceDesired {
		if err := c.applyPhase(ctx, phase); err != nil {
			return fmt.Errorf("fence: %w", err)
		}
	}
	if c.istiod == nil {
		return nil // istiod is not started yet: nothing to wait for
	}
	c.fence++
	return c.waitFence(ctx, c.fence)
}

// object is one object to apply, and for a pod the IP to report.
type object struct {
	u  *unstructured.Unstructured
	ip string
}

// desired lists the objects of a state in apply phases: Namespaces;
// Services and Istio config; pods; EndpointSlices.
func (c *ControlPlane) desired(objs []runtime.Object) ([][]object, error) {
	var nsPhase, configPhase, podPhase, slicePhase []object
	namespaces := map[string]bool{istio.Namespace: true}
	var modelObjs []runtime.Object
	for i, obj := range append(gatewayObjects(), objs...) {
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		kind := u.GetKind()
		if kind == "Namespace" {
			namespaces[u.GetName()] = true
			continue
		}
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		namespaces[u.GetNamespace()] = true
		switch {
		case kind == "Service":
			modelObjs = append(modelObjs, obj)
			configPhase = append(configPhase, object{u: u})
		case workloadKinds[kind]:
			modelObjs = append(modelObjs, obj)
		default:
			configPhase = append(configPhase, object{u: u})
		}
	}
	cfg, err := mesh.NewConfig(modelObjs)
	if err != nil {
		return nil, fmt.Errorf("expand workloads: %w", err)
	}
	ips := map[string]string{}
	for _, w := range cfg.Workloads {
		namespaces[w.Namespace] = true
		ip := c.podIP(w.Namespace, w.Name)
		ips[w.Namespace+"/"+w.Name] = ip
		u, err := toUnstructured(podOf(w))
		if err != nil {
			return nil, err
		}
		podPhase = append(podPhase, object{u: u, ip: ip})
	}
	for _, s := range cfg.Services {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		u, err := toUnstructured(endpointSliceOf(s, cfg.Workloads, ips))
		if err != nil {
			return nil, err
		}
		slicePhase = append(slicePhase, object{u: u})
	}
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		u, err := toUnstructured(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil {
			return nil, err
		}
		nsPhase = append(nsPhase, object{u: u})
	}
	return [][]object{nsPhase, configPhase, podPhase, slicePhase}, nil
}

// Stamp sets the creationTimestamp of each object an Apply created to the
// one the API server gave it, so that the routing model orders Istio
// config as istiod does (by creation time, then name and namespace). It
// fails for an object Apply did not create.
func (c *ControlPlane) Stamp(objs []runtime.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, obj := range objs {
		u, err := toUnstructured(obj)
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		if workloadKinds[u.GetKind()] {
			continue
		}
		a, ok := c.applied[keyOf(u)]
		if !ok {
			return fmt.Errorf("%s was not applied", keyOf(u))
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return fmt.Errorf("%s: %w", keyOf(u), err)
		}
		m.SetCreationTimestamp(a.created)
	}
	return nil
}

// podIP returns the IP of a pod Apply created before, or a new one.
func (c *ControlPlane) podIP(ns, name string) string {
	k := objKey{gvk: corev1.SchemeGroupVersion.WithKind("Pod"), namespace: ns, name: name}
	if a, ok := c.applied[k]; ok && a.ip != "" {
		return a.ip
	}
	ip := c.nextIP
	c.nextIP = c.nextIP.Next()
	return ip.String()
}

// gatewayObjects are the ingress gateway's Service (the ports and nodePorts
// meshcheck's IstioOperator gives it) and pod.
func gatewayObjects() []runtime.Object {
	gw := mesh.IngressGateway
	return []runtime.Object{
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: istio.GatewayDeployment, Namespace: gw.Namespace, Labels: gw.Labels},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: map[string]string{"istio": gw.Labels["istio"]},
				Ports:    istio.GatewayServicePorts(istio.GatewayPorts{HTTP: istio.DefaultHTTPNodePort, HTTPS: istio.DefaultHTTPSNodePort}),
			},
		},
		&corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: gw.Name, Namespace: gw.Namespace, Labels: gw.Labels},
		},
	}
}

// Gateway is the ingress gateway's proxy.
func (c *ControlPlane) Gateway() Proxy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gateway()
}

// gateway is Gateway with c.mu held.
func (c *ControlPlane) gateway() Proxy {
	gw := mesh.IngressGateway
	return Proxy{Router: true, Namespace: gw.Namespace, Pod: gw.Name, Labels: gw.Labels, IP: c.podIP(gw.Namespace, gw.Name)}
}

// podOf is the pod of a workload: its labels, one container.
func podOf(w mesh.Workload) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, Labels: w.Labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "meshcheck.invalid/app:istiodtest"},
			{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:" + Version},
		}},
	}
}

// endpointSliceOf is the EndpointSlice the EndpointSlice controller would
// write for Service s: its ready pods, its ports with targetPorts resolved
// (a named targetPort stays unresolved, as no container declares it here).
func endpointSliceOf(s *corev1.Service, workloads []mesh.Workload, ips map[string]string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name + "-istiodtest", Namespace: s.Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: s.Name,
			discoveryv1.LabelManagedBy:   fieldManager,
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range s.Spec.Ports {
		target := p.Port
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0 {
			target = p.TargetPort.IntVal
		} else if p.TargetPort.Type == intstr.String && p.TargetPort.StrVal != "" {
			n, err := strconv.Atoi(p.TargetPort.StrVal)
			if err != nil {
				continue
			}
			target = int32(n)
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr(p.Name), Port: ptr(target), Protocol: &proto, AppProtocol: p.AppProtocol})
	}
	ready := true
	for _, w := range workloads {
		if w.Namespace != s.Namespace || !labelsInclude(w.Labels, s.Spec.Selector) {
			continue
		}
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ips[w.Namespace+"/"+w.Name]},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: w.Namespace, Name: w.Name},
		})
	}
	sort.Slice(es.Endpoints, func(i, j int) bool { return es.Endpoints[i].TargetRef.Name < es.Endpoints[j].TargetRef.Name })
	return es
}

func labelsInclude(labels, sel map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

func keyOf(u *unstructured.Unstructured) objKey {
	return objKey{gvk: u.GroupVersionKind(), namespace: u.GetNamespace(), name: u.GetName()}
}

// workers is how many requests Apply sends at once.
const workers = 8

// applyPhase applies one phase's objects concurrently; pods get their
// status.
func (c *ControlPlane) applyPhase(ctx context.Context, phase []object) error {
	return parallel(ctx, phase, func(ctx context.Context, o object) error {
		k := keyOf(o.u)
		gvr, live, err := c.applyOne(ctx, o.u)
		if err != nil {
			return fmt.Errorf("apply %s: %w", k, err)
		}
		if o.ip != "" {
			if err := c.markRunning(ctx, live, o.ip); err != nil {
				return fmt.Errorf("pod %s: %w", k, err)
			}
		}
		c.record(k, applied{gvr: gvr, ip: o.ip, created: live.GetCreationTimestamp()})
		return nil
	})
}

var recordMu sync.Mutex

func (c *ControlPlane) record(k objKey, a applied) {
	recordMu.Lock()
	defer recordMu.Unlock()
	c.applied[k] = a
}

// applyOne server-side applies one object.
func (c *ControlPlane) applyOne(ctx context.Context, u *unstructured.Unstructured) (schema.GroupVersionResource, *unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schema.GroupVersionResource{}, nil, fmt.Errorf("no resource for %s: %w", gvk, err)
	}
	res := c.API.Dynamic.Resource(m.Resource)
	var live *unstructured.Unstructured
	if u.GetKind() == "Namespace" {
		live, err = res.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	} else {
		live, err = res.Namespace(u.GetNamespace()).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	}
	return m.Resource, live, err
}

// markRunning writes the status a kubelet reports for a running, ready pod
// with that IP, unless the pod reports it already.
func (c *ControlPlane) markRunning(ctx context.Context, live *unstructured.Unstructured, ip string) error {
	pod := &corev1.Pod{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, pod); err != nil {
		return fmt.Errorf("read pod: %w", err)
	}
	if pod.Status.PodIP == ip && pod.Status.Phase == corev1.PodRunning {
		return nil
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.127.0.1", StartTime: &now}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	for _, ct := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ct.Name, Image: ct.Image, Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	_, err := c.API.Kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	return err
}

// prune deletes what an earlier Apply created and want does not hold;
// Namespaces stay (no namespace controller would empty them).
func (c *ControlPlane) prune(ctx context.Context, want map[objKey]bool) error {
	type staleObj struct {
		k objKey
		a applied
	}
	var stale []staleObj
	for k, a := range c.applied {
		if !want[k] && k.gvk.Kind != "Namespace" {
			stale = append(stale, staleObj{k, a})
		}
	}
	return parallel(ctx, stale, func(ctx context.Context, o staleObj) error {
		err := c.API.Dynamic.Resource(o.a.gvr).Namespace(o.k.namespace).Delete(ctx, o.k.name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", o.k, err)
		}
		recordMu.Lock()
		delete(c.applied, o.k)
		recordMu.Unlock()
		return nil
	})
}

// parallel runs fn on every item with up to workers at once and returns
// the errors joined.
func parallel[T any](ctx context.Context, items []T, fn func(context.Context, T) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	ch := make(chan T)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := fn(ctx, it); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	if len(errs) > 0 {
		slices.Sort(errs)
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
