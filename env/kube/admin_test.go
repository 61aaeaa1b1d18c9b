package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// loopbackForwarder forwards every pod to one loopback server and counts
// the tunnels still open.
type loopbackForwarder struct {
	addr string

	mu      sync.Mutex
	open    int
	targets []string
}

func (f *loopbackForwarder) Forward(_ context.Context, ns, pod string, port int) (*Tunnel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open++
	f.targets = append(f.targets, ns+"/"+pod+":"+strconv.Itoa(port))
	return NewTunnel(f.addr, ns+"/"+pod, func() {
		f.mu.Lock()
		f.open--
		f.mu.Unlock()
	}), nil
}

// TestProxyAdminGet: a 200 body is returned, another status is an error
// with the start of the body, and the tunnel is closed either way.
func TestProxyAdminGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RequestURI() == RouteConfigDumpPath {
			_, _ = w.Write([]byte(`{"configs":[]}`))
			return
		}
		http.Error(w, "invalid path: "+r.URL.Path+strings.Repeat("x", 500), http.StatusNotFound)
	}))
	defer srv.Close()
	fw := &loopbackForwarder{addr: srv.Listener.Addr().String()}
	body, err := ProxyAdminGet(t.Context(), fw, "istio-system", "gw-a", RouteConfigDumpPath)
	if err != nil || string(body) != `{"configs":[]}` {
		t.Errorf("200: %q, %v", body, err)
	}
	_, err = ProxyAdminGet(t.Context(), fw, "echo", "agent", "/nope")
	if err == nil || !strings.Contains(err.Error(), "Envoy admin of echo/agent: GET /nope: 404 Not Found: invalid path: /nope") || len(err.Error()) > 320 {
		t.Errorf("404: %v; want the status and the start of the body", err)
	}
	if fw.open != 0 || strings.Join(fw.targets, " ") != "istio-system/gw-a:15000 echo/agent:15000" {
		t.Errorf("tunnels open %d, targets %q: want none open, each to the admin port", fw.open, fw.targets)
	}
}
