//go:build apiserver

package existing

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/image"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestImagesFromRegistry pushes meshcheck's images to go-containerregistry's
// in-process registry and runs the hello scenario (fixture workloads, a
// probe from the mesh) with WithImageRegistry: the deployed workloads and
// the in-mesh agent name the registry's images pinned by the digests that
// were pushed.
func TestImagesFromRegistry(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	u, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	r := image.Remote{Registry: u.Host + "/mc"}
	pinned := map[string]string{}
	for _, s := range image.Defaults() {
		img, err := image.Assemble(s, image.Platform{OS: "linux", Arch: "amd64"}, []byte("binary of "+s.Name), []byte("certs"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Push(t.Context(), s, img)
		if err != nil {
			t.Fatal(err)
		}
		pinned[s.Name] = p.Pinned()
	}

	srv := apiservertest.Start(t)
	srv.RunWorkloads(t)
	installIstio(t, srv)
	waitAvailable(t, srv, "istiod")
	ctx := t.Context()
	e, err := connect(ctx, WithKubeconfig(srv.Kubeconfig), WithImageRegistry(r.Registry), WithForwarder(&fakeForwarder{}),
		WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })),
		WithReadyTimeout(30*time.Second), WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := scenario.Load("../../scenarios/hello")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Teardown(context.WithoutCancel(ctx)); err != nil {
			t.Error(err)
		}
	}()
	if err := e.Apply(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Steps[0].Probes {
		if p.From == mesh.Mesh {
			if _, err := e.Endpoint(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	pods, err := srv.Kube.CoreV1().Pods(s.SourceNamespace()).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var agent, fixtures int
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			switch {
			case c.Name == kube.SidecarName:
			case strings.HasPrefix(p.Name, kube.AgentName+"-"):
				agent++
				if c.Image != pinned["meshcheck"] {
					t.Errorf("agent pod %s runs %s, want %s", p.Name, c.Image, pinned["meshcheck"])
				}
			default:
				fixtures++
				if c.Image != pinned["fixture"] {
					t.Errorf("pod %s container %s runs %s, want %s", p.Name, c.Name, c.Image, pinned["fixture"])
				}
			}
		}
	}
	if agent != 1 || fixtures == 0 {
		t.Errorf("%d agent and %d fixture containers, want 1 and some", agent, fixtures)
	}
}
