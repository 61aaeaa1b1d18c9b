// Package debug collects a debug bundle from a cluster after a failed run:
// for meshcheck's namespaces (label app.kubernetes.io/managed-by=meshcheck)
// and istio-system, the pods as YAML, the events in time order, a
// describe-like summary per pod and the logs of istiod, the ingress
// gateway and the in-mesh agents; the route config_dump of each vantage
// proxy (the gateway pods, the agents' sidecars); and `istioctl
// proxy-status`. What cannot be read (a log without a kubelet, a
// port-forward that fails) is recorded in the bundle, in the file it was
// meant for, and never fails the collection.
package debug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env/kube"
)

// IstioNamespace is where istiod and the ingress gateway run.
const IstioNamespace = "istio-system"

// Istio's labels of its control plane and ingress gateway pods (the
// default profile's, as the IstioOperator meshcheck installs keeps them).
var (
	istiodPods  = labels.Set{"app": "istiod"}
	gatewayPods = labels.Set{"istio": "ingressgateway"}
)

// isAgent reports whether a pod's labels are an in-mesh agent's: the
// agent's own (app=meshcheck-agent) or one meshcheck runs as a probe's
// ServiceAccount (app=meshcheck-agent-<sa>, kube.AgentNameFor).
func isAgent(l map[string]string) bool {
	app := l["app"]
	return app == kube.AgentName || strings.HasPrefix(app, kube.AgentName+"-") && l[kube.LabelManagedBy] == kube.ManagedBy
}

// maxLogBytes bounds what is read of one container's log.
const maxLogBytes int64 = 8 << 20

// Options say how to reach the cluster.
type Options struct {
	// Kube reads the cluster.
	Kube kubernetes.Interface
	// Forwarder reaches the vantage proxies' Envoy admin port.
	Forwarder kube.Forwarder
	// ProxyStatus, when set, writes `istioctl proxy-status` to w
	// (istio.ProxyStatus).
	ProxyStatus func(ctx context.Context, w io.Writer) error
}

// Collect writes the bundle into dir (created; files in it replaced):
//
//	<namespace>/pods.yaml        the namespace's pods
//	<namespace>/events.txt       its events, oldest first
//	<namespace>/describe.txt     per pod: phase, conditions, containers (restarts, last state), its events
//	<namespace>/logs/<pod>.<container>.log (and .previous.log after a restart)
//	config_dump/<namespace>.<pod>.json   a vantage proxy's dynamic route configs
//	istioctl-proxy-status.txt
//
// A read that fails is written into its file as "error: ..."; Collect's
// error is about listing the namespaces or writing the files.
func Collect(ctx context.Context, dir string, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("debug bundle: %w", err)
	}
	c := collector{ctx: ctx, dir: dir, o: o}
	nsList, err := o.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedBy}).String()})
	if err != nil {
		return fmt.Errorf("debug bundle: listing meshcheck's namespaces: %w", err)
	}
	namespaces := []string{IstioNamespace}
	for _, ns := range nsList.Items {
		namespaces = append(namespaces, ns.Name)
	}
	var vantages []corev1.Pod
	for _, ns := range namespaces {
		vantages = append(vantages, c.namespace(ns)...)
	}
	for _, p := range vantages {
		c.configDump(p)
	}
	if o.ProxyStatus != nil {
		c.proxyStatus()
	}
	return errors.Join(c.errs...)
}

// collector is one Collect's state: errs are the files it could not write.
type collector struct {
	ctx  context.Context
	dir  string
	o    Options
	errs []error
}

// write writes a file of the bundle, or "error: <err>" when err is set.
func (c *collector) write(name string, body []byte, err error) {
	if err != nil {
		body = append(body, []byte(fmt.Sprintf("error: %v\n", err))...)
	}
	path := filepath.Join(c.dir, name)
	if merr := os.MkdirAll(filepath.Dir(path), 0o755); merr != nil {
		c.errs = append(c.errs, merr)
		return
	}
	if werr := os.WriteFile(path, body, 0o644); werr != nil {
		c.errs = append(c.errs, werr)
	}
}

// namespace writes one namespace's files and returns its vantage proxies.
func (c *collector) namespace(ns string) []corev1.Pod {
	pods, err := c.o.Kube.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.write(filepath.Join(ns, "pods.yaml"), nil, fmt.Errorf("listing pods: %w", err))
		return nil
	}
	for i := range pods.Items {
		// A PodList from a typed client has no TypeMeta of its own.
		pods.Items[i].APIVersion, pods.Items[i].Kind = "v1", "Pod"
	}
	b, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": pods.Items})
	c.write(filepath.Join(ns, "pods.yaml"), b, err)

	events, err := c.o.Kube.CoreV1().Events(ns).List(c.ctx, metav1.ListOptions{})
	var evs []corev1.Event
	if err == nil {
		evs = events.Items
		sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	}
	var text strings.Builder
	for _, e := range evs {
		text.WriteString(eventLine(e))
	}
	if err != nil {
		err = fmt.Errorf("listing events: %w", err)
	}
	c.write(filepath.Join(ns, "events.txt"), []byte(text.String()), err)

	var describe strings.Builder
	var vantages []corev1.Pod
	for _, p := range pods.Items {
		describePod(&describe, p, evs)
		logged := ns == IstioNamespace && (istiodPods.AsSelector().Matches(labels.Set(p.Labels)) || gatewayPods.AsSelector().Matches(labels.Set(p.Labels)))
		agent := isAgent(p.Labels)
		if logged || agent {
			c.logs(p)
		}
		if agent || (ns == IstioNamespace && gatewayPods.AsSelector().Matches(labels.Set(p.Labels))) {
			vantages = append(vantages, p)
		}
	}
	c.write(filepath.Join(ns, "describe.txt"), []byte(describe.String()), nil)
	return vantages
}

// logs writes the log of each container of p, and the previous one's of a
// container that restarted.
func (c *collector) logs(p corev1.Pod) {
	restarts := map[string]int32{}
	for _, s := range p.Status.ContainerStatuses {
		restarts[s.Name] = s.RestartCount
	}
	for _, ctr := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		base := filepath.Join(p.Namespace, "logs", p.Name+"."+ctr.Name)
		b, err := c.log(p, ctr.Name, false)
		c.write(base+".log", b, err)
		if restarts[ctr.Name] > 0 {
			b, err := c.log(p, ctr.Name, true)
			c.write(base+".previous.log", b, err)
		}
	}
}

// log reads one container's log.
func (c *collector) log(p corev1.Pod, container string, previous bool) ([]byte, error) {
	limit := maxLogBytes
	b, err := c.o.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container: container, Previous: previous, Timestamps: true, LimitBytes: &limit}).DoRaw(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the log of %s/%s container %s: %w", p.Namespace, p.Name, container, err)
	}
	return b, nil
}

// configDump writes a vantage proxy's route config_dump.
func (c *collector) configDump(p corev1.Pod) {
	name := filepath.Join("config_dump", p.Namespace+"."+p.Name+".json")
	if c.o.Forwarder == nil {
		c.write(name, nil, errors.New("no port-forward to the proxy's admin port"))
		return
	}
	b, err := kube.ProxyAdminGet(c.ctx, c.o.Forwarder, p.Namespace, p.Name, kube.RouteConfigDumpPath)
	c.write(name, b, err)
}

// proxyStatus writes `istioctl proxy-status`.
func (c *collector) proxyStatus() {
	var out strings.Builder
	err := c.o.ProxyStatus(c.ctx, &out)
	if err != nil {
		err = fmt.Errorf("istioctl proxy-status: %w", err)
	}
	c.write("istioctl-proxy-status.txt", []byte(out.String()), err)
}

// eventTime is when an event last happened: its last timestamp, else its
// event time (events.k8s.io), else its creation.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// eventLine is one event as text: time, type, object, reason, count and
// message.
func eventLine(e corev1.Event) string {
	count := ""
	if e.Count > 1 {
		count = fmt.Sprintf(" (x%d)", e.Count)
	}
	return fmt.Sprintf("%s  %-7s %s/%s  %s%s: %s\n", eventTime(e).UTC().Format(time.RFC3339), e.Type,
		e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, count, strings.TrimSpace(e.Message))
}

// describePod writes a summary of p like kubectl describe's: phase, node,
// conditions, each container's state, readiness, restarts and last state,
// and the pod's events.
func describePod(w *strings.Builder, p corev1.Pod, events []corev1.Event) {
	fmt.Fprintf(w, "Pod %s/%s\n  phase: %s", p.Namespace, p.Name, p.Status.Phase)
	if p.Status.Reason != "" {
		fmt.Fprintf(w, " (%s: %s)", p.Status.Reason, p.Status.Message)
	}
	fmt.Fprintf(w, "\n  node: %s\n  conditions:", p.Spec.NodeName)
	if len(p.Status.Conditions) == 0 {
		w.WriteString(" none")
	}
	w.WriteString("\n")
	for _, cond := range p.Status.Conditions {
		fmt.Fprintf(w, "    %s=%s", cond.Type, cond.Status)
		if cond.Reason != "" || cond.Message != "" {
			fmt.Fprintf(w, " %s %s", cond.Reason, cond.Message)
		}
		w.WriteString("\n")
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		statuses[s.Name] = s
	}
	w.WriteString("  containers:\n")
	for _, ctr := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		s, ok := statuses[ctr.Name]
		if !ok {
			fmt.Fprintf(w, "    %s (%s): no status\n", ctr.Name, ctr.Image)
			continue
		}
		fmt.Fprintf(w, "    %s (%s): %s, ready %v, restarts %d", ctr.Name, ctr.Image, state(s.State), s.Ready, s.RestartCount)
		if s.LastTerminationState.Terminated != nil {
			fmt.Fprintf(w, ", last state %s", state(s.LastTerminationState))
		}
		w.WriteString("\n")
	}
	w.WriteString("  events:")
	n := 0
	for _, e := range events {
		if e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == p.Name {
			if n == 0 {
				w.WriteString("\n")
			}
			n++
			w.WriteString("    " + eventLine(e))
		}
	}
	if n == 0 {
		w.WriteString(" none\n")
	}
	w.WriteString("\n")
}

// state is a container state in a few words.
func state(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running since " + s.Running.StartedAt.UTC().Format(time.RFC3339)
	case s.Waiting != nil:
		return strings.TrimSpace("waiting: " + s.Waiting.Reason + " " + s.Waiting.Message)
	case s.Terminated != nil:
		return strings.TrimSpace(fmt.Sprintf("terminated: exit %d %s %s", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message))
	}
	return "unknown"
}
