package kind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/yaml"

	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/image"
	"github.com/meshcheck/meshcheck/scenario"
)

// The in-cluster registry OpenFaaS functions' images are pulled from on
// kind.
//
// faas-netes CE (github.com/openfaas/faas-netes commit 662ce9ce,
// pkg/handlers/validate.go lines 101-123, isAnonymous, called by deploy.go
// line 76 and update.go line 109) answers 400 unless an anonymous
// remote.Head of the function's image succeeds; its comment says "a
// registry on localhost is supported for local testing within the terms of
// the EULA". It parses the reference with name.ParseReference and no
// options, so go-containerregistry picks the scheme: plain HTTP for an
// RFC 1918 address (faas-netes vendors v0.21.5,
// vendor/github.com/google/go-containerregistry/pkg/name/registry.go
// lines 72-108, isRFC1918 and Scheme). A Service with a fixed ClusterIP in
// 10.0.0.0/8 is such an address, reachable from the faas-netes pod and,
// through kube-proxy in the node's network namespace, from the kubelet's
// containerd, which is told to use HTTP for it by a hosts.toml on every
// node (hostsTOML). deploy.go line 217 and update.go line 116 set
// imagePullPolicy Always, so the registry serves every function pod start.
const (
	// RegistryNamespace holds the registry; it has no sidecar injection
	// (the nodes' containerd, outside the mesh, pulls from it).
	RegistryNamespace = "meshcheck-registry"
	// RegistryPort is the registry Service's and container's port.
	RegistryPort = 5000
	// DefaultRegistryIP is the registry Service's fixed ClusterIP. kind
	// v0.30.0 gives clusters the service subnet 10.96.0.0/16 unless the
	// config says otherwise (pkg/apis/config/v1alpha4/default.go), and
	// meshcheck's config does not. The API server allocates dynamic
	// ClusterIPs from above the range's first min(max(16, size/16), 256)
	// addresses, 10.96.0.0-10.96.0.255 here, and keeps those for static
	// ones (KEP-3070; k8s.io/kubernetes v1.34.1
	// pkg/registry/core/service/ipallocator bitmap.go calculateRangeOffset
	// and ipallocator.go rangeOffset): an address there is free unless
	// someone chose it, where 10.96.200.200, say, could already be a
	// Service's. .1 is the kubernetes Service's, .10 kube-dns's.
	DefaultRegistryIP = "10.96.0.200"
	// registryName names the registry's Service and Deployment and is its
	// app label.
	registryName = "registry"
	// registryLabel is kube.LabelScenario on the registry's objects.
	registryLabel = "kind.registry"
	// containerdCertsDir is containerd's registry host configuration
	// directory (config_path) on the nodes, as kind's local registry guide
	// sets it (https://kind.sigs.k8s.io/docs/user/local-registry/).
	containerdCertsDir = "/etc/containerd/certs.d"
	// registryUID is the non-root user the registry runs as (image.User).
	registryUID = 65532
	// fixtureImageName is the image (of image.Defaults) the registry pod
	// runs: the fixture binary.
	fixtureImageName = "fixture"
)

// containerdConfigPatch sets containerd's registry config_path on every
// node, the patch of kind's local registry guide
// (site/static/examples/kind-with-registry.sh at v0.30.0). The guide says
// images of kind v0.27.0+ need none, but kind v0.30.0's node image does not
// set it (images/base/files/etc/containerd/config.toml), containerd v2.1.4
// has no default (internal/cri/config/config_unix.go DefaultImageConfig)
// and then pulls over HTTPS from any host but localhost
// (internal/cri/server/images/image_pull.go registryEndpoints,
// defaultScheme); kind's maintainer confirms the patch is still needed
// (kubernetes-sigs/kind#3918).
const containerdConfigPatch = `[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "` + containerdCertsDir + `"`

// registryHost is the registry's host:port for image references.
func registryHost(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(RegistryPort)) }

// validateRegistryIP requires an IPv4 address of RFC 1918 (faas-netes reads
// only those over plain HTTP) inside kind's default service subnet.
func validateRegistryIP(ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() || !netip.MustParsePrefix("10.96.0.0/16").Contains(a) {
		return fmt.Errorf("registry ClusterIP %q: want an IPv4 address in kind's service subnet 10.96.0.0/16, such as %s", ip, DefaultRegistryIP)
	}
	return nil
}

// functionImages maps each image the plan builds (meshcheck.local/<name>:
// <tag>) to its reference in the registry at ip (<ip>:5000/<name>:<tag>):
// what OpenFaaS Functions naming it are deployed with.
func functionImages(ip string, specs []image.Spec) map[string]string {
	r := image.Remote{Registry: registryHost(ip)}
	m := make(map[string]string, len(specs))
	for _, s := range specs {
		m[s.Ref()] = r.Ref(s)
	}
	return m
}

// hostsTOML is containerd's configuration of the registry host (containerd
// v2.1.4 docs/hosts.md: the [host] entry is tried first, server is the
// fallback; both plain HTTP), written to
// /etc/containerd/certs.d/<ip>:5000/hosts.toml on every node.
func hostsTOML(ip string) []byte {
	u := "http://" + registryHost(ip)
	return []byte("# meshcheck's in-cluster registry (--env kind): plain HTTP\n" +
		"server = \"" + u + "\"\n\n" +
		"[host.\"" + u + "\"]\n" +
		"  capabilities = [\"pull\", \"resolve\"]\n")
}

// hostsTOMLPath is where hostsTOML goes on a node.
func hostsTOMLPath(ip string) string {
	return path.Join(containerdCertsDir, registryHost(ip), "hosts.toml")
}

// writeNodeFile writes data to the file name on node n, as kind's local
// registry guide does (`mkdir -p` its folder, then `cp /dev/stdin` it), with
// the node's Command, the path image loading takes too
// (nodeutils.LoadImageArchive).
func writeNodeFile(n nodes.Node, name string, data []byte) error {
	var stderr bytes.Buffer
	if err := n.Command("mkdir", "-p", path.Dir(name)).SetStderr(&stderr).Run(); err != nil {
		return fmt.Errorf("node %s: mkdir -p %s: %w: %s", n, path.Dir(name), err, strings.TrimSpace(stderr.String()))
	}
	stderr.Reset()
	if err := n.Command("cp", "/dev/stdin", name).SetStdin(bytes.NewReader(data)).SetStderr(&stderr).Run(); err != nil {
		return fmt.Errorf("node %s: write %s: %w: %s", n, name, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// registryArgs is the fixture binary's command line in the registry pod.
func registryArgs() []string {
	return []string{"registry", "--listen", ":" + strconv.Itoa(RegistryPort)}
}

// registryObjects are the registry's Namespace (istio-injection disabled),
// Service (ClusterIP ip, port 5000) and Deployment: one pod running the
// fixture image fixtureImage (loaded into the nodes: imagePullPolicy
// IfNotPresent, as the scenarios' fixture pods) with `fixture registry`,
// locked down as the in-mesh agent is (non-root, read-only root file
// system, no privilege escalation, no capabilities, no API token), ready
// once GET /v2/ answers.
func registryObjects(ip, fixtureImage string) ([]*unstructured.Unstructured, error) {
	if fixtureImage == "" {
		return nil, fmt.Errorf("the kind plan builds no %q image for the in-cluster registry", fixtureImageName)
	}
	sel := map[string]string{"app": registryName}
	one := int32(1)
	no, yes := false, true
	uid := int64(registryUID)
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: RegistryNamespace, Labels: map[string]string{kube.LabelInjection: "disabled"}},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: registryName, Namespace: RegistryNamespace, Labels: sel},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: ip,
			Selector:  sel,
			Ports:     []corev1.ServicePort{{Name: "http", Port: RegistryPort, TargetPort: intstr.FromInt32(RegistryPort), Protocol: corev1.ProtocolTCP}},
		},
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: registryName, Namespace: RegistryNamespace, Labels: sel},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: &no,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						RunAsUser:      &uid,
						RunAsGroup:     &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            registryName,
						Image:           fixtureImage,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            registryArgs(),
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: RegistryPort}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/v2/", Port: intstr.FromInt32(RegistryPort)},
						}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("50m"),
								corev1.ResourceMemory: resource.MustParse("64Mi"),
							},
							// It keeps the images in memory.
							Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
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
	out, err := kube.ToUnstructured(ns, svc, dep)
	if err != nil {
		return nil, fmt.Errorf("registry objects: %w", err)
	}
	return out, nil
}

// functionSpecs are the images among specs (meshcheck's, loaded into the
// nodes) that the OpenFaaS Functions of the scenarios name as written: the
// ones to push.
func functionSpecs(scenarios []*scenario.Scenario, specs []image.Spec) ([]image.Spec, error) {
	var fns []*fnapi.Function
	for _, s := range scenarios {
		f, err := kube.Functions(s, kube.Images{})
		if err != nil {
			return nil, err
		}
		fns = append(fns, f...)
	}
	var out []image.Spec
	for _, sp := range specs {
		if slices.ContainsFunc(fns, func(f *fnapi.Function) bool { return f.Spec.Image == sp.Ref() }) {
			out = append(out, sp)
		}
	}
	return out, nil
}

// serveFunctionImages makes the images s's Functions name as meshcheck's
// local ones pullable from the in-cluster registry, before OpenFaaS
// deploys them: once per cluster it applies the registry's objects (and
// waits until its pod is ready) and writes hostsTOML on every node; then it
// pushes each such image not pushed yet, through a port-forward to the
// registry pod. The Functions are deployed with the registry's references
// (existing.WithFunctionImages at Provision). The time taken is the phase
// phaseRegistry.
func (e *Env) serveFunctionImages(ctx context.Context, s *scenario.Scenario) error {
	e.registryMu.Lock()
	defer e.registryMu.Unlock()
	e.mu.Lock()
	sess := e.session
	e.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("kind environment closed")
	}
	specs := make([]image.Spec, len(sess.Images))
	for i, b := range sess.Images {
		specs[i] = b.Spec
	}
	need, err := functionSpecs([]*scenario.Scenario{s}, specs)
	if err != nil {
		return err
	}
	var push []image.Built
	for _, b := range sess.Images {
		if slices.Contains(need, b.Spec) && !e.pushed[b.Spec.Ref()] {
			push = append(push, b)
		}
	}
	if len(push) == 0 {
		return nil
	}
	start := time.Now()
	if !e.registryUp {
		if err := e.startRegistry(ctx, sess); err != nil {
			return fmt.Errorf("in-cluster registry: %w", err)
		}
		e.registryUp = true
	}
	if err := e.push(ctx, push); err != nil {
		return fmt.Errorf("in-cluster registry: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.session != nil {
		e.session.timings.phases = append(e.session.timings.phases, env.Timing{Phase: phaseRegistry, Duration: time.Since(start)})
	}
	return nil
}

// startRegistry applies the registry's objects, waits until it is ready
// and configures every node's containerd for it.
func (e *Env) startRegistry(ctx context.Context, sess *Session) error {
	objs, err := registryObjects(e.registryIP, e.fixtureImage)
	if err != nil {
		return err
	}
	d, err := kube.NewDeployer(e.cluster.Client(), kube.Options{Scenario: registryLabel, ReadyTimeout: e.readyTimeout})
	if err != nil {
		return err
	}
	e.log.Info("starting the in-cluster registry", "namespace", RegistryNamespace, "service", registryHost(e.registryIP), "image", e.fixtureImage)
	if err := d.Apply(ctx, kube.Change{Apply: objs}); err != nil {
		return err
	}
	nodeList, err := sess.provider.ListInternalNodes(sess.Cluster.Name)
	if err != nil {
		return fmt.Errorf("list nodes of cluster %q: %w", sess.Cluster.Name, err)
	}
	if len(nodeList) == 0 {
		return fmt.Errorf("cluster %q has no nodes", sess.Cluster.Name)
	}
	for _, n := range nodeList {
		if err := e.writeNodeFile(n, hostsTOMLPath(e.registryIP), hostsTOML(e.registryIP)); err != nil {
			return err
		}
	}
	return nil
}

// push pushes the images to the registry through a port-forward to its
// ready pod (image.Remote.Push: go-containerregistry talks plain HTTP to
// the forward's loopback address) and marks them pushed.
func (e *Env) push(ctx context.Context, images []image.Built) error {
	pod, err := registryPod(ctx, e.cluster.Client())
	if err != nil {
		return err
	}
	t, err := e.cluster.Forwarder().Forward(ctx, RegistryNamespace, pod, RegistryPort)
	if err != nil {
		return err
	}
	defer t.Close()
	r := image.Remote{Registry: t.Addr}
	for _, b := range images {
		img, err := b.Image()
		if err != nil {
			return err
		}
		p, err := r.Push(ctx, b.Spec, img)
		if err != nil {
			return err
		}
		e.log.Info("pushed image to the in-cluster registry", "image", b.Spec.Ref(), "as", functionImages(e.registryIP, []image.Spec{b.Spec})[b.Spec.Ref()], "digest", p.Digest)
		e.pushed[b.Spec.Ref()] = true
	}
	return nil
}

// registryPod is the name of a ready registry pod.
func registryPod(ctx context.Context, c *kube.Client) (string, error) {
	pods, err := c.Kube.CoreV1().Pods(RegistryNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{"app": registryName}).String(),
	})
	if err != nil {
		return "", fmt.Errorf("find the registry pod in %s: %w", RegistryNamespace, err)
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && kube.PodReady(p) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no ready registry pod (label app=%s) in namespace %s", registryName, RegistryNamespace)
}

// writeRegistryDryRun writes what serveFunctionImages would do for the
// scenarios: the registry's objects, the hosts.toml on the node and the
// pushes; nothing when no Function names one of meshcheck's images.
func (o *Opener) writeRegistryDryRun(w io.Writer, scenarios []*scenario.Scenario) error {
	push, err := functionSpecs(scenarios, o.plan.Images)
	if err != nil || len(push) == 0 {
		return err
	}
	objs, err := registryObjects(o.registryIP, o.fixtureImage)
	if err != nil {
		return err
	}
	host := registryHost(o.registryIP)
	var b strings.Builder
	b.WriteString("---\n# in-cluster registry for OpenFaaS functions' images, started once per cluster before OpenFaaS deploys a function naming one of meshcheck's images\n")
	b.WriteString("# (OpenFaaS CE deploys only images whose manifest an anonymous HEAD reads: faas-netes pkg/handlers/validate.go isAnonymous; see docs/openfaas.md)\n")
	fmt.Fprintf(&b, "# namespace %s (no sidecar injection), Service %s/%s at %s, pod running `fixture %s` (image %s)\n",
		RegistryNamespace, RegistryNamespace, registryName, host, strings.Join(registryArgs(), " "), o.fixtureImage)
	fmt.Fprintf(&b, "# applied with meshcheck's labels (%s=%s) and waited for until ready\n", kube.LabelScenario, registryLabel)
	for _, obj := range objs {
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("registry objects: %w", err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	b.WriteString("---\n")
	fmt.Fprintf(&b, "# then, on every node (%s-control-plane), containerd pulls %s over plain HTTP: %s\n", o.plan.Options.Name, host, hostsTOMLPath(o.registryIP))
	fmt.Fprintf(&b, "#   (node commands: mkdir -p %s; cp /dev/stdin %s)\n", path.Dir(hostsTOMLPath(o.registryIP)), hostsTOMLPath(o.registryIP))
	for _, line := range strings.Split(strings.TrimSuffix(string(hostsTOML(o.registryIP)), "\n"), "\n") {
		b.WriteString(strings.TrimRight("#   "+line, " ") + "\n")
	}
	b.WriteString("# then, through a port-forward to the registry pod, the images the Functions name are pushed (each once per cluster):\n")
	repl := functionImages(o.registryIP, push)
	for _, s := range push {
		fmt.Fprintf(&b, "#   %s -> %s\n", s.Ref(), repl[s.Ref()])
	}
	b.WriteString("# and the Functions are deployed with those references (imagePullPolicy Always, set by faas-netes); containers keep the images loaded into the nodes\n")
	_, err = io.WriteString(w, b.String())
	return err
}
