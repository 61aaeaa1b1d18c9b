package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/mesh"
)

// Envoy's server header at the ingress gateway and on a sidecar's outbound
// answers.
const (
	ingressServer = "istio-envoy"
	sidecarServer = "envoy"
)

// Bodies of Envoy's own answers (its response code details for no route,
// and its local reply when no upstream can take the request).
const (
	bodyNoRoute    = "route_not_found"
	bodyNoUpstream = "no healthy upstream"
	bodyConnect    = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	// bodyReset is what a client's sidecar answers when the destination's
	// sidecar closes the connection (STRICT mTLS refusing plaintext).
	bodyReset = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
)

// hop is what the reverse proxy needs to know about one routed request.
type hop struct {
	target  string // host:port of the pod's server
	server  string // the server header to answer with
	ingress bool
	xfcc    string // the x-forwarded-client-cert the destination's sidecar sets, "" without mTLS
	start   time.Time
}

type hopKey struct{}

// serveIngress is the ingress gateway: every request is routed from the
// Ingress vantage, to port 80 of the gateway, and reaches its pod over mTLS
// with the gateway's identity.
func (e *Env) serveIngress(w http.ResponseWriter, r *http.Request) {
	e.route(w, r, mesh.Request{
		Vantage: mesh.Ingress,
		Host:    r.Host,
		Path:    r.URL.RequestURI(),
		Method:  r.Method,
		Headers: lowerHeaders(r.Header),
	}, mesh.IngressGateway.Identity(), ingressServer, true)
}

// meshHandler is the outbound sidecar of a client with identity id: an HTTP
// forward proxy that routes absolute-URI requests from the Mesh vantage in
// the client's namespace; they reach their pod over mTLS with id.
func (e *Env) meshHandler(id mesh.Identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			localReply(w, http.StatusMethodNotAllowed, sidecarServer,
				"CONNECT: the local environment's sidecar emulates plain HTTP only (send http:// URLs through it)")
			return
		}
		if !r.URL.IsAbs() || r.URL.Host == "" || r.URL.Scheme != "http" {
			localReply(w, http.StatusBadRequest, sidecarServer,
				"this is the local environment's sidecar emulation, an HTTP forward proxy: send absolute http:// requests through it (curl -x "+"http://"+r.Host+" http://service/path)")
			return
		}
		port := 80
		if p := r.URL.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				localReply(w, http.StatusBadRequest, sidecarServer, fmt.Sprintf("port %q: want 1 to 65535", p))
				return
			}
			port = n
		}
		e.route(w, r, mesh.Request{
			Vantage:         mesh.Mesh,
			Host:            r.Host,
			Port:            port,
			Path:            r.URL.RequestURI(),
			Method:          r.Method,
			Headers:         lowerHeaders(r.Header),
			SourceNamespace: id.Namespace,
		}, id, sidecarServer, false)
	})
}

// route resolves a request with the current routing model, picks a pod at
// random (per request, as Envoy does), asks the model whether the pod's
// inbound sidecar lets the request from src in, and proxies to it, or
// answers what Envoy would.
func (e *Env) route(w http.ResponseWriter, r *http.Request, req mesh.Request, src mesh.Identity, server string, ingress bool) {
	rt := e.routes.Load()
	if rt == nil {
		localReply(w, http.StatusServiceUnavailable, server, bodyNoUpstream)
		return
	}
	res := rt.model.Resolve(req)
	if res.Status != 0 {
		envoyReply(w, res.Status, server)
		return
	}
	rnd := e.rands.Get().(*rand.Rand)
	wl, status := res.Pick(rnd)
	e.rands.Put(rnd)
	if status != 0 {
		envoyReply(w, status, server)
		return
	}
	p := rt.pods[wl.Namespace+"/"+wl.Name]
	if p == nil {
		// The model names a pod the table lacks: not a state Apply leaves.
		localReply(w, http.StatusServiceUnavailable, server, bodyNoUpstream)
		return
	}
	start := time.Now()
	port := podPort(res, wl)
	// Every client here has a sidecar (the ingress gateway, the agent, the
	// pods), so Istio's auto mTLS makes the hop mTLS unless the
	// destination's PeerAuthentication disables it (mesh Model.AutoMTLS).
	mtls := rt.model.AutoMTLS(true, wl, port)
	acc := rt.model.Access(mesh.AccessRequest{
		Source: src, MTLS: mtls, Destination: wl, Port: port,
		Method: req.Method, Host: req.Host, Path: req.Path, Headers: req.Headers,
	})
	if !acc.Allowed {
		e.log.Debug("request denied by the destination's sidecar", "pod", wl.Namespace+"/"+wl.Name, "source", src.Principal(), "status", acc.Status, "reason", acc.Reason)
		deniedReply(w, acc.Status, server, start)
		return
	}
	h := &hop{target: p.srv.url.Host, server: server, ingress: ingress, start: start}
	if mtls {
		h.xfcc = xfcc(wl.Identity(), src)
	}
	e.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hopKey{}, h)))
}

// podPort is the pod port a request to workload wl reaches: that of the
// first destination of the resolution that lists wl (0 when none does or
// the model cannot resolve the Service's targetPort).
func podPort(res mesh.Resolution, wl mesh.Workload) int {
	for _, d := range res.Destinations {
		for _, x := range d.Workloads {
			if x.Namespace == wl.Namespace && x.Name == wl.Name {
				return d.Port
			}
		}
	}
	return 0
}

// deniedReply answers a request the destination's sidecar refuses, as the
// client sees it through its own proxy (which forwarded it, hence
// x-envoy-upstream-service-time): 403 with the RBAC filter's body
// "RBAC: access denied" (Envoy's
// extensions/filters/http/rbac/rbac_filter.cc local reply, content-type
// text/plain), or 503 with a reset when STRICT mTLS closes a plaintext
// connection.
func deniedReply(w http.ResponseWriter, status int, server string, start time.Time) {
	w.Header().Set("X-Envoy-Upstream-Service-Time", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	switch status {
	case http.StatusForbidden:
		localReply(w, status, server, mesh.RBACDeniedBody)
	default:
		localReply(w, http.StatusServiceUnavailable, server, bodyReset)
	}
}

// xfcc is the x-forwarded-client-cert header the destination's sidecar sets
// on an mTLS request
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert):
// By is the destination's own SPIFFE ID, URI the caller's, Subject empty
// (Istio's workload certificates have none), as Istio's inbound listeners
// set it (forward_client_cert_details APPEND_FORWARD with Subject, URI and
// DNS; the certificates carry no DNS SAN). Envoy's Hash is the SHA-256 of
// the caller's certificate; there is none here, so it is the SHA-256 of the
// caller's SPIFFE ID (emulated). The caller's own sidecar sanitises any
// x-forwarded-client-cert the application sent (the ingress gateway's
// SANITIZE_SET, a sidecar's outbound default SANITIZE), so the value is
// this one element.
func xfcc(dst, src mesh.Identity) string {
	sum := sha256.Sum256([]byte(src.SPIFFE()))
	return "By=" + dst.SPIFFE() + ";Hash=" + hex.EncodeToString(sum[:]) + `;Subject="";URI=` + src.SPIFFE()
}

// envoyReply answers a status Envoy gives itself.
func envoyReply(w http.ResponseWriter, status int, server string) {
	switch status {
	case http.StatusNotFound:
		localReply(w, status, server, bodyNoRoute)
	case http.StatusServiceUnavailable:
		localReply(w, status, server, bodyNoUpstream)
	default:
		localReply(w, status, server, http.StatusText(status))
	}
}

// localReply writes one of Envoy's own answers.
func localReply(w http.ResponseWriter, status int, server, body string) {
	h := w.Header()
	h.Set("Server", server)
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body)) // a client that left gets nothing either way
}

// newReverseProxy returns the proxy from the listeners to the pods. It
// keeps the request's Host (Envoy forwards the authority unchanged) and
// adds the headers Envoy adds.
func (e *Env) newReverseProxy() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			h := pr.In.Context().Value(hopKey{}).(*hop)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = h.target
			pr.Out.Host = pr.In.Host
			e.envoyRequestHeaders(pr, h)
		},
		Transport: e.upstream,
		ModifyResponse: func(resp *http.Response) error {
			h := resp.Request.Context().Value(hopKey{}).(*hop)
			resp.Header.Set("Server", h.server)
			resp.Header.Set("X-Envoy-Upstream-Service-Time", strconv.FormatInt(time.Since(h.start).Milliseconds(), 10))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client left; Envoy logs it and answers no one
			}
			h := r.Context().Value(hopKey{}).(*hop)
			e.log.Debug("upstream failed", "target", h.target, "error", err)
			localReply(w, http.StatusServiceUnavailable, h.server, bodyConnect)
		},
		ErrorLog: log.New(discard{}, "", 0),
	}
}

// envoyRequestHeaders adds what Envoy adds to a request it forwards
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers):
// a request id and B3 trace headers when absent, the attempt count, the
// forwarded protocol, at the edge the client's address, and over mTLS the
// client certificate details (xfcc).
func (e *Env) envoyRequestHeaders(pr *httputil.ProxyRequest, h *hop) {
	in, out := pr.In.Header, pr.Out.Header
	rnd := e.rands.Get().(*rand.Rand)
	defer e.rands.Put(rnd)
	if out.Get("X-Request-Id") == "" {
		out.Set("X-Request-Id", uuid(rnd))
	}
	if parent := out.Get("X-B3-Spanid"); parent != "" && out.Get("X-B3-Traceid") != "" {
		out.Set("X-B3-Parentspanid", parent)
	} else if out.Get("X-B3-Traceid") == "" {
		out.Set("X-B3-Traceid", hexID(rnd, 16))
	}
	out.Set("X-B3-Spanid", hexID(rnd, 8))
	if out.Get("X-B3-Sampled") == "" {
		out.Set("X-B3-Sampled", "0")
	}
	out.Set("X-Envoy-Attempt-Count", "1")
	out.Del("X-Forwarded-Client-Cert")
	if h.xfcc != "" {
		out.Set("X-Forwarded-Client-Cert", h.xfcc)
	}
	// httputil.ReverseProxy's Rewrite drops X-Forwarded-*; Envoy keeps
	// them, appending at the edge.
	proto := in.Get("X-Forwarded-Proto")
	if proto == "" {
		proto = "http"
	}
	out.Set("X-Forwarded-Proto", proto)
	xff := in.Values("X-Forwarded-For")
	if h.ingress {
		client := clientIP(pr.In.RemoteAddr)
		xff = append(xff, client)
		if internal(client) {
			out.Set("X-Envoy-Internal", "true")
		}
	}
	if len(xff) > 0 {
		out.Set("X-Forwarded-For", strings.Join(xff, ", "))
	}
}

// lowerHeaders returns the first value of every header by lower-case name,
// as the routing model reads them.
func lowerHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[strings.ToLower(k)] = v[0]
		}
	}
	return out
}

func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// internal is Envoy's notion of an internal address (RFC 1918, loopback,
// unique-local): requests from them get x-envoy-internal.
func internal(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate()
}

// hexID returns n random bytes in hex (B3 trace ids are 16 bytes, span ids
// 8).
func hexID(rnd *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return hex.EncodeToString(b)
}

// uuid returns a random (version 4) UUID, the form of Envoy's request ids.
func uuid(rnd *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// discard is an io.Writer for the reverse proxy's own log, whose errors
// the ErrorHandler reports instead.
type discard struct{}

// Write discards p.
func (discard) Write(p []byte) (int, error) { return len(p), nil }
