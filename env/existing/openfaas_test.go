package existing

import (
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/scenario"
)

// TestDryRunOpenFaaSScenario: the plan says the scenario needs OpenFaaS,
// and its Functions' images come from the registry like the Deployments'.
func TestDryRunOpenFaaSScenario(t *testing.T) {
	o, err := New(WithImageRegistry("reg.example:5000/mc"))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := scenario.Load("../kube/testdata/openfaas")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := o.DryRun(&out, []*scenario.Scenario{s}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"# scenario fnsplit needs OpenFaaS installed (Service gateway in namespace openfaas); a run skips it otherwise\n",
		"function hello-v1 in namespace openfaas-fn: image reg.example:5000/mc/fixture:v0.1.0, labels app=hello,version=v1\n",
		`"image":"reg.example:5000/mc/fixture:v0.1.0"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "meshcheck.local/") {
		t.Errorf("dry run still names meshcheck.local images:\n%s", got)
	}
}
