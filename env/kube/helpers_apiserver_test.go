//go:build apiserver

package kube

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

// journal records, in order, the writes a Deployer sends to the API server
// ("PATCH virtualservices shift/echo-route", "DELETE deployments ...") and
// the propagation waits between phases ("propagate route").
type journal struct {
	mu     sync.Mutex
	events []string
	bodies map[int][]byte
}

func (j *journal) add(e string, body []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if body != nil {
		if j.bodies == nil {
			j.bodies = map[int][]byte{}
		}
		j.bodies[len(j.events)] = body
	}
	j.events = append(j.events, e)
}

// take returns the events so far and starts afresh.
func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.events
	j.events, j.bodies = nil, nil
	return out
}

// body returns the request body of the first event equal to e.
func (j *journal) body(e string) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	i := slices.Index(j.events, e)
	if i < 0 {
		return nil
	}
	return j.bodies[i]
}

type recorder struct {
	next http.RoundTripper
	j    *journal
}

// RoundTrip records writes as "<METHOD> <resource> <namespace>/<name>".
func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPatch, http.MethodDelete, http.MethodPost, http.MethodPut:
		var body []byte
		if req.Body != nil && req.Method == http.MethodPatch {
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			req.Body.Close()
			body = b
			req.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		r.j.add(req.Method+" "+describe(req.URL.Path), body)
	}
	return r.next.RoundTrip(req)
}

// describe turns /apis/g/v/namespaces/ns/resource/name into
// "resource ns/name".
func describe(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if i := slices.Index(parts, "namespaces"); i >= 0 && len(parts) >= i+4 {
		return parts[i+2] + " " + parts[i+1] + "/" + parts[i+3]
	}
	if len(parts) >= 2 {
		return parts[len(parts)-2] + " " + parts[len(parts)-1]
	}
	return path
}

// newDeployer returns a Deployer of scenario on the server whose writes and
// propagation waits go to j (when not nil); it waits on nothing but the API.
func newDeployer(t *testing.T, s *apiservertest.Server, scenario string, j *journal) *Deployer {
	t.Helper()
	cfg := rest.CopyConfig(s.Config)
	if j != nil {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return recorder{next: rt, j: j} })
	}
	c, err := NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDeployer(c, Options{
		Scenario: scenario,
		Propagation: PropagatorFunc(func(_ context.Context, phase Phase, changed []Ref) error {
			if j != nil {
				j.add("propagate "+string(phase), nil)
			}
			return nil
		}),
		ReadyTimeout: 30 * time.Second,
		PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createNamespace creates a namespace that meshcheck did not create.
func createNamespace(t *testing.T, s *apiservertest.Server, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := s.Kube.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// snapshot maps "Kind ns/name" to resourceVersion for every object of the
// given kinds in the cluster, labelled or not.
func snapshot(t *testing.T, d *Deployer, kinds []schema.GroupVersionKind) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, gvk := range kinds {
		res, _, err := d.c.resource(gvk, "")
		if err != nil {
			t.Fatal(err)
		}
		list, err := res.List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			out[Ref{GVK: gvk, Namespace: o.GetNamespace(), Name: o.GetName()}.String()] = o.GetResourceVersion()
		}
	}
	return out
}

// live reads one object, failing the test if it is absent.
func live(t *testing.T, d *Deployer, gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	res, _, err := d.c.resource(gvk, ns)
	if err != nil {
		t.Fatal(err)
	}
	o, err := res.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvk.Kind, ns, name, err)
	}
	return o
}

// indexOf returns the position of the first event starting with prefix
// at or after from, failing the test when there is none.
func indexOf(t *testing.T, events []string, prefix string, from int) int {
	t.Helper()
	for i := from; i < len(events); i++ {
		if strings.HasPrefix(events[i], prefix) {
			return i
		}
	}
	t.Fatalf("no event %q after position %d in %q", prefix, from, events)
	return -1
}

var (
	gvkNamespace = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	gvkService   = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	gvkConfigMap = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	gvkDeploy    = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvkVS        = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	gvkDR        = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}
	gvkGateway   = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"}
)

var schemaSA = schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}

// runtimeFromUnstructured converts obj into the typed out.
func runtimeFromUnstructured(obj *unstructured.Unstructured, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out)
}
