// Package knative models the Knative Serving function backend without
// talking to it: the serving.knative.dev/v1 Service manifest kind a
// scenario writes (Service), the checks meshcheck makes of it (Validate)
// and the workload that stands for it where Knative is not installed
// (Expand). It does no I/O.
//
// The types are a small typed subset of knative.dev/serving
// pkg/apis/serving/v1 (service_types.go, revision_types.go), written here,
// not imported: knative.dev/serving pulls knative.dev/pkg and its own
// k8s.io versions into go.mod, for three structs meshcheck needs only a few
// fields of. The revision's pod spec is corev1.PodSpec, as upstream's
// RevisionSpec embeds it.
package knative

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The names Knative Serving gives its parts.
const (
	// Group is the API group of Knative Serving's resources.
	Group = "serving.knative.dev"
	// Version is the Service API version meshcheck decodes.
	Version = "v1"
	// Kind is the Knative Service kind.
	Kind = "Service"
	// Resource is the plural resource name of the Service kind, as the CRD
	// services.serving.knative.dev names it.
	Resource = "services"
	// CRDName is the name of the CustomResourceDefinition of the Service
	// kind (serving-crds.yaml).
	CRDName = Resource + "." + Group
	// LabelService is the label Knative puts on a Service's revision pods
	// (serving.knative.dev/service=<name>; pkg/apis/serving/register.go
	// ServiceLabelKey).
	LabelService = Group + "/service"
	// LabelPrefix is the prefix of the labels Knative sets itself; a
	// template may not set them.
	LabelPrefix = Group + "/"
	// DefaultContainerPort is the port a revision's container listens on
	// when it names none, passed to it as PORT (knative.dev/serving
	// pkg/apis/serving/v1/revision_lifecycle.go, DefaultUserPort).
	DefaultContainerPort = 8080
	// ServicePort is the port the in-cluster address
	// http://<name>.<namespace>.svc.cluster.local answers on: the
	// ExternalName Service net-istio points at knative-local-gateway serves
	// plain HTTP on 80.
	ServicePort = 80
	// EnvPort is the environment variable Knative passes the container
	// port in (runtime contract).
	EnvPort = "PORT"
)

// reservedEnv are the environment variables Knative sets in every revision
// container and refuses in a template (knative.dev/serving
// pkg/apis/serving/k8s_validation.go, reservedEnvVars).
var reservedEnv = []string{EnvPort, "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}

// reservedPorts are the ports of Knative's queue-proxy beside the user
// container, which a template may not listen on (k8s_validation.go,
// reservedPorts: knative.dev/networking's BackendHTTPPort 8012,
// BackendHTTP2Port 8013, QueueAdminPort 8022, AutoscalingQueueMetricsPort
// 9090, UserQueueMetricsPort 9091, and the profiling port 8008).
var reservedPorts = []int32{8008, 8012, 8013, 8022, 9090, 9091}

// SchemeGroupVersion is serving.knative.dev/v1.
var SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// GroupVersionKind is the Knative Service kind's group, version and kind.
var GroupVersionKind = SchemeGroupVersion.WithKind(Kind)

// GroupVersionResource is the Knative Service resource, for dynamic
// clients.
var GroupVersionResource = SchemeGroupVersion.WithResource(Resource)

// AddToScheme registers Service (and ServiceList) in s.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &Service{}, &ServiceList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}

// Service is a Knative Service as a manifest writes it (serving.knative.dev/v1
// Service, knative.dev/serving pkg/apis/serving/v1/service_types.go). The
// status is the controller's and is not part of a manifest.
type Service struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the Service's desired state.
	Spec ServiceSpec `json:"spec"`
}

// ServiceSpec is a Service's spec: the revision template and the traffic
// split (upstream ServiceSpec inlines ConfigurationSpec and RouteSpec).
type ServiceSpec struct {
	// Template is the revision template.
	Template RevisionTemplateSpec `json:"template"`
	// Traffic splits the Service's traffic between revisions. meshcheck
	// routes with Istio rules of the scenario, not with Knative's, and
	// rejects it (Validate); absent means 100% to the latest revision.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// RevisionTemplateSpec is the template of the Service's revisions
// (upstream RevisionTemplateSpec).
type RevisionTemplateSpec struct {
	// ObjectMeta holds the revision's labels and annotations, which go on
	// its pods.
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the revision's spec.
	Spec RevisionSpec `json:"spec"`
}

// RevisionSpec is a revision's spec (upstream RevisionSpec): a pod spec
// and Knative's own settings.
type RevisionSpec struct {
	corev1.PodSpec `json:",inline"`
	// ContainerConcurrency is the most requests one container serves at
	// once; 0 is unlimited.
	ContainerConcurrency *int64 `json:"containerConcurrency,omitempty"`
	// TimeoutSeconds is the longest a request may take.
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`
}

// TrafficTarget is one entry of spec.traffic (upstream TrafficTarget),
// decoded so that a manifest with it reads and Validate can refuse it.
type TrafficTarget struct {
	// Tag names a sub-route of its own.
	Tag string `json:"tag,omitempty"`
	// RevisionName is the revision the traffic goes to.
	RevisionName string `json:"revisionName,omitempty"`
	// ConfigurationName is the configuration whose latest revision gets
	// the traffic.
	ConfigurationName string `json:"configurationName,omitempty"`
	// LatestRevision sends the traffic to the latest ready revision.
	LatestRevision *bool `json:"latestRevision,omitempty"`
	// Percent is the share of the traffic.
	Percent *int64 `json:"percent,omitempty"`
}

// ServiceList is a list of Services; it exists for the scheme.
type ServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	// Items are the Services.
	Items []Service `json:"items"`
}

// DeepCopyObject implements runtime.Object.
func (ks *Service) DeepCopyObject() runtime.Object {
	if ks == nil {
		return nil
	}
	return ks.DeepCopy()
}

// DeepCopy returns a deep copy of ks.
func (ks *Service) DeepCopy() *Service {
	if ks == nil {
		return nil
	}
	out := &Service{TypeMeta: ks.TypeMeta}
	ks.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	ks.Spec.Template.ObjectMeta.DeepCopyInto(&out.Spec.Template.ObjectMeta)
	ks.Spec.Template.Spec.PodSpec.DeepCopyInto(&out.Spec.Template.Spec.PodSpec)
	out.Spec.Template.Spec.ContainerConcurrency = copyInt(ks.Spec.Template.Spec.ContainerConcurrency)
	out.Spec.Template.Spec.TimeoutSeconds = copyInt(ks.Spec.Template.Spec.TimeoutSeconds)
	if ks.Spec.Traffic != nil {
		out.Spec.Traffic = make([]TrafficTarget, len(ks.Spec.Traffic))
		for i, t := range ks.Spec.Traffic {
			out.Spec.Traffic[i] = t
			out.Spec.Traffic[i].Percent = copyInt(t.Percent)
			if t.LatestRevision != nil {
				b := *t.LatestRevision
				out.Spec.Traffic[i].LatestRevision = &b
			}
		}
	}
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *ServiceList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &ServiceList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]Service, len(l.Items))
		for i := range l.Items {
			out.Items[i] = *l.Items[i].DeepCopy()
		}
	}
	return out
}

func copyInt(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ContainerPort is the port ks's container listens on: its one
// ports[].containerPort, else DefaultContainerPort.
func ContainerPort(ks *Service) int32 {
	cs := ks.Spec.Template.Spec.Containers
	if len(cs) == 1 && len(cs[0].Ports) == 1 && cs[0].Ports[0].ContainerPort != 0 {
		return cs[0].Ports[0].ContainerPort
	}
	return DefaultContainerPort
}

// Address is ks's in-cluster URL, http://<name>.<namespace>.svc.cluster.local,
// the address Knative publishes in status.address.url.
func Address(ks *Service) string {
	return "http://" + ks.Name + "." + ks.Namespace + ".svc.cluster.local"
}
