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

// policy returns an AuthorizationPolicy document in namespace ns.
func policy(ns, name, spec string) string {
	return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec
}

// TestAccessTable holds each AuthorizationPolicy rule the model follows.
func TestAccessTable(t *testing.T) {
	const ctl, intr = "control", "intruder"
	type req struct {
		src          string // "control", "intruder", "" (no identity)
		plain        bool   // no mTLS
		method, path string
		host         string
		port         int
		headers      map[string]string
	}
	for _, tc := range []struct {
		name     string
		policies []string
		req      req
		allowed  bool
		policy   string
		unmod    bool
	}{
		{name: "no policy allows", req: req{src: intr}, allowed: true},
		{name: "empty ALLOW spec denies all",
			policies: []string{policy("thermo", "deny-all", "  {}")}, req: req{src: ctl}, allowed: false},
		{name: "ALLOW rules [{}] allows all",
			policies: []string{policy("thermo", "allow-all", "  rules: [{}]")}, req: req{src: intr}, allowed: true, policy: "thermo/allow-all"},
		{name: "ALLOW for another workload does not apply",
			policies: []string{policy("thermo", "other", "  selector: {matchLabels: {app: control}}")}, req: req{src: intr}, allowed: true},
		{name: "ALLOW in another namespace does not apply",
			policies: []string{policy("elsewhere", "x", "  {}")}, req: req{src: intr}, allowed: true},
		{name: "root namespace ALLOW applies mesh-wide",
			policies: []string{policy("istio-system", "mesh", "  {}")}, req: req{src: ctl}, allowed: false},
		{name: "root namespace selector matches in every namespace",
			policies: []string{policy("istio-system", "mesh", "  selector: {matchLabels: {app: thermostat}}")}, req: req{src: ctl}, allowed: false},
		{name: "principal exact",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: [cluster.local/ns/thermo/sa/control]}}]}]")},
			req:      req{src: ctl}, allowed: true, policy: "thermo/p"},
		{name: "principal prefix",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: [cluster.local/ns/thermo/*]}}]}]")},
			req:      req{src: intr}, allowed: true, policy: "thermo/p"},
		{name: "principal suffix",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: ['*/sa/control']}}]}]")},
			req:      req{src: intr}, allowed: false},
		{name: "principal * needs mTLS",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: ['*']}}]}]")},
			req:      req{src: ctl, plain: true}, allowed: false},
		{name: "principal * with mTLS",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: ['*']}}]}]")},
			req:      req{src: intr}, allowed: true, policy: "thermo/p"},
		{name: "notPrincipals excludes",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {notPrincipals: [cluster.local/ns/thermo/sa/default]}}]}]")},
			req:      req{src: intr}, allowed: false},
		{name: "notPrincipals matches plaintext",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {notPrincipals: [cluster.local/ns/thermo/sa/default]}}]}]")},
			req:      req{src: intr, plain: true}, allowed: true, policy: "thermo/p"},
		{name: "namespaces",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {namespaces: [thermo]}}]}]")},
			req:      req{src: intr}, allowed: true, policy: "thermo/p"},
		{name: "namespaces need mTLS",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {namespaces: [thermo]}}]}]")},
			req:      req{src: intr, plain: true}, allowed: false},
		{name: "namespace prefix",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {namespaces: ['th*']}}]}]")},
			req:      req{src: intr}, allowed: true, policy: "thermo/p"},
		{name: "notNamespaces",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {notNamespaces: [thermo]}}]}]")},
			req:      req{src: intr}, allowed: false},
		{name: "serviceAccounts short form uses the policy namespace",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {serviceAccounts: [control]}}]}]")},
			req:      req{src: ctl}, allowed: true, policy: "thermo/p"},
		{name: "serviceAccounts other",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {serviceAccounts: [thermo/control]}}]}]")},
			req:      req{src: intr}, allowed: false},
		{name: "source fields are ANDed",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: ['*'], notNamespaces: [thermo]}}]}]")},
			req:      req{src: ctl}, allowed: false},
		{name: "from entries are ORed",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {namespaces: [x]}}, {source: {principals: ['*control']}}]}]")},
			req:      req{src: ctl}, allowed: true, policy: "thermo/p"},
		{name: "methods exact",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {methods: [GET]}}]}]")},
			req:      req{method: "POST"}, allowed: false},
		{name: "methods default GET",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {methods: [GET]}}]}]")},
			req:      req{}, allowed: true, policy: "thermo/p"},
		{name: "notMethods",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {notMethods: [DELETE]}}]}]")},
			req:      req{method: "PUT"}, allowed: true, policy: "thermo/p"},
		{name: "paths exact ignores query",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {paths: [/temperature]}}]}]")},
			req:      req{path: "/temperature?unit=c"}, allowed: true, policy: "thermo/p"},
		{name: "paths prefix",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {paths: ['/api/*']}}]}]")},
			req:      req{path: "/api"}, allowed: false},
		{name: "paths suffix",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {paths: ['*.json']}}]}]")},
			req:      req{path: "/a/b.json"}, allowed: true, policy: "thermo/p"},
		{name: "notPaths",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {notPaths: ['/admin*']}}]}]")},
			req:      req{path: "/admin/x"}, allowed: false},
		{name: "paths template not modelled",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {paths: ['/a/{*}']}}]}]")},
			req:      req{path: "/a/b"}, allowed: false, unmod: true},
		{name: "dot segments are flagged",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {paths: ['/a']}}]}]")},
			req:      req{path: "/b/../a"}, allowed: false, unmod: true},
		{name: "hosts case-insensitive",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {hosts: [Thermostat.thermo]}}]}]")},
			req:      req{host: "thermostat.THERMO"}, allowed: true, policy: "thermo/p"},
		{name: "hosts with port as sent",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {hosts: [thermostat]}}]}]")},
			req:      req{host: "thermostat:8080"}, allowed: false},
		{name: "ports",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {ports: ['9090']}}]}]")},
			req:      req{}, allowed: false},
		{name: "notPorts",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {notPorts: ['9090']}}]}]")},
			req:      req{}, allowed: true, policy: "thermo/p"},
		{name: "operation fields ANDed",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {methods: [GET], paths: [/x]}}]}]")},
			req:      req{path: "/y"}, allowed: false},
		{name: "from and to ANDed",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {principals: ['*/sa/control']}}], to: [{operation: {methods: [GET]}}]}]")},
			req:      req{src: ctl, method: "POST"}, allowed: false},
		{name: "rules ORed",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {methods: [POST]}}]}, {to: [{operation: {methods: [GET]}}]}]")},
			req:      req{}, allowed: true, policy: "thermo/p"},
		{name: "when header",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: 'request.headers[X-Role]', values: ['admin*']}]}]")},
			req:      req{headers: map[string]string{"x-role": "admin-1"}}, allowed: true, policy: "thermo/p"},
		{name: "when header missing",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: 'request.headers[x-role]', values: ['*']}]}]")},
			req:      req{}, allowed: false},
		{name: "when header * matches empty value",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: 'request.headers[x-role]', values: ['*']}]}]")},
			req:      req{headers: map[string]string{"x-role": ""}}, allowed: true, policy: "thermo/p"},
		{name: "when notValues",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: 'request.headers[x-role]', notValues: [guest]}]}]")},
			req:      req{headers: map[string]string{"x-role": "guest"}}, allowed: false},
		{name: "when source.principal",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: source.principal, values: [cluster.local/ns/thermo/sa/control]}]}]")},
			req:      req{src: ctl}, allowed: true, policy: "thermo/p"},
		{name: "when source.namespace needs mTLS",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: source.namespace, values: [thermo]}]}]")},
			req:      req{src: ctl, plain: true}, allowed: false},
		{name: "when destination.port",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: destination.port, values: ['8080']}]}]")},
			req:      req{}, allowed: true, policy: "thermo/p"},
		{name: "when source.ip not modelled",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: source.ip, values: [10.0.0.1]}]}]")},
			req:      req{}, allowed: false, unmod: true},
		{name: "when with an unknown key is rejected",
			policies: []string{policy("thermo", "p", "  rules: [{when: [{key: foo.bar, values: [x]}]}]")},
			req:      req{}, allowed: true},
		{name: "DENY wins over ALLOW",
			policies: []string{
				policy("thermo", "allow", "  rules: [{}]"),
				policy("thermo", "deny", "  action: DENY\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]")},
			req: req{src: ctl, method: "DELETE"}, allowed: false, policy: "thermo/deny"},
		{name: "DENY not matching leaves default allow",
			policies: []string{policy("thermo", "deny", "  action: DENY\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]")},
			req:      req{}, allowed: true},
		{name: "DENY with rules [{}] denies all",
			policies: []string{policy("thermo", "deny", "  action: DENY\n  rules: [{}]")},
			req:      req{src: ctl}, allowed: false, policy: "thermo/deny"},
		{name: "DENY without rules is rejected",
			policies: []string{policy("thermo", "deny", "  action: DENY")},
			req:      req{}, allowed: true},
		{name: "root namespace DENY applies mesh-wide",
			policies: []string{policy("istio-system", "deny", "  action: DENY\n  rules: [{from: [{source: {notNamespaces: [thermo]}}]}]")},
			req:      req{src: ctl, plain: true}, allowed: false, policy: "istio-system/deny"},
		{name: "AUDIT never decides",
			policies: []string{policy("thermo", "audit", "  action: AUDIT\n  rules: [{}]")},
			req:      req{}, allowed: true},
		{name: "CUSTOM is reported",
			policies: []string{policy("thermo", "ext", "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]")},
			req:      req{}, allowed: true, unmod: true},
		{name: "dry-run is not enforced",
			policies: []string{strings.Replace(policy("thermo", "dry", "  {}"), "namespace: thermo}", "namespace: thermo, annotations: {istio.io/dry-run: 'true'}}", 1)},
			req:      req{}, allowed: true},
		{name: "targetRefs do not attach to sidecars",
			policies: []string{policy("thermo", "gw", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]")},
			req:      req{}, allowed: true},
		{name: "ipBlocks not modelled",
			policies: []string{policy("thermo", "p", "  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]")},
			req:      req{}, allowed: false, unmod: true},
		{name: "invalid port rejects the policy",
			policies: []string{policy("thermo", "p", "  rules: [{to: [{operation: {ports: [http]}}]}]")},
			req:      req{}, allowed: true},
		{name: "two ALLOW policies: either allows",
			policies: []string{
				policy("thermo", "a", "  rules: [{to: [{operation: {paths: [/a]}}]}]"),
				policy("thermo", "b", "  rules: [{to: [{operation: {paths: [/b]}}]}]")},
			req: req{path: "/b"}, allowed: true, policy: "thermo/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, append([]string{thermoDocs}, tc.policies...)...)
			m := New(cfg)
			r := AccessRequest{Destination: workload(t, cfg, "thermostat"), MTLS: !tc.req.plain, Port: 8080,
				Method: tc.req.method, Path: tc.req.path, Host: tc.req.host, Headers: tc.req.headers}
			if tc.req.src != "" {
				r.Source = workload(t, cfg, tc.req.src).Identity()
			}
			if tc.req.port != 0 {
				r.Port = tc.req.port
			}
			if r.Host == "" {
				r.Host = "thermostat.thermo.svc.cluster.local:8080"
			}
			got := m.Access(r)
			status := 0
			if !tc.allowed {
				status = 403
			}
			if got.Allowed != tc.allowed || got.Status != status || got.Policy != tc.policy || (got.Unmodelled != "") != tc.unmod {
				t.Errorf("Access = %+v\nwant allowed=%v policy=%q unmodelled=%v", got, tc.allowed, tc.policy, tc.unmod)
			}
			oneSentence(t, "reason", got.Reason)
		})
	}
}

func TestPeerAuthenticationMode(t *testing.T) {
	pa := func(ns, name, spec string) string {
		return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec
	}
	for _, tc := range []struct {
		name       string
		docs       []string
		port       int
		mode, from string
	}{
		{"mesh default", nil, 8080, "PERMISSIVE", ""},
		{"mesh-wide", []string{pa("istio-system", "default", "  mtls: {mode: STRICT}")}, 8080, "STRICT", "istio-system/default"},
		{"root selector ignored", []string{pa("istio-system", "sel", "  selector: {matchLabels: {app: thermostat}}\n  mtls: {mode: STRICT}")}, 8080, "PERMISSIVE", ""},
		{"namespace over mesh", []string{
			pa("istio-system", "default", "  mtls: {mode: STRICT}"),
			pa("thermo", "ns", "  mtls: {mode: DISABLE}")}, 8080, "DISABLE", "thermo/ns"},
		{"namespace UNSET inherits mesh", []string{
			pa("istio-system", "default", "  mtls: {mode: STRICT}"),
			pa("thermo", "ns", "  mtls: {}")}, 8080, "STRICT", "istio-system/default"},
		{"workload over namespace", []string{
			pa("thermo", "ns", "  mtls: {mode: STRICT}"),
			pa("thermo", "wl", "  selector: {matchLabels: {app: thermostat}}\n  mtls: {mode: PERMISSIVE}")}, 8080, "PERMISSIVE", "thermo/wl"},
		{"workload selector for another app", []string{
			pa("thermo", "wl", "  selector: {matchLabels: {app: control}}\n  mtls: {mode: STRICT}")}, 8080, "PERMISSIVE", ""},
		{"port level", []string{
			pa("thermo", "ns", "  mtls: {mode: STRICT}"),
			pa("thermo", "wl", "  selector: {matchLabels: {app: thermostat}}\n  portLevelMtls: {9090: {mode: DISABLE}}")}, 9090, "DISABLE", "thermo/wl"},
		{"port level other port inherits", []string{
			pa("thermo", "ns", "  mtls: {mode: STRICT}"),
			pa("thermo", "wl", "  selector: {matchLabels: {app: thermostat}}\n  portLevelMtls: {9090: {mode: DISABLE}}")}, 8080, "STRICT", "thermo/ns"},
		{"port level UNSET inherits workload", []string{
			pa("thermo", "wl", "  selector: {matchLabels: {app: thermostat}}\n  mtls: {mode: STRICT}\n  portLevelMtls: {9090: {mode: UNSET}}")}, 9090, "STRICT", "thermo/wl"},
		{"port level on namespace policy ignored", []string{
			pa("thermo", "ns", "  mtls: {mode: STRICT}\n  portLevelMtls: {9090: {mode: DISABLE}}")}, 9090, "STRICT", "thermo/ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, append([]string{thermoDocs}, tc.docs...)...)
			mode, from := New(cfg).PeerAuthenticationMode(workload(t, cfg, "thermostat"), tc.port)
			if mode != tc.mode || from != tc.from {
				t.Errorf("PeerAuthenticationMode = %s %q, want %s %q", mode, from, tc.mode, tc.from)
			}
		})
	}
}

// TestNewConfigSecurity: v1beta1 security objects are converted to v1, the
// namespace defaults, and ServiceAccount follows the pod spec.
func TestNewConfigSecurity(t *testing.T) {
	cfg := config(t, thermoDocs, `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: old}
spec: {action: DENY, rules: [{}]}`, `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: old, namespace: thermo}
spec: {mtls: {mode: STRICT}}`, `apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: thermo}
spec:
  serviceAccountName: bare-sa
  containers: [{name: app, image: x}]`)
	if len(cfg.AuthorizationPolicies) != 1 || cfg.AuthorizationPolicies[0].Namespace != "default" ||
		cfg.AuthorizationPolicies[0].APIVersion != "security.istio.io/v1" {
		t.Errorf("AuthorizationPolicies = %+v", cfg.AuthorizationPolicies)
	}
	if len(cfg.PeerAuthentications) != 1 || cfg.PeerAuthentications[0].Spec.GetMtls().GetMode().String() != "STRICT" {
		t.Errorf("PeerAuthentications = %+v", cfg.PeerAuthentications)
	}
	want := map[string]string{"thermostat": "thermostat", "control": "control", "intruder": "default"}
	for _, w := range cfg.Workloads {
		if w.Name == "bare" {
			if w.ServiceAccount != "bare-sa" {
				t.Errorf("pod ServiceAccount = %q", w.ServiceAccount)
			}
			continue
		}
		if w.ServiceAccount != want[w.Deployment] {
			t.Errorf("%s ServiceAccount = %q, want %q", w.Name, w.ServiceAccount, want[w.Deployment])
		}
	}
}

func TestAutoMTLS(t *testing.T) {
	cfg := config(t, thermoDocs, `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: off, namespace: thermo}
spec:
  selector: {matchLabels: {app: thermostat}}
  portLevelMtls: {9090: {mode: DISABLE}}`)
	m := New(cfg)
	th := workload(t, cfg, "thermostat")
	if !m.AutoMTLS(true, th, 8080) || m.AutoMTLS(true, th, 9090) || m.AutoMTLS(false, th, 8080) {
		t.Errorf("AutoMTLS: 8080 %v, 9090 (DISABLE) %v, no sidecar %v",
			m.AutoMTLS(true, th, 8080), m.AutoMTLS(true, th, 9090), m.AutoMTLS(false, th, 8080))
	}
}
