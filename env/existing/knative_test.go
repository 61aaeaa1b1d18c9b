package existing

import (
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/scenario"
)

// TestDryRunKnativeScenario: the plan says the scenario needs Knative
// (the CRD it looks for) and shows its Knative Services as objects.
func TestDryRunKnativeScenario(t *testing.T) {
	o, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := scenario.Load("../../scenarios/hello-knative")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := o.DryRun(&out, []*scenario.Scenario{s}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"# scenario hello-knative needs Knative Serving with net-istio installed (CRD services.serving.knative.dev); a run skips it otherwise\n",
		"phase make: apply Service hello/hello-v1\napiVersion: serving.knative.dev/v1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks %q:\n%s", want, got)
		}
	}
}
