package kind

import (
	"context"
	"testing"

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
