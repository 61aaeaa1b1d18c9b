package kube

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshcheck/meshcheck/scenario"
)

// The in-mesh agent: `meshcheck agent` in a pod with a sidecar, which runs
// mesh-vantage probes from inside the mesh.
const (
	// AgentImage is meshcheck's own image (built and loaded into kind by
	// package image); versioned, never :latest.
	AgentImage = "meshcheck.local/meshcheck:v0.1.0"
	// AgentName names the agent's Deployment, ServiceAccount and app label
	// (scenario.AgentServiceAccount, the identity in-mesh probes carry
	// unless they name another ServiceAccount).
	AgentName = scenario.AgentServiceAccount
	// AgentPort is the port `meshcheck agent --listen` serves on.
	AgentPort = 8080
	// agentUID is the non-root user the agent runs as.
	agentUID = 65532
)

// AgentNameFor is the name (and app label) of the agent that runs as
// ServiceAccount sa: AgentName for the agent's own account ("" or
// AgentName), else AgentName-<sa>. An account whose agent name would not
// fit a label value (63 characters) is an error naming the probe field.
func AgentNameFor(sa string) (string, error) {
	if sa == "" || sa == AgentName {
		return AgentName, nil
	}
	name := AgentName + "-" + sa
	if len(name) > 63 {
		return "", fmt.Errorf("probe serviceAccount %q: the in-mesh agent running as it would be named %s, longer than a label value's 63 characters: use a ServiceAccount name of at most %d characters",
			sa, name, 63-len(AgentName)-1)
	}
	return name, nil
}

// agentObjects returns the agent's objects in namespace ns, running image
// (AgentImage when empty) as ServiceAccount sa ("" for its own): its
// ServiceAccount (only for its own: another account is the scenario's, from
// its manifests) and Deployment, non-root, read-only root file system, no
// privilege escalation, no capabilities, no API token, and the application
// held until the sidecar is up.
func agentObjects(ns, image, sa string) ([]*unstructured.Unstructured, error) {
	if image == "" {
		image = AgentImage
	}
	name, err := AgentNameFor(sa)
	if err != nil {
		return nil, err
	}
	account := AgentName
	if name != AgentName {
		account = sa
	}
	sel := map[string]string{"app": name}
	one := int32(1)
	no := false
	yes := true
	uid := int64(agentUID)
	saObj := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   metav1.ObjectMeta{Name: AgentName, Namespace: ns},
		AutomountServiceAccountToken: &no,
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: sel},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: sel,
					Annotations: map[string]string{
						// The agent's first request must not race the
						// sidecar's start.
						"proxy.istio.io/config": `{"holdApplicationUntilProxyStarts": true}`,
					},
				},
				Spec: corev1.PodSpec{
					ServiceAccountName:           account,
					AutomountServiceAccountToken: &no,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						RunAsUser:      &uid,
						RunAsGroup:     &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "agent",
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            []string{"agent", "--listen", ":" + strconv.Itoa(AgentPort)},
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: AgentPort}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							TCPSocket: &corev1.TCPSocketAction{Port: intstrPort(AgentPort)},
						}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("50m"),
								corev1.ResourceMemory: resource.MustParse("32Mi"),
							},
							Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
						},
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             &yes,
							ReadOnlyRootFilesystem:   &yes,
							AllowPrivilegeEscalation: &no,
							Privileged:               &no,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
	objs := []runtime.Object{dep}
	if account == AgentName {
		objs = []runtime.Object{saObj, dep}
	}
	out, err := ToUnstructured(objs...)
	if err != nil {
		return nil, fmt.Errorf("agent objects: %w", err)
	}
	return out, nil
}

// DeployAgent applies the objects of the agent running as ServiceAccount sa
// ("" for its own; see agentObjects) in namespace ns (which must have
// sidecar injection) and waits until its pod is ready; it returns the pod's
// name.
func (d *Deployer) DeployAgent(ctx context.Context, ns, image, sa string) (string, error) {
	live, err := d.c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("deploy the in-mesh agent: namespace %s: %w", ns, err)
	}
	if !injectionEnabled(live.Labels) {
		return "", fmt.Errorf("deploy the in-mesh agent: namespace %s has no sidecar injection, so the agent would be outside the mesh", ns)
	}
	objs, err := agentObjects(ns, image, sa)
	if err != nil {
		return "", err
	}
	if sa != "" && sa != AgentName {
		if _, err := d.c.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); err != nil {
			return "", fmt.Errorf("deploy the in-mesh agent as ServiceAccount %s (a probe's serviceAccount): namespace %s: %w", sa, ns, err)
		}
	}
	if err := d.Apply(ctx, Change{Apply: objs}); err != nil {
		return "", fmt.Errorf("deploy the in-mesh agent: %w", err)
	}
	return d.c.AgentPod(ctx, ns, sa)
}

// AgentPod returns the name of a ready pod of the agent running as
// ServiceAccount sa ("" for its own) in namespace ns.
func (c *Client) AgentPod(ctx context.Context, ns, sa string) (string, error) {
	name, err := AgentNameFor(sa)
	if err != nil {
		return "", err
	}
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{"app": name, LabelManagedBy: ManagedBy}).String(),
	})
	if err != nil {
		return "", fmt.Errorf("find the in-mesh agent pod in %s: %w", ns, err)
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && PodReady(p) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no ready in-mesh agent pod (label app=%s) in namespace %s", name, ns)
}

// AgentKinds are the kinds of the agent's objects, for Cleanup.
var AgentKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ServiceAccount"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
}
