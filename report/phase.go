package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// The phases of Run.Phases that meshcheck verify times, in the order they
// happen: the environment's (a kind cluster created and its nodes ready,
// meshcheck's images built and loaded, Istio installed and ready; on kind,
// for scenarios with backend openfaas, the in-cluster registry started and
// pushed to and OpenFaaS installed, and for scenarios with backend knative,
// Knative Serving and net-istio installed), the
// scenarios' (namespaces and steps applied and ready, waits for the data
// plane to be programmed, the probes' settle phases and their judged
// requests), the environment closed, and the whole run.
const (
	PhaseCluster    = "cluster"
	PhaseImages     = "images"
	PhaseIstio      = "istio"
	PhaseRegistry   = "registry"
	PhaseOpenFaaS   = "openfaas"
	PhaseKnative    = "knative"
	PhaseDeploy     = "deploy"
	PhaseProgrammed = "programmed"
	PhaseSettle     = "settle"
	PhaseSampling   = "sampling"
	PhaseDown       = "down"
	PhaseTotal      = "total"
)

// Phase is how long one phase of a run took, summed over the scenarios
// and probes for the scenarios' phases.
type Phase struct {
	// Name is one of the Phase constants.
	Name string
	// Duration is the phase's wall-clock time.
	Duration time.Duration
}

// phaseJSON is the JSON form of a Phase: its duration in seconds.
type phaseJSON struct {
	Name            string  `json:"name"`
	DurationSeconds float64 `json:"durationSeconds"`
}

// MarshalJSON writes the phase with its duration in seconds.
func (p Phase) MarshalJSON() ([]byte, error) {
	return json.Marshal(phaseJSON{Name: p.Name, DurationSeconds: p.Duration.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Phase) UnmarshalJSON(b []byte) error {
	var j phaseJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = Phase{Name: j.Name, Duration: time.Duration(math.Round(j.DurationSeconds * 1e9))}
	return nil
}

// WritePhases writes the line of the run's phase times ("phases  cluster
// 1m2s, ..., total 4m10s"), nothing when it has none.
func WritePhases(w io.Writer, r Run) error {
	if len(r.Phases) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "%-13s%s\n", "phases", phasesText(r.Phases))
	return err
}

// phasesText is "cluster 1m2s, ..., total 4m10s", the phase times as every
// format shows them.
func phasesText(phases []Phase) string {
	parts := make([]string, len(phases))
	for i, p := range phases {
		parts[i] = p.Name + " " + p.Duration.Round(roundTo(p.Duration)).String()
	}
	return strings.Join(parts, ", ")
}

// roundTo is the precision a phase's time is shown with: milliseconds
// under a second, else tenths of a second.
func roundTo(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Millisecond
	}
	return 100 * time.Millisecond
}
