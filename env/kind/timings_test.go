package kind

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/meshcheck/meshcheck/docs"
	"github.com/meshcheck/meshcheck/report"
)

// TestProvisionTimesItsPhases: a provisioned environment reports the
// cluster, images and Istio phases, in that order, and none after Close.
func TestProvisionTimesItsPhases(t *testing.T) {
	pathWithIstioctl(t)
	w := newWorld()
	p, err := NewPlan(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Provision(context.Background(), p, w.deps())
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, w.logs)
	}
	e := &Env{session: s}
	var names []string
	for _, tm := range e.Timings() {
		if tm.Duration < 0 {
			t.Errorf("%s: negative duration %s", tm.Phase, tm.Duration)
		}
		names = append(names, tm.Phase)
	}
	if want := []string{report.PhaseCluster, report.PhaseImages, report.PhaseIstio}; len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Errorf("phases %q, want %q", names, want)
	}
	if err := e.Close(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if got := e.Timings(); got != nil {
		t.Errorf("after Close: %v, want none", got)
	}
}

// TestPhasesAreReportPhases: every phase the kind environment times is a
// phase name the report schema allows, so that a saved report of a kind
// run reads back (report.Decode validates against docs/report.schema.json).
func TestPhasesAreReportPhases(t *testing.T) {
	var schema struct {
		Properties struct {
			Phases struct {
				Items struct {
					Properties struct {
						Name struct {
							Enum []string `json:"enum"`
						} `json:"name"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"phases"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(docs.ReportSchema, &schema); err != nil {
		t.Fatal(err)
	}
	allowed := schema.Properties.Phases.Items.Properties.Name.Enum
	for _, p := range []string{phaseCluster, phaseImages, phaseIstio, phaseRegistry, phaseOpenFaaS, phaseKnative} {
		if !slices.Contains(allowed, p) {
			t.Errorf("phase %q is not among the report schema's phases %q", p, allowed)
		}
	}
}
