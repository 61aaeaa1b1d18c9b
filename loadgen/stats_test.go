package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverValues(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 40, math.MaxInt64}
	for range 10000 {
		values = append(values, rnd.Int64N(1<<uint(rnd.IntN(62)+1)))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if hi > lo && float64(hi-lo+1)/float64(lo) > 1.0/64+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/64 of its values", i, lo, hi)
		}
	}
}

// TestQuantiles checks the histogram's quantiles against exact ones on 100,000
// log-normal latencies (one seeded run): within the 1.6% bucket width.
func TestQuantiles(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var h histogram
	var all []float64
	for range 100000 {
		d := time.Duration(math.Exp(rnd.NormFloat64()*0.8 + math.Log(2e6))) // around 2ms
		h.add(d)
		all = append(all, float64(d))
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := float64(h.quantile(q))
		if math.Abs(got-exact)/exact > 0.016 {
			t.Errorf("p%v = %v, exact %v", q*100, time.Duration(got), time.Duration(exact))
		}
	}
	if got := h.quantile(1); float64(got) != all[len(all)-1] {
		t.Errorf("p100 = %v, max %v", got, time.Duration(all[len(all)-1]))
	}
}

func TestStatsBounded(t *testing.T) {
	var b statsBuilder
	t0 := time.Unix(1700000000, 0)
	for i := range 100000 {
		b.add(Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Latency: time.Millisecond, Status: 0,
			Error: fmt.Sprintf("dial tcp 127.0.0.1:%d: connection refused", i)})
		b.add(Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Latency: time.Millisecond, Status: 200,
			Unclassified: fmt.Sprintf("value %d not in the map", i), Body: "x"})
	}
	s := b.stats(StopDuration, 1000)
	if len(s.ErrorSamples) != maxSamples || len(s.UnclassifiedSamples) != maxSamples {
		t.Fatalf("samples: %d errors, %d unclassified; want %d each", len(s.ErrorSamples), len(s.UnclassifiedSamples), maxSamples)
	}
	if s.Errors != 100000 || s.Unclassified != 100000 || s.Requests != 200000 {
		t.Fatalf("counts: %+v", s)
	}
	if len(s.StatusCodes) != 2 || s.StatusCodes[0] != 100000 {
		t.Fatalf("status codes: %v", s.StatusCodes)
	}
	// 200,000 records sent over 99.999 s: (n-1)/span.
	if want := float64(199999) / 99.999; math.Abs(s.RateAchieved-want) > 0.01 {
		t.Fatalf("rate %v, want %v", s.RateAchieved, want)
	}
}

func TestStatsJSONRoundTrip(t *testing.T) {
	s := Stats{RateAsked: 200, RateAchieved: 199.5, Requests: 10, Ignored: 1, Started: time.Unix(1700000000, 0).UTC(),
		Duration: 1500 * time.Millisecond, Stopped: StopDecided, StatusCodes: map[int]int64{200: 9, 0: 1},
		Errors: 1, Latency: Latency{Mean: 1200 * time.Microsecond, P50: time.Millisecond, P90: 2 * time.Millisecond,
			P99: 3 * time.Millisecond, Max: 4 * time.Millisecond},
		ErrorSamples: []Sample{{Status: 0, Text: "refused", Count: 1}}, UnclassifiedSamples: []Sample{}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["rateAchieved"] != 199.5 || raw["durationSeconds"] != 1.5 || raw["latencyMs"].(map[string]any)["p99"] != 3.0 {
		t.Fatalf("JSON = %s", b)
	}
	var back Stats
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip:\n%s\n%s", b, b2)
	}
}
