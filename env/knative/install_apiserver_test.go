//go:build apiserver

package knative

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

// TestInstallAppliesRelease: on a real API server, a cluster without the
// release is ErrNotInstalled; Install applies the three files, labelled as
// the backend's, with config-network and config-deployment set, waits for
// the Deployments, and then the Service kind is served; installing again
// changes nothing.
func TestInstallAppliesRelease(t *testing.T) {
	s := apiservertest.Start(t)
	s.RunWorkloads(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := kube.NewClient(s.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckInstalled(s.Kube.Discovery()); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("CheckInstalled before the install = %v, want ErrNotInstalled", err)
	}
	m, err := LoadDir(writeRelease(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	opts := InstallOptions{ReadyTimeout: time.Minute, PollInterval: 20 * time.Millisecond, ImageRegistry: "meshcheck.local"}
	if err := Install(ctx, c, m, opts); err != nil {
		t.Fatalf("Install = %v", err)
	}
	if err := CheckInstalled(s.Kube.Discovery()); err != nil {
		t.Fatalf("CheckInstalled after the install = %v", err)
	}
	cm, err := s.Kube.CoreV1().ConfigMaps(Namespace).Get(ctx, ConfigNetwork, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data[KeyIngressClass] != IngressClassIstio || cm.Labels[kube.LabelScenario] != InstallLabel {
		t.Errorf("config-network data %v labels %v, want %s=%s and %s=%s", cm.Data, cm.Labels, KeyIngressClass, IngressClassIstio, kube.LabelScenario, InstallLabel)
	}
	cd, err := s.Kube.CoreV1().ConfigMaps(Namespace).Get(ctx, ConfigDeployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cd.Data[KeySkipTagResolving]; got != "kind.local,ko.local,dev.local,meshcheck.local" {
		t.Errorf("config-deployment %s = %q", KeySkipTagResolving, got)
	}
	for _, name := range []string{"controller", "net-istio-controller"} {
		dep, err := s.Kube.AppsV1().Deployments(Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dep.Labels[kube.LabelScenario] != InstallLabel || dep.Status.ReadyReplicas < 1 {
			t.Errorf("deployment %s labels %v, ready %d", name, dep.Labels, dep.Status.ReadyReplicas)
		}
	}
	before := cm.ResourceVersion
	m2, err := LoadDir(m.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Install(ctx, c, m2, opts); err != nil {
		t.Fatalf("second Install = %v", err)
	}
	cm, err = s.Kube.CoreV1().ConfigMaps(Namespace).Get(ctx, ConfigNetwork, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.ResourceVersion != before {
		t.Errorf("a second Install rewrote config-network (resourceVersion %s -> %s)", before, cm.ResourceVersion)
	}
}
