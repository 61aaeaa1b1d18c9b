package kind

import (
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
)

var _ env.Timer = (*Env)(nil)

// timings times the phases of Provision, one after the other: each lap ends
// the phase running since the previous lap (or since start).
type timings struct {
	last   time.Time
	phases []env.Timing
}

// start begins the first phase now.
func (t *timings) start() { t.last = time.Now() }

// lap ends the running phase as phase and begins the next.
func (t *timings) lap(phase string) {
	now := time.Now()
	t.phases = append(t.phases, env.Timing{Phase: phase, Duration: now.Sub(t.last)})
	t.last = now
}

// Timings implements env.Timer: how long the cluster (created or reused,
// until its nodes were ready), meshcheck's images (built and loaded) and
// Istio (istioctl found, installed, istiod and the gateway ready) took;
// nil after Close.
func (e *Env) Timings() []env.Timing {
	s := e.Session()
	if s == nil {
		return nil
	}
	return s.timings.phases
}

// The phases Provision times, then Setup (once per cluster, for scenarios
// with backend openfaas or knative).
const (
	phaseCluster = report.PhaseCluster
	phaseImages  = report.PhaseImages
	phaseIstio   = report.PhaseIstio
	// phaseRegistry started the in-cluster registry and pushed images to
	// it (registry.go).
	phaseRegistry = report.PhaseRegistry
	// phaseOpenFaaS installed OpenFaaS (the chart fetched, rendered,
	// applied and its Deployments ready).
	phaseOpenFaaS = report.PhaseOpenFaaS
	// phaseKnative installed Knative Serving and net-istio (the release
	// files applied and their Deployments ready; knative.go).
	phaseKnative = report.PhaseKnative
)
