package openfaas

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env/kube"
)

// tunnels forwards every port-forward to addr and keeps the tunnels.
type tunnels struct {
	addr    string
	targets []string
	opened  []*kube.Tunnel
}

func (f *tunnels) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	if port != GatewayPort {
		return nil, errors.New("not the gateway's port")
	}
	f.targets = append(f.targets, ns+"/"+pod)
	t := kube.NewTunnel(f.addr, ns+"/"+pod, func() {})
	f.opened = append(f.opened, t)
	return t, nil
}

func gatewayCluster(password string, ready bool) *kubefake.Clientset {
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	return kubefake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: BasicAuthSecret, Namespace: Namespace},
			Data: map[string][]byte{"basic-auth-password": []byte(password)}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gateway-abc", Namespace: Namespace, Labels: map[string]string{"app": "gateway"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}}},
	)
}

func function(name, version string) *fnapi.Function {
	f := &fnapi.Function{}
	f.Name, f.Namespace = name, FunctionNamespace
	f.Spec = fnapi.FunctionSpec{Name: name, Image: "registry.example/fixture:1", Labels: map[string]string{"version": version}}
	return f
}

// TestFunctionsDeployReconnectTeardown: credentials from the Secret
// (user admin by default), a port-forward to the ready gateway pod, reopened
// once it has ended, and Teardown deleting what was deployed and not
// deleted since.
func TestFunctionsDeployReconnectTeardown(t *testing.T) {
	f := &fakeGateway{readyAfter: 0, fns: map[string][]byte{}, reads: map[string]int{}, fail: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	fw := &tunnels{addr: srv.Listener.Addr().String()}
	ctx := context.Background()
	c := &kube.Client{Kube: gatewayCluster("secret", true)}
	fns, err := Connect(ctx, c, fw, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	fns.gw.Poll = time.Millisecond
	if err := fns.Deploy(ctx, []*fnapi.Function{function("hello-v1", "v1"), function("hello-v2", "v2")}); err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	fw.opened[0].End(errors.New("lost connection to pod"))
	if err := fns.Delete(ctx, []*fnapi.Function{function("hello-v1", "v1")}); err != nil {
		t.Fatalf("Delete after the port-forward ended = %v", err)
	}
	if len(fw.targets) != 2 || fw.targets[1] != "openfaas/gateway-abc" {
		t.Errorf("port-forwards %v, want the gateway pod twice (reopened)", fw.targets)
	}
	if err := fns.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.fns) != 0 {
		t.Errorf("functions left after Teardown: %v", f.fns)
	}
	last := f.calls[len(f.calls)-2:]
	if last[0] != "DELETE /system/functions" || last[1] != "DELETE /system/functions" || strings.Count(strings.Join(f.calls, "\n"), "DELETE") != 2 {
		t.Errorf("calls %q: want hello-v1 deleted once, then hello-v2 on Teardown", f.calls)
	}
}

func TestConnectNamesWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	if _, err := Connect(ctx, &kube.Client{Kube: kubefake.NewClientset()}, &tunnels{}, 0, nil); err == nil || !strings.Contains(err.Error(), "Secret openfaas/basic-auth") {
		t.Errorf("Connect without the Secret = %v", err)
	}
	if _, err := Connect(ctx, &kube.Client{Kube: gatewayCluster("pw", false)}, &tunnels{}, 0, nil); err == nil || !strings.Contains(err.Error(), "no ready OpenFaaS gateway pod (label app=gateway) in namespace openfaas (1 pods)") {
		t.Errorf("Connect without a ready gateway pod = %v", err)
	}
	cs := kubefake.NewClientset()
	if err := CheckInstalled(ctx, cs); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "no Service gateway in namespace openfaas") {
		t.Errorf("CheckInstalled = %v", err)
	}
}

func TestCheckPublicImages(t *testing.T) {
	pub := function("hello-v1", "v1")
	local := function("hello-v2", "v2")
	local.Spec.Image = "meshcheck.local/fixture:v0.1.0"
	if err := CheckPublicImages([]*fnapi.Function{pub}); err != nil {
		t.Errorf("CheckPublicImages(registry image) = %v", err)
	}
	err := CheckPublicImages([]*fnapi.Function{pub, local})
	if err == nil || !strings.Contains(err.Error(), "function hello-v2's image meshcheck.local/fixture:v0.1.0") || !strings.Contains(err.Error(), "only allows public images") {
		t.Errorf("CheckPublicImages(local image) = %v, want the function, its image and CE's refusal named", err)
	}
}
