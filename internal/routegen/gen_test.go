package routegen

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"

	"github.com/meshcheck/meshcheck/mesh"
)

func TestGenerateIsSeededAndPrefixStable(t *testing.T) {
	a, b := Generate(7, 30), Generate(7, 60)
	if !reflect.DeepEqual(a, b[:30]) {
		t.Fatal("the first 30 configs of a 60-config corpus differ from a 30-config corpus")
	}
	if reflect.DeepEqual(a, Generate(8, 30)) {
		t.Fatal("seeds 7 and 8 give the same corpus")
	}
}

// TestConfigsStayInTheirOwnNamespacesAndHosts: every object of config i is
// in c<i>a, c<i>b or istio-system, and every host it names belongs to it,
// so configs applied together cannot route each other's requests.
func TestConfigsStayInTheirOwnNamespacesAndHosts(t *testing.T) {
	features := map[string]bool{}
	for _, c := range Generate(1, 300) {
		own := "c" + strconv.Itoa(c.Index)
		for _, f := range c.Features {
			features[f] = true
		}
		for _, o := range c.Objects {
			m, err := apimeta.Accessor(o)
			if err != nil {
				t.Fatal(err)
			}
			if ns := m.GetNamespace(); ns != own+"a" && ns != own+"b" && ns != "istio-system" {
				t.Fatalf("%s: object %s in namespace %s", c, m.GetName(), ns)
			}
			var hosts []string
			switch x := o.(type) {
			case *networkingv1.VirtualService:
				hosts = x.Spec.GetHosts()
			case *networkingv1.Gateway:
				for _, s := range x.Spec.GetServers() {
					hosts = append(hosts, s.GetHosts()...)
				}
			}
			for _, h := range hosts {
				if !strings.Contains(h, "."+own+".test") && !strings.Contains(h, own+"a") && !strings.Contains(h, own+"b") && strings.Contains(h, ".") {
					t.Fatalf("%s: host %q may reach another config", c, h)
				}
			}
		}
		_, err := mesh.NewConfig(c.Objects)
		sidecar := strings.Contains(c.String(), "Sidecar egress hosts")
		if (err != nil) != sidecar {
			t.Fatalf("%s: the model reads it: %v; it refuses exactly the configs with a Sidecar", c, err)
		}
	}
	for _, f := range []string{"several VirtualServices", "wildcard host", "short host", "gateways omitted", "gateway ns/name",
		"ns/host server host", "prefix match", "exact match", "regex match", "header match", "weight 0", "undefined subset", "exportTo", "delegation", "Sidecar egress hosts"} {
		if !features[f] {
			t.Errorf("300 configs never have %q", f)
		}
	}
}
