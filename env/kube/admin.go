package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Envoy's admin interface in an Istio proxy (the sidecar, a gateway): port
// 15000, bound to the pod's loopback, so it is reached through a
// port-forward as `istioctl proxy-config` and `istioctl dashboard envoy` do
// (istioctl/pkg/util/handlers and pkg/kube portForwarder).
const (
	// ProxyAdminPort is the admin port of istio-proxy.
	ProxyAdminPort = 15000
	// RouteConfigDumpPath asks the admin interface for the dynamic route
	// configurations only (the resource parameter of /config_dump in
	// Envoy's administration interface documentation, operations/admin).
	RouteConfigDumpPath = "/config_dump?resource=dynamic_route_configs"
	// maxConfigDump bounds what is read of one config_dump.
	maxConfigDump = 64 << 20
)

// ProxyAdminGet port-forwards to the Envoy admin port of pod (namespace
// ns) with fw, GETs path there and returns the body; the tunnel is closed
// before it returns. A status other than 200 is an error with the start of
// the body.
func ProxyAdminGet(ctx context.Context, fw Forwarder, ns, pod, path string) ([]byte, error) {
	t, err := fw.Forward(ctx, ns, pod, ProxyAdminPort)
	if err != nil {
		return nil, fmt.Errorf("Envoy admin of %s/%s: %w", ns, pod, err)
	}
	defer t.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.Addr+path, nil)
	if err != nil {
		return nil, fmt.Errorf("Envoy admin of %s/%s: %w", ns, pod, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Envoy admin of %s/%s: GET %s: %w", ns, pod, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigDump+1))
	if err != nil {
		return nil, fmt.Errorf("Envoy admin of %s/%s: GET %s: %w", ns, pod, path, err)
	}
	if len(body) > maxConfigDump {
		return nil, fmt.Errorf("Envoy admin of %s/%s: GET %s: more than %d MiB", ns, pod, path, maxConfigDump>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Envoy admin of %s/%s: GET %s: %s: %.200s", ns, pod, path, resp.Status, body)
	}
	return body, nil
}
