package mesh

import (
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
	apisecurity "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Workload is one pod of the mesh: an endpoint of every Service whose
// selector its labels satisfy.
type Workload struct {
	// Name is the pod name (PodName for pods expanded from a Deployment).
	Name string
	// Namespace is the pod's namespace.
	Namespace string
	// Deployment names the Deployment or StatefulSet the pod belongs to, ""
	// for a bare Pod without a recognisable owner.
	Deployment string
	// Labels are the pod's labels (a Deployment's pod template labels).
	Labels map[string]string
	// Replica is the pod's index within its Deployment or StatefulSet.
	Replica int
	// ServiceAccount is the pod's spec.serviceAccountName; NewConfig sets
	// "default" when the manifest leaves it empty, as Kubernetes does. It is
	// the workload's mTLS identity (Identity).
	ServiceAccount string
}

// Config is the cluster state the model reads. NewConfig builds it from
// decoded manifests; a Config built by hand works as long as its Istio
// objects use the v1 API types.
type Config struct {
	// Services are the Kubernetes Services.
	Services []*corev1.Service
	// Workloads are the pods (endpoints).
	Workloads []Workload
	// Gateways are the Istio Gateways.
	Gateways []*networkingv1.Gateway
	// VirtualServices are the Istio VirtualServices.
	VirtualServices []*networkingv1.VirtualService
	// DestinationRules are the Istio DestinationRules.
	DestinationRules []*networkingv1.DestinationRule
	// AuthorizationPolicies are the Istio AuthorizationPolicies.
	AuthorizationPolicies []*securityv1.AuthorizationPolicy
	// PeerAuthentications are the Istio PeerAuthentications.
	PeerAuthentications []*securityv1.PeerAuthentication
}

// IngressGateway is the workload behind the ingress vantage: the pod of
// Istio's default ingress gateway Deployment (profiles default and demo),
// with the labels that Gateways select (istio=ingressgateway).
var IngressGateway = Workload{
	Name:       PodName("istio-ingressgateway", 0),
	Namespace:  rootNamespace,
	Deployment: "istio-ingressgateway",
	Labels:     map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"},
	// The istio/gateway Helm chart and istioctl's default profile run the
	// gateway as this ServiceAccount.
	ServiceAccount: "istio-ingressgateway-service-account",
}

// rootNamespace is Istio's default root configuration namespace (meshConfig
// rootNamespace), where the ingress gateway also runs.
const rootNamespace = "istio-system"

// defaultNamespace is where Kubernetes puts an object whose manifest names no
// namespace (kubectl apply without -n).
const defaultNamespace = "default"

// podAlphabet is the alphabet Kubernetes uses for generated name suffixes
// (k8s.io/apimachinery/pkg/util/rand.SafeEncodeString): no vowels, no
// ambiguous characters.
const podAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffixSpace is the number of distinct 5-character suffixes (27^5).
const suffixSpace = 27 * 27 * 27 * 27 * 27

// PodName returns a deterministic, pod-like name for replica number replica
// of a Deployment: "<deployment>-<hash10>-<suffix5>", as Kubernetes names a
// Deployment's pods (pod-template-hash, then a random suffix). The same
// arguments always give the same name, and replicas 0 <= replica < 27^5 of
// one Deployment get distinct names.
func PodName(deployment string, replica int) string {
	h := fnv.New64a()
	h.Write([]byte(deployment))
	sum := h.Sum64()
	var b strings.Builder
	b.Grow(len(deployment) + 17)
	b.WriteString(deployment)
	b.WriteByte('-')
	x := sum
	for range 10 {
		b.WriteByte(podAlphabet[x%27])
		x /= 27
	}
	b.WriteByte('-')
	// 7919 is coprime with 27^5, so replica -> suffix is a bijection on
	// [0, 27^5): distinct replicas never share a name.
	r := uint64(replica) % suffixSpace
	s := ((sum>>17)%suffixSpace + r*7919) % suffixSpace
	for range 5 {
		b.WriteByte(podAlphabet[s%27])
		s /= 27
	}
	return b.String()
}

// NewConfig sorts decoded objects into a Config. Deployments are expanded
// into one Workload per replica (spec.replicas, default 1) named by PodName
// with the pod template's labels; StatefulSets into pods "<name>-<ordinal>";
// Pods are taken as they are (unless they have terminated or report
// Ready=False). Istio networking objects of API versions v1, v1beta1 and
// v1alpha3 are accepted and converted to v1 (all three share the istio.io/api
// v1alpha3 spec messages); so are security AuthorizationPolicies and
// PeerAuthentications of v1 and v1beta1 (which share the istio.io/api
// security/v1beta1 messages). Kinds the model does not use (Namespace,
// ServiceAccount, ConfigMap, RequestAuthentication, ...) are skipped. Kinds
// that change routing but are not modelled (ServiceEntry, Sidecar,
// EnvoyFilter, WorkloadEntry, WorkloadGroup, ReplicaSet, DaemonSet) are an
// error rather than a silently wrong model. An object without a namespace is
// placed in "default", as kubectl does. Objects are deep-copied: later
// changes to objs do not affect the Config.
func NewConfig(objs []runtime.Object) (Config, error) {
	var cfg Config
	seen := map[string]bool{}
	for i, obj := range objs {
		if obj == nil {
			return Config{}, fmt.Errorf("mesh: object %d is nil", i)
		}
		if v := reflect.ValueOf(obj); v.Kind() == reflect.Pointer && v.IsNil() {
			return Config{}, fmt.Errorf("mesh: object %d is a nil %T", i, obj)
		}
		kind, meta, err := objectMeta(obj)
		if err != nil {
			return Config{}, fmt.Errorf("mesh: object %d: %w", i, err)
		}
		if kind == "" {
			continue
		}
		ns := meta.GetNamespace()
		if ns == "" {
			ns = defaultNamespace
		}
		if meta.GetName() == "" {
			return Config{}, fmt.Errorf("mesh: object %d: %s has no metadata.name", i, kind)
		}
		id := kind + " " + ns + "/" + meta.GetName()
		if seen[id] {
			return Config{}, fmt.Errorf("mesh: object %d: %s appears twice", i, id)
		}
		seen[id] = true
		if err := cfg.add(obj, ns); err != nil {
			return Config{}, fmt.Errorf("mesh: %s: %w", id, err)
		}
	}
	cfg.sort()
	return cfg, nil
}

// objectMeta returns the kind the model cares about ("" to skip) and the
// object's metadata, or an error for kinds that affect routing but are not
// modelled.
func objectMeta(obj runtime.Object) (string, metav1.Object, error) {
	switch o := obj.(type) {
	case *corev1.Service:
		return "Service", o, nil
	case *corev1.Pod:
		return "Pod", o, nil
	case *appsv1.Deployment:
		return "Deployment", o, nil
	case *appsv1.StatefulSet:
		return "StatefulSet", o, nil
	case *networkingv1.Gateway, *networkingv1beta1.Gateway, *networkingv1alpha3.Gateway:
		return "Gateway", o.(metav1.Object), nil
	case *networkingv1.VirtualService, *networkingv1beta1.VirtualService, *networkingv1alpha3.VirtualService:
		return "VirtualService", o.(metav1.Object), nil
	case *networkingv1.DestinationRule, *networkingv1beta1.DestinationRule, *networkingv1alpha3.DestinationRule:
		return "DestinationRule", o.(metav1.Object), nil
	case *securityv1.AuthorizationPolicy, *securityv1beta1.AuthorizationPolicy:
		return "AuthorizationPolicy", o.(metav1.Object), nil
	case *securityv1.PeerAuthentication, *securityv1beta1.PeerAuthentication:
		return "PeerAuthentication", o.(metav1.Object), nil
	case *appsv1.ReplicaSet, *appsv1.DaemonSet:
		m := o.(metav1.Object)
		return "", nil, fmt.Errorf("%T %s/%s: the routing model expands Deployments, StatefulSets and Pods only; "+
			"list the pods or use a Deployment", obj, m.GetNamespace(), m.GetName())
	case *networkingv1.ServiceEntry, *networkingv1beta1.ServiceEntry, *networkingv1alpha3.ServiceEntry,
		*networkingv1.Sidecar, *networkingv1beta1.Sidecar, *networkingv1alpha3.Sidecar,
		*networkingv1alpha3.EnvoyFilter,
		*networkingv1.WorkloadEntry, *networkingv1beta1.WorkloadEntry, *networkingv1alpha3.WorkloadEntry,
		*networkingv1.WorkloadGroup, *networkingv1beta1.WorkloadGroup, *networkingv1alpha3.WorkloadGroup:
		m := o.(metav1.Object)
		return "", nil, fmt.Errorf("%T %s/%s changes routing but is not modelled by meshcheck "+
			"(supported: Service, Deployment, StatefulSet, Pod, Gateway, VirtualService, DestinationRule)",
			obj, m.GetNamespace(), m.GetName())
	}
	return "", nil, nil
}

// add appends one supported object (already checked by objectMeta).
func (c *Config) add(obj runtime.Object, ns string) error {
	switch o := obj.(type) {
	case *corev1.Service:
		s := o.DeepCopy()
		s.Namespace = ns
		c.Services = append(c.Services, s)
	case *corev1.Pod:
		if !podServes(o) {
			return nil
		}
		c.Workloads = append(c.Workloads, Workload{
			Name: o.Name, Namespace: ns, Deployment: podOwner(o),
			Labels: maps.Clone(o.Labels), ServiceAccount: serviceAccount(o.Spec.ServiceAccountName),
		})
	case *appsv1.Deployment:
		n, err := replicas(o.Spec.Replicas)
		if err != nil {
			return err
		}
		for r := range n {
			c.Workloads = append(c.Workloads, Workload{
				Name: PodName(o.Name, r), Namespace: ns, Deployment: o.Name,
				Labels: maps.Clone(o.Spec.Template.Labels), Replica: r,
				ServiceAccount: serviceAccount(o.Spec.Template.Spec.ServiceAccountName),
			})
		}
	case *appsv1.StatefulSet:
		n, err := replicas(o.Spec.Replicas)
		if err != nil {
			return err
		}
		for r := range n {
			c.Workloads = append(c.Workloads, Workload{
				Name: o.Name + "-" + strconv.Itoa(r), Namespace: ns, Deployment: o.Name,
				Labels: maps.Clone(o.Spec.Template.Labels), Replica: r,
				ServiceAccount: serviceAccount(o.Spec.Template.Spec.ServiceAccountName),
			})
		}
	case *networkingv1.Gateway:
		c.Gateways = append(c.Gateways, gatewayV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1beta1.Gateway:
		c.Gateways = append(c.Gateways, gatewayV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1alpha3.Gateway:
		c.Gateways = append(c.Gateways, gatewayV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1.VirtualService:
		c.VirtualServices = append(c.VirtualServices, virtualServiceV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1beta1.VirtualService:
		c.VirtualServices = append(c.VirtualServices, virtualServiceV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1alpha3.VirtualService:
		c.VirtualServices = append(c.VirtualServices, virtualServiceV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1.DestinationRule:
		c.DestinationRules = append(c.DestinationRules, destinationRuleV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1beta1.DestinationRule:
		c.DestinationRules = append(c.DestinationRules, destinationRuleV1(o.ObjectMeta, &o.Spec, ns))
	case *networkingv1alpha3.DestinationRule:
		c.DestinationRules = append(c.DestinationRules, destinationRuleV1(o.ObjectMeta, &o.Spec, ns))
	case *securityv1.AuthorizationPolicy:
		c.AuthorizationPolicies = append(c.AuthorizationPolicies, authorizationPolicyV1(o.ObjectMeta, &o.Spec, ns))
	case *securityv1beta1.AuthorizationPolicy:
		c.AuthorizationPolicies = append(c.AuthorizationPolicies, authorizationPolicyV1(o.ObjectMeta, &o.Spec, ns))
	case *securityv1.PeerAuthentication:
		c.PeerAuthentications = append(c.PeerAuthentications, peerAuthenticationV1(o.ObjectMeta, &o.Spec, ns))
	case *securityv1beta1.PeerAuthentication:
		c.PeerAuthentications = append(c.PeerAuthentications, peerAuthenticationV1(o.ObjectMeta, &o.Spec, ns))
	}
	return nil
}

// serviceAccount is the pod's ServiceAccount: Kubernetes' ServiceAccount
// admission controller sets "default" when spec.serviceAccountName is empty.
func serviceAccount(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

// replicas reads spec.replicas: Kubernetes defaults it to 1.
func replicas(p *int32) (int, error) {
	if p == nil {
		return 1, nil
	}
	if *p < 0 {
		return 0, fmt.Errorf("spec.replicas is %d; it must be >= 0", *p)
	}
	return int(*p), nil
}

// podServes reports whether a Pod can be an endpoint: Kubernetes lists only
// running, ready pods that are not being deleted in a Service's
// EndpointSlices. A pod from a manifest has no status and counts as ready.
func podServes(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse {
			return false
		}
	}
	return true
}

// podOwner names the Deployment (or StatefulSet) that owns a pod: for a
// ReplicaSet owner "<deploy>-<pod-template-hash>", the Deployment name.
func podOwner(p *corev1.Pod) string {
	for _, ref := range p.OwnerReferences {
		switch ref.Kind {
		case "ReplicaSet":
			if h := p.Labels["pod-template-hash"]; h != "" {
				if d, ok := strings.CutSuffix(ref.Name, "-"+h); ok {
					return d
				}
			}
			return ref.Name
		case "StatefulSet", "DaemonSet", "Job":
			return ref.Name
		}
	}
	return ""
}

func gatewayV1(meta metav1.ObjectMeta, spec *apinetworking.Gateway, ns string) *networkingv1.Gateway {
	out := &networkingv1.Gateway{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"}}
	meta.DeepCopyInto(&out.ObjectMeta)
	out.Namespace = ns
	spec.DeepCopyInto(&out.Spec)
	return out
}

func virtualServiceV1(meta metav1.ObjectMeta, spec *apinetworking.VirtualService, ns string) *networkingv1.VirtualService {
	out := &networkingv1.VirtualService{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"}}
	meta.DeepCopyInto(&out.ObjectMeta)
	out.Namespace = ns
	spec.DeepCopyInto(&out.Spec)
	return out
}

func destinationRuleV1(meta metav1.ObjectMeta, spec *apinetworking.DestinationRule, ns string) *networkingv1.DestinationRule {
	out := &networkingv1.DestinationRule{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"}}
	meta.DeepCopyInto(&out.ObjectMeta)
	out.Namespace = ns
	spec.DeepCopyInto(&out.Spec)
	return out
}

func authorizationPolicyV1(meta metav1.ObjectMeta, spec *apisecurity.AuthorizationPolicy, ns string) *securityv1.AuthorizationPolicy {
	out := &securityv1.AuthorizationPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"}}
	meta.DeepCopyInto(&out.ObjectMeta)
	out.Namespace = ns
	spec.DeepCopyInto(&out.Spec)
	return out
}

func peerAuthenticationV1(meta metav1.ObjectMeta, spec *apisecurity.PeerAuthentication, ns string) *securityv1.PeerAuthentication {
	out := &securityv1.PeerAuthentication{TypeMeta: metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "PeerAuthentication"}}
	meta.DeepCopyInto(&out.ObjectMeta)
	out.Namespace = ns
	spec.DeepCopyInto(&out.Spec)
	return out
}

// sort orders Kubernetes objects by namespace/name and Istio objects as
// istiod does: by creation time, then name, then namespace
// (pilot/pkg/model/config.go configCompareByCreationTime). The order decides
// which of two conflicting VirtualServices wins and how routes of
// VirtualServices merged at a gateway are concatenated.
func (c *Config) sort() {
	slices.SortStableFunc(c.Services, func(a, b *corev1.Service) int { return compareNsName(&a.ObjectMeta, &b.ObjectMeta) })
	slices.SortStableFunc(c.Workloads, func(a, b Workload) int {
		if r := strings.Compare(a.Namespace, b.Namespace); r != 0 {
			return r
		}
		return strings.Compare(a.Name, b.Name)
	})
	slices.SortStableFunc(c.Gateways, func(a, b *networkingv1.Gateway) int { return compareIstio(&a.ObjectMeta, &b.ObjectMeta) })
	slices.SortStableFunc(c.VirtualServices, func(a, b *networkingv1.VirtualService) int { return compareIstio(&a.ObjectMeta, &b.ObjectMeta) })
	slices.SortStableFunc(c.DestinationRules, func(a, b *networkingv1.DestinationRule) int { return compareIstio(&a.ObjectMeta, &b.ObjectMeta) })
	slices.SortStableFunc(c.AuthorizationPolicies, func(a, b *securityv1.AuthorizationPolicy) int {
		return compareIstio(&a.ObjectMeta, &b.ObjectMeta)
	})
	slices.SortStableFunc(c.PeerAuthentications, func(a, b *securityv1.PeerAuthentication) int {
		return compareIstio(&a.ObjectMeta, &b.ObjectMeta)
	})
}

func compareNsName(a, b *metav1.ObjectMeta) int {
	if r := strings.Compare(a.Namespace, b.Namespace); r != 0 {
		return r
	}
	return strings.Compare(a.Name, b.Name)
}

func compareIstio(a, b *metav1.ObjectMeta) int {
	if r := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); r != 0 {
		return r
	}
	if r := strings.Compare(a.Name, b.Name); r != 0 {
		return r
	}
	return strings.Compare(a.Namespace, b.Namespace)
}
