//go:build controlplane

package istiodtest_test

import (
	"context"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	"google.golang.org/protobuf/encoding/protojson"
	apisecurity "istio.io/api/security/v1beta1"
	apitype "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/internal/istiodtest"
	"github.com/meshcheck/meshcheck/mesh"
)

// thermoObjects are tutorial 004's thermostat and its caller: Deployments
// running as ServiceAccounts thermostat and control, the thermostat's
// Service (port 80 to pod port 8080), and the AuthorizationPolicy that
// lets only control call the thermostat.
func thermoObjects() []runtime.Object {
	deploy := func(name string) *appsv1.Deployment {
		labels := map[string]string{"app": name}
		return &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "thermo"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{ServiceAccountName: name,
						Containers: []corev1.Container{{Name: "app", Image: "meshcheck.invalid/" + name}}},
				},
			},
		}
	}
	return []runtime.Object{
		deploy("thermostat"), deploy("control"),
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "thermostat", Namespace: "thermo"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "thermostat"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
		&securityv1.AuthorizationPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: "thermostat-control", Namespace: "thermo"},
			Spec: apisecurity.AuthorizationPolicy{
				Selector: &apitype.WorkloadSelector{MatchLabels: map[string]string{"app": "thermostat"}},
				Action:   apisecurity.AuthorizationPolicy_ALLOW,
				Rules: []*apisecurity.Rule{{From: []*apisecurity.Rule_From{{Source: &apisecurity.Source{
					Principals: []string{"cluster.local/ns/thermo/sa/control"}}}}}},
			},
		},
	}
}

// TestControlPlaneThermostatRBAC: istiod's inbound listener of the
// thermostat's sidecar carries an ALLOW RBAC filter whose policy admits
// exactly the control principal (an authenticated principal_name matcher on
// its SPIFFE ID), and the model's answers agree with that filter for
// control, another identity and plaintext. With a STRICT PeerAuthentication
// the listener keeps no plaintext filter chain for the port, as the model's
// 503 says. A DENY policy in the root namespace reaches the thermostat.
func TestControlPlaneThermostatRBAC(t *testing.T) {
	cp := istiodtest.Start(t)
	ctx := context.Background()
	objs := thermoObjects()
	if err := cp.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	cfg, err := mesh.NewConfig(objs)
	if err != nil {
		t.Fatal(err)
	}
	var thermostat, control mesh.Workload
	for _, w := range cfg.Workloads {
		switch w.Deployment {
		case "thermostat":
			thermostat = w
		case "control":
			control = w
		}
	}
	snap, err := cp.Read(ctx, cp.SidecarOf(thermostat))
	if err != nil {
		t.Fatal(err)
	}
	filters, ok, err := snap.InboundRBAC(8080, true)
	if err != nil || !ok {
		t.Fatalf("inbound mTLS chain for port 8080: ok=%v err=%v; listeners %v", ok, err, keys(snap.Listeners))
	}
	want := control.Identity().SPIFFE()
	if !allowsExactly(filters, want) {
		for _, f := range filters {
			b, _ := protojson.Marshal(f)
			t.Logf("RBAC filter: %s", b)
		}
		t.Fatalf("no ALLOW RBAC policy with the authenticated principal_name exact %s", want)
	}
	model := mesh.New(cfg)
	for _, tc := range []struct {
		name string
		req  mesh.AccessRequest
	}{
		{"control", mesh.AccessRequest{Source: control.Identity(), MTLS: true}},
		{"other identity", mesh.AccessRequest{Source: mesh.Identity{Namespace: "thermo", ServiceAccount: "default"}, MTLS: true}},
		{"plaintext", mesh.AccessRequest{}},
	} {
		tc.req.Destination, tc.req.Port, tc.req.Method, tc.req.Path, tc.req.Host = thermostat, 8080, "GET", "/temperature", "thermostat.thermo:80"
		got := model.Access(tc.req)
		fs, ok, err := snap.InboundRBAC(8080, tc.req.MTLS)
		if err != nil || !ok {
			t.Fatalf("%s: inbound chain: ok=%v err=%v", tc.name, ok, err)
		}
		allowed, _, err := istiodtest.EvalRBAC(fs, rbacRequest(tc.req))
		if err != nil {
			t.Fatal(err)
		}
		if allowed != got.Allowed || (tc.name == "control") != allowed {
			t.Errorf("%s: model %+v, istiod's RBAC allows=%v", tc.name, got, allowed)
		}
	}

	strict := &securityv1.PeerAuthentication{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "PeerAuthentication"},
		ObjectMeta: metav1.ObjectMeta{Name: "strict", Namespace: "thermo"},
		Spec:       apisecurity.PeerAuthentication{Mtls: &apisecurity.PeerAuthentication_MutualTLS{Mode: apisecurity.PeerAuthentication_MutualTLS_STRICT}},
	}
	objs = append(objs, strict)
	if err := cp.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	if snap, err = cp.Read(ctx, cp.SidecarOf(thermostat)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := snap.InboundRBAC(8080, false); err != nil || ok {
		t.Errorf("STRICT: a plaintext filter chain for port 8080 remains (ok=%v, err=%v)", ok, err)
	}
	if _, ok, err := snap.InboundRBAC(8080, true); err != nil || !ok {
		t.Errorf("STRICT: no mTLS filter chain for port 8080 (ok=%v, err=%v)", ok, err)
	}
	if cfg, err = mesh.NewConfig(objs); err != nil {
		t.Fatal(err)
	}
	got := mesh.New(cfg).Access(mesh.AccessRequest{Destination: thermostat, Port: 8080})
	if got.Status != 503 {
		t.Errorf("model under STRICT answers a plaintext request %+v, want 503", got)
	}

	// A DENY policy in the root namespace applies to every workload of the
	// mesh: it denies DELETE from outside namespace thermo, even to control.
	rootDeny := &securityv1.AuthorizationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "no-foreign-delete", Namespace: "istio-system"},
		Spec: apisecurity.AuthorizationPolicy{
			Action: apisecurity.AuthorizationPolicy_DENY,
			Rules: []*apisecurity.Rule{{
				From: []*apisecurity.Rule_From{{Source: &apisecurity.Source{NotNamespaces: []string{"thermo"}}}},
				To:   []*apisecurity.Rule_To{{Operation: &apisecurity.Operation{Methods: []string{"DELETE"}}}},
			}},
		},
	}
	objs = append(objs[:len(objs)-1], rootDeny)
	if err := cp.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	if cfg, err = mesh.NewConfig(objs); err != nil {
		t.Fatal(err)
	}
	model = mesh.New(cfg)
	if snap, err = cp.Read(ctx, cp.SidecarOf(thermostat)); err != nil {
		t.Fatal(err)
	}
	fs, ok, err := snap.InboundRBAC(8080, true)
	if err != nil || !ok {
		t.Fatalf("inbound mTLS chain for port 8080: ok=%v err=%v", ok, err)
	}
	for _, src := range []mesh.Identity{control.Identity(), {Namespace: "elsewhere", ServiceAccount: "control"}} {
		for _, m := range []string{"GET", "DELETE"} {
			req := mesh.AccessRequest{Source: src, MTLS: true, Destination: thermostat, Port: 8080, Method: m, Path: "/", Host: "thermostat"}
			got := model.Access(req)
			allowed, _, err := istiodtest.EvalRBAC(fs, rbacRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			if allowed != got.Allowed {
				t.Errorf("%s from %s: model %+v, istiod allows=%v", m, src.Principal(), got, allowed)
			}
			if wantDeny := m == "DELETE" && src.Namespace != "thermo"; wantDeny != (got.Policy == "istio-system/no-foreign-delete") {
				t.Errorf("%s from %s: model %+v", m, src.Principal(), got)
			}
		}
	}
}

// allowsExactly reports whether an enforced ALLOW filter has a policy whose
// principals name spiffe exactly through an authenticated matcher.
func allowsExactly(filters []*rbachttpv3.RBAC, spiffe string) bool {
	for _, f := range filters {
		if f.GetRules().GetAction() != rbacv3.RBAC_ALLOW {
			continue
		}
		for _, p := range f.GetRules().GetPolicies() {
			b, err := protojson.Marshal(p)
			if err == nil && strings.Contains(string(b), `"authenticated":{"principalName":{"exact":"`+spiffe+`"}}`) {
				return true
			}
		}
	}
	return false
}

// rbacRequest is what the destination's RBAC filter sees of an
// AccessRequest.
func rbacRequest(r mesh.AccessRequest) istiodtest.RBACRequest {
	out := istiodtest.RBACRequest{Port: r.Port, Method: r.Method, Authority: r.Host, Path: r.Path, Headers: r.Headers}
	if r.MTLS {
		out.PeerURISAN = r.Source.SPIFFE()
	}
	if out.Method == "" {
		out.Method = "GET"
	}
	if out.Path == "" {
		out.Path = "/"
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
