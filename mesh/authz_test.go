package mesh

import (
	"strings"
	"testing"
)

// thermoDocs is tutorial 004's thermostat: a Deployment running as
// ServiceAccount thermostat, a control client and an intruder.
const thermoDocs = `apiVersion: apps/v1
kind: Deployment
metadata: {name: thermostat, namespace: thermo}
spec:
  selector: {matchLabels: {app: thermostat}}
  template:
    metadata: {labels: {app: thermostat}}
    spec:
      serviceAccountName: thermostat
      containers: [{name: app, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: control, namespace: thermo}
spec:
  selector: {matchLabels: {app: control}}
  template:
    metadata: {labels: {app: control}}
    spec:
      serviceAccountName: control
      containers: [{name: app, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: intruder, namespace: thermo}
spec:
  selector: {matchLabels: {app: intruder}}
  template:
    metadata: {labels: {app: intruder}}
    spec:
      containers: [{name: app, image: x}]`

const thermoAllowControl = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: thermostat-control, namespace: thermo}
spec:
  selector: {matchLabels: {app: thermostat}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/thermo/sa/control"]}`

// workload returns the model's first workload of a Deployment.
func workload(t testing.TB, cfg Config, deployment string) Workload {
	t.Helper()
	for _, w := range cfg.Workloads {
		if w.Deployment == deployment {
			return w
		}
	}
	t.Fatalf("no workload of Deployment %s", deployment)
	return Workload{}
}

func TestIdentity(t *testing.T) {
	cfg := config(t, thermoDocs)
	if got := workload(t, cfg, "control").Identity().Principal(); got != "cluster.local/ns/thermo/sa/control" {
		t.Errorf("control principal = %q", got)
	}
	if got := workload(t, cfg, "intruder").Identity().SPIFFE(); got != "spiffe://cluster.local/ns/thermo/sa/default" {
		t.Errorf("intruder SPIFFE = %q (empty serviceAccountName is default)", got)
	}
	if got := (Identity{}).Principal(); got != "" {
		t.Errorf("zero identity principal = %q", got)
	}
}

func TestAccessThermostat(t *testing.T) {
	cfg := config(t, thermoDocs, thermoAllowControl)
	m := New(cfg)
	thermostat := workload(t, cfg, "thermostat")
	control := workload(t, cfg, "control").Identity()
	intruder := workload(t, cfg, "intruder").Identity()
	for _, tc := range []struct {
		name    string
		req     AccessRequest
		allowed bool
		status  int
		policy  string
	}{
		{"control over mTLS", AccessRequest{Source: control, MTLS: true}, true, 0, "thermo/thermostat-control"},
		{"intruder over mTLS", AccessRequest{Source: intruder, MTLS: true}, false, 403, ""},
		{"control without mTLS", AccessRequest{Source: control}, false, 403, ""},
		{"no sidecar", AccessRequest{}, false, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Destination, tc.req.Port, tc.req.Path = thermostat, 8080, "/temperature"
			got := m.Access(tc.req)
			if got.Allowed != tc.allowed || got.Status != tc.status || got.Policy != tc.policy || got.Unmodelled != "" {
				t.Errorf("Access = %+v, want allowed=%v status=%d policy=%q", got, tc.allowed, tc.status, tc.policy)
			}
			oneSentence(t, "reason", got.Reason)
		})
	}
	if got := m.Access(AccessRequest{Destination: workload(t, cfg, "control"), Port: 8080}); !got.Allowed {
		t.Errorf("control has no policy and must allow: %+v", got)
	}
}

func TestPeerAuthenticationStrictRefusesPlaintext(t *testing.T) {
	cfg := config(t, thermoDocs, `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: strict, namespace: thermo}
spec:
  mtls: {mode: STRICT}`)
	m := New(cfg)
	th := workload(t, cfg, "thermostat")
	if mode, p := m.PeerAuthenticationMode(th, 8080); mode != "STRICT" || p != "thermo/strict" {
		t.Fatalf("mode = %s %s", mode, p)
	}
	got := m.Access(AccessRequest{Destination: th, Port: 8080})
	if got.Allowed || got.Status != 503 || !strings.Contains(got.Reason, "STRICT") {
		t.Errorf("plaintext under STRICT: %+v", got)
	}
}

// config builds a Config from YAML documents.
func config(t testing.TB, docs ...string) Config {
	t.Helper()
	cfg, err := NewConfig(decode(t, strings.Join(docs, "\n---\n")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
