package authzgen

import (
	"reflect"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/mesh"
)

// TestGenerateDeterministic: the same seed gives the same configs, and
// config i does not depend on how many are generated.
func TestGenerateDeterministic(t *testing.T) {
	a, err := Generate(7, 20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(7, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if !reflect.DeepEqual(a[i].Requests, b[i].Requests) || a[i].String() != b[i].String() {
			t.Fatalf("config %d differs between corpus sizes", i)
		}
	}
	c, err := Generate(8, 20)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a[3].Requests, c[3].Requests) {
		t.Error("seeds 7 and 8 give the same config 3")
	}
}

// TestGeneratedConfigsAreModelled: every generated policy passes istiod's
// validation as the model checks it and uses only modelled fields, every
// answer explains itself, and the corpus exercises allow, RBAC deny and
// STRICT refusal, and every feature the generator names.
func TestGeneratedConfigsAreModelled(t *testing.T) {
	cfgs, err := Generate(1, 300)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[int]int{}
	features := map[string]int{}
	for _, c := range cfgs {
		cfg, err := mesh.NewConfig(c.Objects)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		m := mesh.New(cfg)
		for _, f := range m.Lint() {
			if f.Rejected || strings.Contains(f.Message, "not modelled") {
				t.Errorf("%s: %s %s: %s", c, f.Object, f.Field, f.Message)
			}
		}
		for _, f := range c.Features {
			features[f]++
		}
		for _, r := range c.Requests {
			a := m.Access(r)
			if a.Unmodelled != "" || a.Reason == "" {
				t.Fatalf("%s: %+v", c, a)
			}
			outcomes[a.Status]++
		}
	}
	for _, s := range []int{0, 403, 503} {
		if outcomes[s] == 0 {
			t.Errorf("no request gets status %d: %v", s, outcomes)
		}
	}
	for _, f := range []string{"principals", "notPrincipals", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts",
		"hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths", "when request.headers",
		"when source.principal", "when source.namespace", "when destination.port", "when notValues", "DENY", "ALLOW",
		"ALLOW {} (deny all)", "rules [{}]", "selector that misses", "namespace-wide", "PeerAuthentication portLevelMtls", "targetRefs", "dry-run"} {
		if features[f] == 0 {
			t.Errorf("no config has %s", f)
		}
	}
	t.Logf("outcomes %v", outcomes)
}
