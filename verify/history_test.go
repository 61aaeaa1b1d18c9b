package verify

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// observeSplit feeds e up to max observations drawn from shares (one per
// version of exp, in order) until the verdict is decided.
func observeSplit(e *Engine, exp Expectation, shares []float64, max int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	for range max {
		u, k := rng.Float64(), 0
		for k < len(shares)-1 && u >= shares[k] {
			u -= shares[k]
			k++
		}
		if e.Observe(ok(exp.Weights[k].Version)) != Inconclusive {
			return
		}
	}
}

// checkHistory checks what every history holds: points in increasing
// request order, evenly spaced but for the last, each interval around its
// share, and the last point the line itself at the result's requests.
func checkHistory(t *testing.T, r Result, l Line) {
	t.Helper()
	h := l.History
	if len(h) == 0 || len(h) > MaxHistory {
		t.Fatalf("%s: %d points, want 1 to %d", l.Name, len(h), MaxHistory)
	}
	for i, p := range h {
		if p.Lower > p.Share || p.Share > p.Upper {
			t.Errorf("%s point %d: share %v outside [%v, %v]", l.Name, i, p.Share, p.Lower, p.Upper)
		}
		if i > 0 && p.Requests <= h[i-1].Requests {
			t.Errorf("%s point %d: %d requests after %d", l.Name, i, p.Requests, h[i-1].Requests)
		}
		if i > 1 && i < len(h)-1 && p.Requests-h[i-1].Requests != h[1].Requests-h[0].Requests {
			t.Errorf("%s point %d: spaced %d requests from the one before, the first two %d", l.Name, i,
				p.Requests-h[i-1].Requests, h[1].Requests-h[0].Requests)
		}
	}
	last := h[len(h)-1]
	if want := (Point{Requests: r.Requests, Share: l.Share, Lower: l.Lower, Upper: l.Upper}).rounded(); last != want {
		t.Errorf("%s: last point %+v, want the line at the stop %+v", l.Name, last, want)
	}
}

// TestHistoryNarrows: a probe decided after a few thousand requests keeps
// between MaxHistory/2 and MaxHistory evenly spaced looks plus the
// decision, and its interval narrows from the first look to the last.
func TestHistoryNarrows(t *testing.T) {
	exp := expect(t, "v1=75,v2=25")
	e := newEngine(t, exp)
	observeSplit(e, exp, []float64{0.75, 0.25}, 50000, 1)
	r := e.Result()
	if r.Verdict != Pass || r.Requests <= MaxHistory {
		t.Fatalf("verdict %v after %d requests, want a PASS after more than %d", r.Verdict, r.Requests, MaxHistory)
	}
	for _, l := range r.Lines {
		checkHistory(t, r, l)
		if n := len(l.History); n < MaxHistory/2 {
			t.Errorf("%s: %d points, want at least %d", l.Name, n, MaxHistory/2)
		}
		first, last := l.History[0], l.History[len(l.History)-1]
		if l.Kind == KindVersion && last.Upper-last.Lower >= first.Upper-first.Lower {
			t.Errorf("%s: interval did not narrow: first %+v, last %+v", l.Name, first, last)
		}
	}
}

// TestHistoryFail: on a failing line the last point is the FAIL mixture's
// interval, outside the band, as the line shows it.
func TestHistoryFail(t *testing.T) {
	exp := expect(t, "v1=75,v2=25")
	e := newEngine(t, exp)
	observeSplit(e, exp, []float64{0.6, 0.4}, 50000, 2)
	r := e.Result()
	if r.Verdict != Fail {
		t.Fatalf("verdict %v, want FAIL", r.Verdict)
	}
	for _, l := range r.Lines {
		checkHistory(t, r, l)
	}
	if v1 := lineNamed(t, r, "v1"); v1.History[len(v1.History)-1].Upper >= v1.BandLow {
		t.Errorf("v1's last interval %+v reaches its band from %v", v1.History[len(v1.History)-1], v1.BandLow)
	}
}

// TestHistoryBounded: an undecided probe of many requests keeps at most
// MaxHistory looks plus the latest observation, evenly spaced; a result
// asked for midway computes only the looks kept so far, and later ones
// still follow.
func TestHistoryBounded(t *testing.T) {
	exp := expect(t, "v1=75,v2=25")
	e := newEngine(t, exp)
	observeSplit(e, exp, []float64{0.7, 0.3}, 3001, 3)
	checkHistory(t, e.Result(), lineNamed(t, e.Result(), "v1"))
	observeSplit(e, exp, []float64{0.7, 0.3}, 20000, 4)
	r := e.Result()
	if r.Verdict != Inconclusive || r.Requests != 23001 {
		t.Fatalf("verdict %v after %d requests, want INCONCLUSIVE after 23,001 (shares on the band edge)", r.Verdict, r.Requests)
	}
	for _, l := range r.Lines {
		checkHistory(t, r, l)
		if n := len(l.History); n < MaxHistory/2 {
			t.Errorf("%s: %d points, want at least %d", l.Name, n, MaxHistory/2)
		}
	}
}

// TestHistoryLazy: looks are recorded as counts; no interval is computed
// before a result shows it.
func TestHistoryLazy(t *testing.T) {
	exp := expect(t, "v1=75,v2=25")
	e := newEngine(t, exp)
	observeSplit(e, exp, []float64{0.7, 0.3}, 5000, 5)
	if len(e.looks) < MaxHistory/2 {
		t.Fatalf("%d looks recorded after 5,000 requests", len(e.looks))
	}
	for _, lk := range e.looks {
		for _, ll := range lk.lines {
			if ll.point != nil {
				t.Fatalf("look at %d requests: interval computed before any result", lk.requests)
			}
		}
	}
}

// TestHistoryOfCounts: a judgement of counts is one look; no request, no
// history.
func TestHistoryOfCounts(t *testing.T) {
	r, err := JudgeCounts(expect(t, "v1=75,v2=25"), []Count{{Version: "v1", N: 750}, {Version: "v2", N: 250}, {Version: "v9", N: 1}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Lines {
		checkHistory(t, r, l)
		if len(l.History) != 1 {
			t.Errorf("%s: %d points, want the one look", l.Name, len(l.History))
		}
	}
	r, err = JudgeCounts(expect(t, "v1=75,v2=25"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Lines {
		if l.History != nil {
			t.Errorf("%s: history %+v without a request", l.Name, l.History)
		}
	}
}

// TestHistoryJSONRoundTrip: rounded points read back exactly, and a
// result's history is its own (changing it changes no later result).
func TestHistoryJSONRoundTrip(t *testing.T) {
	exp := expect(t, "v1=75,v2=25")
	e := newEngine(t, exp)
	observeSplit(e, exp, []float64{0.75, 0.25}, 50000, 6)
	r := e.Result()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip changed the history:\n%+v\n%+v", back.Lines[0].History, r.Lines[0].History)
	}
	r.Lines[0].History[0].Share = 2
	if again := e.Result(); again.Lines[0].History[0].Share == 2 {
		t.Error("changing a result's history changed the engine's")
	}
}
