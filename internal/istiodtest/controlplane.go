package istiodtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

// ControlPlane is a kube-apiserver with istiod running against it, plus
// the ingress gateway's Service and pod (istio-system/istio-ingressgateway,
// as the default profile installs them).
type ControlPlane struct {
	// API is the API server istiod watches.
	API *apiservertest.Server

	istiod *istiod
	mapper *restmapper.DeferredDiscoveryRESTMapper

	mu      sync.Mutex
	applied map[objKey]applied // what Apply created, for pruning
	nextIP  netip.Addr
	fence   int
}

// Start starts a fresh kube-apiserver and istiod against it, creates the
// ingress gateway's Service and pod, and registers their shutdown with
// t.Cleanup. It fails the test when a binary is missing or either does
// not start.
func Start(t testing.TB) *ControlPlane {
	t.Helper()
	api := apiservertest.Start(t)
	c, err := start(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.istiod.stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return c
}

func start(ctx context.Context, api *apiservertest.Server) (*ControlPlane, error) {
	c := &ControlPlane{
		API:     api,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(api.Kube.Discovery())),
		applied: map[objKey]applied{},
		nextIP:  netip.MustParseAddr("10.128.0.1"),
	}
	if err := c.Apply(ctx, nil); err != nil {
		return nil, fmt.Errorf("create the ingress gateway: %w", err)
	}
	d, err := startIstiod(ctx, api.Kubeconfig)
	if err != nil {
		return nil, err
	}
	c.istiod = d
	return c, nil
}

// Read returns what istiod serves proxy p now.
func (c *ControlPlane) Read(ctx context.Context, p Proxy) (*Snapshot, error) {
	return read(ctx, c.istiod.grpcAddr, p)
}

// ConfigDump returns what istiod serves proxy p now as an Envoy admin
// config_dump JSON document (istiod's /debug/config_dump).
func (c *ControlPlane) ConfigDump(ctx context.Context, p Proxy) ([]byte, error) {
	return configDump(ctx, c.istiod.grpcAddr, c.istiod.httpAddr, p)
}

// Logs returns istiod's last lines of output.
func (c *ControlPlane) Logs() string { return c.istiod.logs.String() }

// applyTimeout bounds one Apply, its fence included.
const applyTimeout = 3 * time.Minute

// toUnstructured converts a typed object (with apiVersion and kind set) for
// the dynamic client.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy(), nil
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		return nil, errors.New("object has no apiVersion and kind")
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}
