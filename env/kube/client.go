package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Client reaches one cluster through a typed, a dynamic and a discovery
// client.
type Client struct {
	// Config is the REST configuration the clients were made from.
	Config *rest.Config
	// Kube is the typed client.
	Kube kubernetes.Interface
	// Dynamic is the dynamic client used for server-side apply.
	Dynamic dynamic.Interface

	mu     sync.Mutex
	mapper *restmapper.DeferredDiscoveryRESTMapper
	log    *slog.Logger
}

// NewClient makes the clients for cfg. A nil log discards.
func NewClient(cfg *rest.Config, log *slog.Logger) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("kube client: no REST config")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube discovery client: %w", err)
	}
	return &Client{
		Config:  cfg,
		Kube:    kube,
		Dynamic: dyn,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		log:     log,
	}, nil
}

// mapping returns the resource of kind gvk, refreshing the discovery cache
// once when the kind is unknown (CRDs may have been installed meanwhile).
func (c *Client) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("the cluster does not serve %s (is its CRD installed, e.g. Istio's?): %w", gvkString(gvk), err)
		}
		return nil, fmt.Errorf("look up the resource of %s: %w", gvkString(gvk), err)
	}
	return m, nil
}

// resource returns the dynamic client for objects of kind gvk in namespace
// ns (ignored for cluster-scoped kinds; "" lists all namespaces).
func (c *Client) resource(gvk schema.GroupVersionKind, ns string) (dynamic.ResourceInterface, bool, error) {
	m, err := c.mapping(gvk)
	if err != nil {
		return nil, false, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(ns), true, nil
	}
	return c.Dynamic.Resource(m.Resource), false, nil
}

// Exists reports whether the object obj names (kind, namespace, name)
// exists, whoever created it.
func (c *Client) Exists(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	ref := refOf(obj)
	res, _, err := c.resource(ref.GVK, ref.Namespace)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", ref, err)
	}
	_, err = res.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up %s: %w", ref, err)
	}
	return true, nil
}

func gvkString(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + " " + gvk.Kind
	}
	return gvk.Group + "/" + gvk.Version + " " + gvk.Kind
}

// Ref names one object.
type Ref struct {
	// GVK is the object's group, version and kind.
	GVK schema.GroupVersionKind
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	// Name is the object's name.
	Name string
}

// String returns "Kind ns/name" (or "Kind name").
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}
