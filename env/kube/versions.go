package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// defaultVersionLabel is the pod label that names a workload's version when
// a probe names none.
const defaultVersionLabel = "version"

// VersionMap maps the name of every pod behind the given Services (their
// selectors, in their namespaces) to the value of the pod label label, so
// that a response naming its pod (os.hostname) can be classified as a
// version. Terminating pods and pods without the label are left out: their
// responses stay unclassified and count against the probe's budget of
// unexpected answers. It is an error when a Service has no selector, or when
// no pod at all carries the label.
func (c *Client) VersionMap(ctx context.Context, services []Ref, label string) (map[string]string, error) {
	if label == "" {
		label = defaultVersionLabel
	}
	if len(services) == 0 {
		return nil, fmt.Errorf("version map: no Service to list pods behind")
	}
	out := map[string]string{}
	var unlabelled []string
	for _, ref := range services {
		svc, err := c.Kube.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("version map: read Service %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		if len(svc.Spec.Selector) == 0 {
			return nil, fmt.Errorf("version map: Service %s/%s has no selector, so meshcheck cannot tell which pods answer for it", ref.Namespace, ref.Name)
		}
		pods, err := c.Kube.CoreV1().Pods(ref.Namespace).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
		})
		if err != nil {
			return nil, fmt.Errorf("version map: list pods behind Service %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil {
				continue
			}
			v, ok := p.Labels[label]
			if !ok {
				unlabelled = append(unlabelled, p.Namespace+"/"+p.Name)
				continue
			}
			out[p.Name] = v
		}
	}
	if len(out) == 0 {
		names := make([]string, len(services))
		for i, s := range services {
			names[i] = s.Namespace + "/" + s.Name
		}
		msg := fmt.Sprintf("version map: no pod behind Service %s has the label %q", strings.Join(names, ", "), label)
		if len(unlabelled) > 0 {
			slices.Sort(unlabelled)
			msg += fmt.Sprintf(" (pods without it: %s)", strings.Join(unlabelled, ", "))
		}
		return nil, fmt.Errorf("%s: set classify.podLabel to a label the pods carry", msg)
	}
	if len(unlabelled) > 0 {
		slices.Sort(unlabelled)
		c.log.Warn("pods without the version label: their responses stay unclassified", "label", label, "pods", strings.Join(unlabelled, ", "))
	}
	return out, nil
}
