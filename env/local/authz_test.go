package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/mesh"
)

// sendWith sends one GET with extra request headers.
func sendWith(t *testing.T, c *http.Client, ep env.Endpoint, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ep.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Host != "" {
		req.Host = ep.Host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// wantDenied checks Envoy's RBAC answer as the client sees it.
func wantDenied(t *testing.T, what string, a answer, server string) {
	t.Helper()
	if a.status != http.StatusForbidden || string(a.body) != "RBAC: access denied" ||
		a.header.Get("Content-Type") != "text/plain" || a.header.Get("Server") != server ||
		a.header.Get("Content-Length") != "19" || a.header.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Errorf("%s: %d %q %v, want 403 %q, text/plain, server %s, x-envoy-upstream-service-time",
			what, a.status, a.body, a.header, "RBAC: access denied", server)
	}
}

// wantXFCC checks the x-forwarded-client-cert the echo saw.
func wantXFCC(t *testing.T, what string, a answer, dst, src mesh.Identity) {
	t.Helper()
	var echo echoAnswer
	if a.status != http.StatusOK || json.Unmarshal(a.body, &echo) != nil {
		t.Fatalf("%s: %d %s", what, a.status, a.body)
	}
	sum := sha256.Sum256([]byte(src.SPIFFE()))
	want := "By=" + dst.SPIFFE() + ";Hash=" + hex.EncodeToString(sum[:]) + `;Subject="";URI=` + src.SPIFFE()
	if got := echo.Headers["x-forwarded-client-cert"]; got != want {
		t.Errorf("%s: x-forwarded-client-cert %q, want %q", what, got, want)
	}
}

// The destination's sidecar enforces its AuthorizationPolicy on the
// caller's identity: the probe's ServiceAccount, the agent's, the ingress
// gateway's; allowed requests carry the XFCC of the mTLS hop, and without
// mTLS none.
func TestSidecarsEnforceAuthorizationPolicy(t *testing.T) {
	s := load(t, "testdata/authz")
	e := New()
	started(t, e, s, 0)
	ctx := context.Background()
	echoID := mesh.Identity{Namespace: "authz", ServiceAccount: "echo"}
	endpoint := func(step int, name string) env.Endpoint {
		ep, err := e.Endpoint(ctx, probe(s, step, name))
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}

	asClient := endpoint(0, "as-client")
	// The client's own x-forwarded-client-cert is sanitised by its sidecar.
	a := sendWith(t, client(asClient), asClient, http.Header{"X-Forwarded-Client-Cert": {"By=spiffe://forged"}})
	wantXFCC(t, "as client", a, echoID, mesh.Identity{Namespace: "authz", ServiceAccount: "client"})

	asAgent := endpoint(0, "as-agent")
	if asAgent.Via.String() == asClient.Via.String() {
		t.Errorf("the agent's and the client's probes share one sidecar %s: each identity has its own", asAgent.Via)
	}
	wantDenied(t, "as agent", send(t, client(asAgent), asAgent), "envoy")

	public := endpoint(0, "public")
	wantXFCC(t, "ingress /public", send(t, client(public), public), echoID, mesh.IngressGateway.Identity())
	private := endpoint(0, "private")
	wantDenied(t, "ingress /private", send(t, client(private), private), "istio-envoy")

	// Step 2: no policy, and PeerAuthentication DISABLE: plaintext, so no
	// client certificate details.
	if err := e.Apply(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	plain := endpoint(1, "as-client")
	a = send(t, client(plain), plain)
	var echo echoAnswer
	if a.status != http.StatusOK || json.Unmarshal(a.body, &echo) != nil {
		t.Fatalf("plaintext: %d %s", a.status, a.body)
	}
	if v, ok := echo.Headers["x-forwarded-client-cert"]; ok {
		t.Errorf("plaintext hop carries x-forwarded-client-cert %q", v)
	}
}

// Each pod calls through the outbound sidecar of its own identity: in
// tutorial 004, control's call to the thermostat passes its policy (control
// answers 200) while the same request from the agent gets 403.
func TestPodsCallWithTheirIdentity(t *testing.T) {
	s := load(t, "../../scenarios/thermo")
	e := New()
	started(t, e, s, 0)
	ctx := context.Background()
	ep, err := e.Endpoint(ctx, probe(s, 0, "control"))
	if err != nil {
		t.Fatal(err)
	}
	a := send(t, client(ep), ep)
	var rep struct {
		Action string `json:"action"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &rep) != nil || rep.Action == "" {
		t.Fatalf("control answered %d %s: want 200 with the thermostat's action", a.status, a.body)
	}
	denied, err := e.Endpoint(ctx, probe(s, 0, "thermostat-denied"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, denied.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client(denied).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("thermostat from the agent: %d, want 403", resp.StatusCode)
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	for _, id := range []mesh.Identity{
		{Namespace: "thermo", ServiceAccount: "control"},
		{Namespace: "thermo", ServiceAccount: "temp"},
		{Namespace: "thermo", ServiceAccount: "meshcheck-agent"},
	} {
		if e.proxies[id] == nil {
			t.Errorf("no outbound sidecar for %s", id.Principal())
		}
	}
}

func TestXFCCFormat(t *testing.T) {
	got := xfcc(mesh.Identity{Namespace: "thermo", ServiceAccount: "thermostat"}, mesh.Identity{Namespace: "thermo", ServiceAccount: "control"})
	re := regexp.MustCompile(`^By=spiffe://cluster\.local/ns/thermo/sa/thermostat;Hash=[0-9a-f]{64};Subject="";URI=spiffe://cluster\.local/ns/thermo/sa/control$`)
	if !re.MatchString(got) {
		t.Errorf("xfcc = %q, want %s", got, re)
	}
}
