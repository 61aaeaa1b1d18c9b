// Package openfaas models the OpenFaaS Community Edition function backend
// without talking to it: the openfaas.com/v1 Function manifest kind a
// scenario writes, what faas-netes creates on the cluster for a deployed
// function (Expand), and the REST body that deploys it through the gateway
// (Deployment). It does no I/O.
//
// The shapes follow openfaas/faas-netes: the Function CRD of
// pkg/apis/openfaas/v1/types.go, the Deployment and Service built by
// pkg/handlers/deploy.go (makeDeploymentSpec, makeServiceSpec), the probes
// of pkg/k8s/probes.go and the security context of
// pkg/k8s/securityContext.go, and faas-provider's
// types.FunctionDeployment (types/function_deployment.go). No faas-netes
// code is imported or copied.
package openfaas

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The names OpenFaaS CE gives its parts (chart openfaas/openfaas).
const (
	// Group is the API group of OpenFaaS's custom resources.
	Group = "openfaas.com"
	// Version is the Function API version meshcheck decodes.
	Version = "v1"
	// Kind is the Function kind.
	Kind = "Function"
	// FunctionNamespace is where OpenFaaS CE runs functions (the chart's
	// functionNamespace; CE supports only this one).
	FunctionNamespace = "openfaas-fn"
	// GatewayNamespace is the namespace of the OpenFaaS core components.
	GatewayNamespace = "openfaas"
	// GatewayName is the name of the gateway's Deployment and Service.
	GatewayName = "gateway"
	// GatewayServiceAccount is the ServiceAccount the chart's gateway pods
	// run as (templates/gateway-dep.yaml: openfaas-controller when the
	// operator is off).
	GatewayServiceAccount = "openfaas-controller"
	// GatewayPort is the gateway Service's port.
	GatewayPort = 8080
	// FunctionPort is the port of every function container and Service:
	// faas-netes' RuntimeHTTPPort, 8080 unless configured otherwise.
	FunctionPort = 8080
	// LabelFunction is the label faas-netes puts on a function's
	// Deployment and pods and selects them by.
	LabelFunction = "faas_function"
	// EnvProcess is the environment variable the function's handler
	// (FunctionDeployment.EnvProcess, Function spec.handler) is passed in
	// (faas-netes pkg/k8s EnvProcessName).
	EnvProcess = "fprocess"
	// LabelScaleMin is the user label that sets a function's initial
	// replica count (faas-netes getMinReplicaCount).
	LabelScaleMin = "com.openfaas.scale.min"
	// HealthPath is the path of the HTTP readiness and liveness probes
	// faas-netes gives functions when the chart's functions.httpProbe is
	// true (its default).
	HealthPath = "/_/health"
)

// SchemeGroupVersion is openfaas.com/v1.
var SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// GroupVersionKind is the Function kind's group, version and kind.
var GroupVersionKind = SchemeGroupVersion.WithKind(Kind)

// AddToScheme registers Function (and FunctionList) in s.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &Function{}, &FunctionList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}

// Function is an OpenFaaS function as the openfaas.com/v1 Function custom
// resource describes it (faas-netes pkg/apis/openfaas/v1/types.go). The
// status is the controller's and is not part of a manifest.
type Function struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the function's desired state.
	Spec FunctionSpec `json:"spec"`
}

// FunctionSpec is a Function's spec (faas-netes FunctionSpec).
type FunctionSpec struct {
	// Name is the function's name: its Deployment's, Service's and the
	// gateway path's /function/<name>. It must equal metadata.name.
	Name string `json:"name"`
	// Image is the container image.
	Image string `json:"image"`
	// Handler is the process the function runs, passed in the fprocess
	// environment variable (EnvProcess).
	Handler string `json:"handler,omitempty"`
	// Annotations go on the Deployment, its pods and the Service.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels go on the function's pods, beside faas_function=<name>.
	Labels map[string]string `json:"labels,omitempty"`
	// Environment holds the container's environment variables.
	Environment map[string]string `json:"environment,omitempty"`
	// Constraints are node constraints; faas-netes CE does not apply them,
	// and meshcheck rejects them (Validate).
	Constraints []string `json:"constraints,omitempty"`
	// Secrets name Kubernetes Secrets mounted into the function; meshcheck
	// creates no secrets and rejects them (Validate).
	Secrets []string `json:"secrets,omitempty"`
	// Limits are the container's resource limits.
	Limits *FunctionResources `json:"limits,omitempty"`
	// Requests are the container's resource requests.
	Requests *FunctionResources `json:"requests,omitempty"`
	// ReadOnlyRootFilesystem mounts the root filesystem read-only, with a
	// writable emptyDir at /tmp.
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem"`
}

// FunctionResources are CPU and memory quantities (faas-netes
// FunctionResources), such as "100m" and "64Mi".
type FunctionResources struct {
	// Memory is a memory quantity.
	Memory string `json:"memory,omitempty"`
	// CPU is a CPU quantity.
	CPU string `json:"cpu,omitempty"`
}

// FunctionList is a list of Functions; it exists for the scheme.
type FunctionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	// Items are the Functions.
	Items []Function `json:"items"`
}

// Namespace is the namespace fn runs in: its own, else FunctionNamespace.
func Namespace(fn *Function) string {
	if fn.Namespace != "" {
		return fn.Namespace
	}
	return FunctionNamespace
}

// DeepCopyObject implements runtime.Object.
func (fn *Function) DeepCopyObject() runtime.Object {
	if fn == nil {
		return nil
	}
	return fn.DeepCopy()
}

// DeepCopy returns a deep copy of fn.
func (fn *Function) DeepCopy() *Function {
	if fn == nil {
		return nil
	}
	out := &Function{TypeMeta: fn.TypeMeta}
	fn.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = fn.Spec.DeepCopy()
	return out
}

// DeepCopy returns a deep copy of s.
func (s FunctionSpec) DeepCopy() FunctionSpec {
	out := s
	out.Annotations = copyMap(s.Annotations)
	out.Labels = copyMap(s.Labels)
	out.Environment = copyMap(s.Environment)
	out.Constraints = copyStrings(s.Constraints)
	out.Secrets = copyStrings(s.Secrets)
	if s.Limits != nil {
		l := *s.Limits
		out.Limits = &l
	}
	if s.Requests != nil {
		r := *s.Requests
		out.Requests = &r
	}
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *FunctionList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &FunctionList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]Function, len(l.Items))
		for i := range l.Items {
			out.Items[i] = *l.Items[i].DeepCopy()
		}
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
