package openfaas

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// GatewayImage is the chart's CE gateway image (values.yaml gateway.image),
// pinned as the chart version meshcheck installs pins it.
const GatewayImage = "ghcr.io/openfaas/gateway:0.27.13"

// The gateway's environment that says where it sends function calls
// (chart templates/gateway-dep.yaml).
const (
	// EnvDirectFunctions is "true" with gateway.directFunctions=true: the
	// gateway calls http://<name>.<suffix>:8080 itself, so the caller's
	// sidecar (Envoy) picks the function's pod.
	EnvDirectFunctions = "direct_functions"
	// EnvDirectFunctionsSuffix is the DNS suffix of function Services:
	// <function namespace>.svc.<cluster domain>.
	EnvDirectFunctionsSuffix = "direct_functions_suffix"
	// EnvFunctionNamespace is the namespace functions run in.
	EnvFunctionNamespace = "function_namespace"
)

// gatewayLabels are the gateway pods' labels (the chart selects app:
// gateway).
var gatewayLabels = map[string]string{"app": "gateway"}

// Gateway returns the objects of the OpenFaaS CE chart that route
// function calls, as meshcheck installs it (gateway.directFunctions=true):
// the gateway's ServiceAccount (openfaas-controller, the chart's
// <release>-controller), its Deployment and its Service gateway:8080 in
// namespace openfaas (templates/gateway-dep.yaml and gateway-svc.yaml,
// trimmed to what routing depends on: the faas-netes sidecar container,
// probes and resources are left out). The routing model and the local
// environment read them; on a cluster the chart creates them.
func Gateway() []runtime.Object {
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayServiceAccount, Namespace: GatewayNamespace},
	}
	nonRoot, readOnly, noEscalation := true, true, false
	user := int64(10001)
	replicas := int32(1)
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayName, Namespace: GatewayNamespace, Labels: map[string]string{"app": "openfaas", "component": "gateway"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: copyMap(gatewayLabels)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyMap(gatewayLabels)},
				Spec: corev1.PodSpec{
					ServiceAccountName: GatewayServiceAccount,
					Containers: []corev1.Container{{
						Name:  GatewayName,
						Image: GatewayImage,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: GatewayPort, Protocol: corev1.ProtocolTCP}},
						Env: []corev1.EnvVar{
							{Name: EnvDirectFunctions, Value: "true"},
							{Name: EnvDirectFunctionsSuffix, Value: FunctionNamespace + ".svc.cluster.local"},
							{Name: EnvFunctionNamespace, Value: FunctionNamespace},
						},
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             &nonRoot,
							RunAsUser:                &user,
							ReadOnlyRootFilesystem:   &readOnly,
							AllowPrivilegeEscalation: &noEscalation,
						},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayName, Namespace: GatewayNamespace, Labels: map[string]string{"app": "openfaas", "component": "gateway"}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: copyMap(gatewayLabels),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: GatewayPort, TargetPort: intstr.FromInt32(GatewayPort), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
	return []runtime.Object{sa, dep, svc}
}
