package scenario

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPercents(t *testing.T) {
	for _, c := range []struct {
		shares map[string]float64
		want   string
	}{
		{map[string]float64{"v1": 0.75, "v2": 0.25}, "v1=75,v2=25"},
		{map[string]float64{"a": 1.0 / 3, "b": 1.0 / 3, "c": 1.0 / 3}, "a=34,b=33,c=33"},
		{map[string]float64{"v1": 1.0 / 3, "v2": 2.0 / 3}, "v1=33,v2=67"},
		{map[string]float64{"v1": 0.5, "v2": 0.25}, "v1=67,v2=33"}, // normalised: 25% errors left out
		{map[string]float64{"v1": 1}, "v1=100"},
		{map[string]float64{"v1": 0.005, "v2": 0.995}, "v1=1,v2=99"},
		{map[string]float64{}, ""},
		{map[string]float64{"v1": 0}, ""},
	} {
		var parts []string
		for _, w := range percents(c.shares) {
			parts = append(parts, fmt.Sprintf("%s=%d", w.Version, w.Percent))
		}
		if got := strings.Join(parts, ","); got != c.want {
			t.Errorf("percents(%v) = %s, want %s", c.shares, got, c.want)
		}
	}
	// Property, over 10,000 seeded random splits of 1 to 6 versions: the
	// percents sum to 100 and each is its exact share rounded down or up.
	rnd := rand.New(rand.NewPCG(7, 11))
	for range 10000 {
		shares := map[string]float64{}
		total := 0.0
		for i := range 1 + rnd.IntN(6) {
			x := rnd.Float64()
			shares[fmt.Sprintf("v%d", i)] = x
			total += x
		}
		sum := 0
		for _, w := range percents(shares) {
			sum += w.Percent
			exact := 100 * shares[w.Version] / total
			if float64(w.Percent) < exact-1 || float64(w.Percent) > exact+1 {
				t.Fatalf("percents(%v): %s=%d, exact %.3f", shares, w.Version, w.Percent, exact)
			}
		}
		if sum != 100 {
			t.Fatalf("percents(%v) sums to %d", shares, sum)
		}
	}
}
