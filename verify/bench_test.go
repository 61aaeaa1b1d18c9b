package verify

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkObserve measures the cost of one Observe (record and judge) on
// traffic that keeps the engine undecided: shares on the band edge, so every
// observation pays for a full evaluation. The engine is renewed every 20,000
// observations, outside the timer.
func BenchmarkObserve(b *testing.B) {
	cases := []struct {
		name, spec string
		shares     []float64
	}{
		{"2-versions", "v1=75,v2=25", []float64{0.7, 0.3}},
		{"3-versions", "v1=60,v2=30,v3=10", []float64{0.55, 0.35, 0.1}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			exp := expect(b, c.spec)
			rng := rand.New(rand.NewPCG(1, 2))
			obs := make([]Observation, 1<<16)
			for i := range obs {
				u, k := rng.Float64(), 0
				for k < len(c.shares)-1 && u >= c.shares[k] {
					u -= c.shares[k]
					k++
				}
				obs[i] = ok(exp.Weights[k].Version)
			}
			e := newEngine(b, exp)
			i := 0
			for b.Loop() {
				if e.Decided() || e.Requests() >= 20000 {
					b.StopTimer()
					e = newEngine(b, exp)
					b.StartTimer()
				}
				e.Observe(obs[i&(len(obs)-1)])
				i++
			}
		})
	}
}
