package mesh

import (
	"math/rand/v2"
	"sort"
)

// Shares returns the expected share of requests per value of the pod label
// (e.g. "version": {"v1": 0.75, "v2": 0.25}) and the share Envoy answers
// itself with an error status (503 of an unavailable destination, or all of
// them when Status >= 400). Each destination gets Weight/(sum of weights) of
// the requests, split evenly across its pods; pods without the label count
// under "". A redirect or direct response (Status < 400) gives no version and
// no error share. The shares sum to at most 1.
func (r Resolution) Shares(label string) (versions map[string]float64, errorShare float64) {
	versions = map[string]float64{}
	if r.Status != 0 {
		if r.Status >= 400 {
			return versions, 1
		}
		return versions, 0
	}
	p := r.plan
	if p == nil || !samePlan(p, r.Destinations) {
		p = newPlan(r.Destinations)
	}
	prev := 0.0
	for i, s := range p.slots {
		share := p.cum[i] - prev
		prev = p.cum[i]
		if s.w == nil {
			errorShare += share
			continue
		}
		versions[s.w.Labels[label]] += share
	}
	return versions, errorShare
}

// Pick draws the outcome of one request: a destination with probability
// Weight/(sum of weights), then one of its pods uniformly (Envoy balances
// per request across the cluster's endpoints, even on a kept-alive
// connection). status is non-zero when Envoy answers itself (the
// Resolution's Status, or 503 for an unavailable destination); then w is
// the zero Workload. One random number per call; no allocation.
func (r Resolution) Pick(rnd *rand.Rand) (w Workload, status int) {
	if r.Status != 0 {
		return Workload{}, r.Status
	}
	p := r.plan
	if p == nil || !samePlan(p, r.Destinations) {
		p = newPlan(r.Destinations)
	}
	n := len(p.slots)
	if n == 0 {
		return Workload{}, 503
	}
	x := rnd.Float64()
	i := 0
	if n <= 8 {
		for i < n-1 && x >= p.cum[i] {
			i++
		}
	} else {
		i = sort.SearchFloat64s(p.cum, x)
		// SearchFloat64s finds cum[i] >= x; a draw equal to a boundary
		// belongs to the next slot.
		for i < n-1 && x >= p.cum[i] {
			i++
		}
	}
	s := p.slots[i]
	if s.w == nil {
		return Workload{}, s.status
	}
	return *s.w, 0
}

// samePlan reports whether a precomputed plan belongs to these
// destinations (a Resolution built or edited by hand has none).
func samePlan(p *plan, d []Destination) bool {
	return len(p.dests) == len(d) && (len(d) == 0 || &p.dests[0] == &d[0])
}
