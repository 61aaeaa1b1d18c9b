package openfaas

import "maps"

// FunctionDeployment is the JSON body of the gateway's POST (create) and
// PUT (update) /system/functions: the shape of faas-provider's
// types.FunctionDeployment (types/function_deployment.go), written here,
// not imported.
type FunctionDeployment struct {
	// Service is the function's name.
	Service string `json:"service"`
	// Image is the container image.
	Image string `json:"image"`
	// Namespace is the function's namespace.
	Namespace string `json:"namespace,omitempty"`
	// EnvProcess is the handler, passed as fprocess.
	EnvProcess string `json:"envProcess,omitempty"`
	// EnvVars are the container's environment variables.
	EnvVars map[string]string `json:"envVars,omitempty"`
	// Constraints are node constraints.
	Constraints []string `json:"constraints,omitempty"`
	// Secrets name Secrets mounted into the function.
	Secrets []string `json:"secrets,omitempty"`
	// Labels go on the function's pods.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations go on the function's Deployment, pods and Service.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Limits are the container's resource limits.
	Limits *FunctionResources `json:"limits,omitempty"`
	// Requests are the container's resource requests.
	Requests *FunctionResources `json:"requests,omitempty"`
	// ReadOnlyRootFilesystem mounts the root filesystem read-only.
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem,omitempty"`
}

// Deployment returns the REST body that deploys fn through the gateway,
// field for field from its spec, in fn's namespace (Namespace).
func Deployment(fn *Function) FunctionDeployment {
	d := FunctionDeployment{
		Service:                fn.Spec.Name,
		Image:                  fn.Spec.Image,
		Namespace:              Namespace(fn),
		EnvProcess:             fn.Spec.Handler,
		EnvVars:                maps.Clone(fn.Spec.Environment),
		Constraints:            copyStrings(fn.Spec.Constraints),
		Secrets:                copyStrings(fn.Spec.Secrets),
		Labels:                 maps.Clone(fn.Spec.Labels),
		Annotations:            maps.Clone(fn.Spec.Annotations),
		ReadOnlyRootFilesystem: fn.Spec.ReadOnlyRootFilesystem,
	}
	if fn.Spec.Limits != nil {
		l := *fn.Spec.Limits
		d.Limits = &l
	}
	if fn.Spec.Requests != nil {
		r := *fn.Spec.Requests
		d.Requests = &r
	}
	return d
}
