package openfaas

import (
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The chart values meshcheck installs OpenFaaS CE with, which shape what
// faas-netes creates (chart openfaas/openfaas values.yaml, functions.*).
const (
	// RunAsUser is the user function containers run as:
	// functions.setNonRootUser=true makes faas-netes set 12000
	// (pkg/k8s/securityContext.go, SecurityContextUserID).
	RunAsUser = int64(12000)
	// probePeriodSeconds and probeTimeoutSeconds are the chart's
	// functions.readinessProbe and livenessProbe defaults.
	probePeriodSeconds  = 2
	probeTimeoutSeconds = 1
	// probeFailureThreshold is faas-netes' fixed failure threshold
	// (pkg/k8s/probes.go).
	probeFailureThreshold = 3
	// tempVolume is the emptyDir faas-netes mounts at /tmp when the root
	// filesystem is read-only (ConfigureReadOnlyRootFilesystem).
	tempVolume = "temp"
)

// Expand returns what faas-netes creates in namespace for a deployed
// function: the Deployment and the Service, both named spec.name. The
// shapes follow faas-netes pkg/handlers/deploy.go (makeDeploymentSpec and
// makeServiceSpec) with the chart values meshcheck installs: HTTP probes
// (functions.httpProbe=true), the non-root user (functions.setNonRootUser=
// true) and the chart's image pull policy, Always (the only one CE allows).
// An invalid fn is an error naming its problems (Validate).
func Expand(fn *Function, namespace string) (*appsv1.Deployment, *corev1.Service, error) {
	if err := Validate(fn).Err(SchemeGroupVersion.String() + " Function"); err != nil {
		return nil, nil, err
	}
	name := fn.Spec.Name
	selector := map[string]string{LabelFunction: name}
	// makeDeploymentSpec: the pod labels are faas_function plus the user
	// labels; the Deployment itself carries only faas_function.
	podLabels := map[string]string{LabelFunction: name}
	maps.Copy(podLabels, fn.Spec.Labels)
	annotations := buildAnnotations(fn.Spec.Annotations)
	probe := func() *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: HealthPath,
				Port: intstr.FromInt32(FunctionPort),
			}},
			TimeoutSeconds:   probeTimeoutSeconds,
			PeriodSeconds:    probePeriodSeconds,
			SuccessThreshold: 1,
			FailureThreshold: probeFailureThreshold,
		}
	}
	readOnly := fn.Spec.ReadOnlyRootFilesystem
	user := RunAsUser
	container := corev1.Container{
		Name:  name,
		Image: fn.Spec.Image,
		Ports: []corev1.ContainerPort{{
			Name: "http", ContainerPort: FunctionPort, Protocol: corev1.ProtocolTCP,
		}},
		Env:             envVars(fn.Spec.Handler, fn.Spec.Environment),
		Resources:       resources(fn.Spec.Limits, fn.Spec.Requests),
		ImagePullPolicy: corev1.PullAlways,
		LivenessProbe:   probe(),
		ReadinessProbe:  probe(),
		SecurityContext: &corev1.SecurityContext{
			ReadOnlyRootFilesystem: &readOnly,
			RunAsUser:              &user,
		},
	}
	var volumes []corev1.Volume
	if readOnly {
		volumes = []corev1.Volume{{Name: tempVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		container.VolumeMounts = []corev1.VolumeMount{{Name: tempVolume, MountPath: "/tmp"}}
	}
	maxUnavailable, maxSurge := intstr.FromInt32(0), intstr.FromInt32(1)
	replicas := initialReplicas(fn.Spec.Labels)
	history := int32(10)
	dep := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   namespace,
			Annotations: maps.Clone(annotations),
			Labels:      map[string]string{LabelFunction: name},
		},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(selector)},
			Replicas: &replicas,
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: &maxUnavailable,
					MaxSurge:       &maxSurge,
				},
			},
			RevisionHistoryLimit: &history,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Name:        name,
					Labels:      podLabels,
					Annotations: maps.Clone(annotations),
				},
				Spec: corev1.PodSpec{
					Containers:    []corev1.Container{container},
					Volumes:       volumes,
					RestartPolicy: corev1.RestartPolicyAlways,
					DNSPolicy:     corev1.DNSClusterFirst,
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   namespace,
			Annotations: maps.Clone(annotations),
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector,
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Protocol:   corev1.ProtocolTCP,
				Port:       FunctionPort,
				TargetPort: intstr.FromInt32(FunctionPort),
			}},
		},
	}
	return dep, svc, nil
}

// buildAnnotations is the user's annotations plus prometheus.io.scrape=
// "false" unless given (faas-netes buildAnnotations).
func buildAnnotations(user map[string]string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, user)
	if _, ok := out["prometheus.io.scrape"]; !ok {
		out["prometheus.io.scrape"] = "false"
	}
	return out
}

// envVars is fprocess (when a handler is given) and the environment,
// sorted by name (faas-netes buildEnvVars).
func envVars(handler string, env map[string]string) []corev1.EnvVar {
	all := maps.Clone(env)
	if handler != "" {
		if all == nil {
			all = map[string]string{}
		}
		all[EnvProcess] = handler
	}
	var out []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(all)) {
		out = append(out, corev1.EnvVar{Name: k, Value: all[k]})
	}
	return out
}

// resources turns the function's quantities into resource requirements
// (faas-netes createResources); the quantities are valid (Validate).
func resources(limits, requests *FunctionResources) corev1.ResourceRequirements {
	list := func(r *FunctionResources) corev1.ResourceList {
		if r == nil || (r.Memory == "" && r.CPU == "") {
			return nil
		}
		out := corev1.ResourceList{}
		if r.Memory != "" {
			out[corev1.ResourceMemory] = resource.MustParse(r.Memory)
		}
		if r.CPU != "" {
			out[corev1.ResourceCPU] = resource.MustParse(r.CPU)
		}
		return out
	}
	return corev1.ResourceRequirements{Limits: list(limits), Requests: list(requests)}
}

// initialReplicas is com.openfaas.scale.min when it is a positive number,
// else 1 (faas-netes initialReplicasCount and getMinReplicaCount).
func initialReplicas(labels map[string]string) int32 {
	if v, ok := labels[LabelScaleMin]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
			return int32(n)
		}
	}
	return 1
}
