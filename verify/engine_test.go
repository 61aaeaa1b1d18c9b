package verify

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// expect builds an Expectation from defaults and a weights spec.
func expect(t testing.TB, spec string) Expectation {
	t.Helper()
	ws, err := ParseWeights(spec)
	if err != nil {
		t.Fatalf("ParseWeights(%q): %v", spec, err)
	}
	e := Defaults()
	e.Weights = ws
	return e
}

func newEngine(t testing.TB, exp Expectation) *Engine {
	t.Helper()
	e, err := New(exp)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func ok(version string) Observation { return Observation{Status: 200, Version: version} }

func lineNamed(t *testing.T, r Result, name string) Line {
	t.Helper()
	for _, l := range r.Lines {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no line %q in %+v", name, r.Lines)
	return Line{}
}

func TestWeightZeroFailsAtOnce(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25,v3=0"))
	for range 10 {
		if v := e.Observe(ok("v1")); v != Inconclusive {
			t.Fatalf("verdict %v after v1 responses, want INCONCLUSIVE", v)
		}
	}
	if v := e.Observe(ok("v3")); v != Fail {
		t.Fatalf("verdict after one v3 response = %v, want FAIL", v)
	}
	r := e.Result()
	l := lineNamed(t, r, "v3")
	if l.State != Fail || l.Count != 1 || l.Reason != "v3: 1 response, expected none (weight 0)" {
		t.Errorf("v3 line = %+v", l)
	}
	if got := r.Failures(); len(got) != 1 || got[0] != l.Reason {
		t.Errorf("Failures() = %q, want only the v3 reason", got)
	}
}

func TestUnexpectedVersionBudget(t *testing.T) {
	t.Run("budget 0 fails on the first", func(t *testing.T) {
		e := newEngine(t, expect(t, "v1=50,v2=50"))
		e.Observe(ok("v1"))
		if v := e.Observe(ok("canary")); v != Fail {
			t.Fatalf("verdict = %v, want FAIL", v)
		}
		l := lineNamed(t, e.Result(), "canary")
		want := "canary: 1 response from a version the expectation does not name (1 from such versions in all, 0 allowed)"
		if l.Kind != KindUnexpected || l.Reason != want {
			t.Errorf("line = %+v, want reason %q", l, want)
		}
	})
	t.Run("budget shared by all unexpected versions", func(t *testing.T) {
		exp := expect(t, "v1=50,v2=50")
		exp.UnexpectedBudget = 2
		e := newEngine(t, exp)
		e.Observe(ok("a"))
		if v := e.Observe(ok("b")); v != Inconclusive {
			t.Fatalf("verdict after 2 unexpected with budget 2 = %v, want INCONCLUSIVE", v)
		}
		if v := e.Observe(ok("a")); v != Fail {
			t.Fatalf("verdict after 3 unexpected with budget 2 = %v, want FAIL", v)
		}
		r := e.Result()
		if la, lb := lineNamed(t, r, "a"), lineNamed(t, r, "b"); la.Count != 2 || lb.Count != 1 || la.State != Fail || lb.State != Fail {
			t.Errorf("lines a=%+v b=%+v", la, lb)
		}
	})
	t.Run("within budget the run can pass", func(t *testing.T) {
		exp := expect(t, "v1=50,v2=50")
		exp.UnexpectedBudget = 5
		e := newEngine(t, exp)
		e.Record(ok("old"), 5)
		e.Record(ok("v1"), 10000)
		e.Record(ok("v2"), 10000)
		if v := e.Evaluate(); v != Pass {
			t.Fatalf("verdict = %v, want PASS (%+v)", v, e.Result().Lines)
		}
		if l := lineNamed(t, e.Result(), "old"); l.State != Pass || l.Of != 20005 {
			t.Errorf("unexpected line = %+v", l)
		}
	})
}

func TestErrorBudgetZero(t *testing.T) {
	for name, o := range map[string]Observation{
		"transport":    {Status: 0},
		"bad status":   {Status: 503, Version: "v1"},
		"unclassified": {Status: 200},
	} {
		t.Run(name, func(t *testing.T) {
			exp := expect(t, "v1=75,v2=25")
			exp.ErrorBudget = 0
			e := newEngine(t, exp)
			e.Observe(ok("v1"))
			if v := e.Observe(o); v != Fail {
				t.Fatalf("verdict = %v, want FAIL", v)
			}
			r := e.Result()
			l := lineNamed(t, r, "errors")
			if want := "errors: 1 of 2 requests failed, expected none (error budget 0)"; l.Reason != want {
				t.Errorf("reason = %q, want %q", l.Reason, want)
			}
			if total := r.Errors.Transport + r.Errors.BadStatus + r.Errors.Unclassified; total != 1 {
				t.Errorf("error counts = %+v, want one error", r.Errors)
			}
		})
	}
}

func TestErrorsNeverCountAsVersions(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	e.Record(ok("v1"), 75)
	e.Record(ok("v2"), 25)
	e.Record(Observation{Status: 502, Version: "v2"}, 3)
	e.Record(Observation{Status: 0}, 2)
	e.Record(Observation{Status: 200}, 1)
	r := e.Result()
	if l := lineNamed(t, r, "v2"); l.Count != 25 || l.Of != 100 {
		t.Errorf("v2 line = %+v, want 25 of 100", l)
	}
	if l := lineNamed(t, r, "errors"); l.Count != 6 || l.Of != 106 {
		t.Errorf("errors line = %+v, want 6 of 106", l)
	}
	if want := (ErrorCounts{Transport: 2, BadStatus: 3, Unclassified: 1}); r.Errors != want {
		t.Errorf("errors = %+v, want %+v", r.Errors, want)
	}
}

func TestErrorsOverBudgetFail(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	e.Record(ok("v1"), 1500)
	e.Record(ok("v2"), 500)
	e.Record(Observation{Status: 503, Version: "v1"}, 200)
	if v := e.Evaluate(); v != Fail {
		t.Fatalf("verdict = %v, want FAIL", v)
	}
	l := lineNamed(t, e.Result(), "errors")
	if l.State != Fail || !strings.HasPrefix(l.Reason, "errors: 9.1% [") || !strings.HasSuffix(l.Reason, "] of 2,200 requests, budget 1%") {
		t.Errorf("errors line = %+v", l)
	}
}

func TestStatusMode(t *testing.T) {
	status := func() Expectation {
		exp := Defaults()
		exp.Status = 403
		return exp
	}
	t.Run("all 403 passes", func(t *testing.T) {
		e := newEngine(t, status())
		var v Verdict
		for v == Inconclusive && e.Requests() < 5000 {
			v = e.Observe(Observation{Status: 403})
		}
		if v != Pass {
			t.Fatalf("verdict after %d responses of 403 = %v, want PASS", e.Requests(), v)
		}
		l := lineNamed(t, e.Result(), "status 403")
		if l.Kind != KindStatus || l.Expected != 1 || l.BandLow != 0.95 || l.BandHigh != 1 || l.Lower <= 0.95 {
			t.Errorf("status line = %+v", l)
		}
	})
	t.Run("200s count against the share", func(t *testing.T) {
		e := newEngine(t, status())
		e.Record(Observation{Status: 403}, 950)
		e.Record(Observation{Status: 200, Version: "v1"}, 50)
		r := e.Result()
		l := lineNamed(t, r, "status 403")
		if l.Count != 950 || l.Of != 1000 || l.Share != 0.95 {
			t.Errorf("status line = %+v, want 950 of 1000", l)
		}
		if el := lineNamed(t, r, "errors"); el.Count != 0 {
			t.Errorf("errors line = %+v: a 200 is a miss, not an error", el)
		}
	})
	t.Run("open access fails fast", func(t *testing.T) {
		e := newEngine(t, status())
		var v Verdict
		for v == Inconclusive {
			v = e.Observe(Observation{Status: 200, Version: "v1"})
		}
		if v != Fail || e.Requests() > 20 {
			t.Fatalf("verdict %v after %d 200s, want FAIL within 20", v, e.Requests())
		}
		l := lineNamed(t, e.Result(), "status 403")
		if !strings.HasPrefix(l.Reason, "status 403: 0% [0%, ") || !strings.Contains(l.Reason, "responses, expected at least 95%") {
			t.Errorf("reason = %q", l.Reason)
		}
	})
	t.Run("transport errors go to the errors line", func(t *testing.T) {
		e := newEngine(t, status())
		e.Record(Observation{Status: 403}, 10)
		e.Record(Observation{Status: 0}, 2)
		r := e.Result()
		if l := lineNamed(t, r, "status 403"); l.Of != 10 {
			t.Errorf("status line = %+v, want 10 responses", l)
		}
		if l := lineNamed(t, r, "errors"); l.Count != 2 || l.Of != 12 {
			t.Errorf("errors line = %+v, want 2 of 12", l)
		}
	})
}

func TestRelativeTolerance(t *testing.T) {
	exp := expect(t, "v1=90,v2=10")
	exp.Relative = true
	exp.Tolerance = 0.2
	e := newEngine(t, exp)
	r := e.Result()
	v1, v2 := lineNamed(t, r, "v1"), lineNamed(t, r, "v2")
	if !near(v1.BandLow, 0.72) || !near(v1.BandHigh, 1) || !near(v2.BandLow, 0.08) || !near(v2.BandHigh, 0.12) {
		t.Fatalf("bands v1 [%v, %v] v2 [%v, %v], want [0.72, 1] and [0.08, 0.12]", v1.BandLow, v1.BandHigh, v2.BandLow, v2.BandHigh)
	}
	// 13% on v2 lies outside 10% ± 20% but inside an absolute ±5 points.
	e.Record(ok("v1"), 87000)
	e.Record(ok("v2"), 13000)
	if v := e.Evaluate(); v != Fail {
		t.Fatalf("verdict = %v, want FAIL", v)
	}
	l := lineNamed(t, e.Result(), "v2")
	if l.State != Fail || !strings.HasSuffix(l.Reason, "of 100,000, expected 10% ± 2% (band 8% to 12%)") {
		t.Errorf("v2 line = %+v", l)
	}
	if v1 := lineNamed(t, e.Result(), "v1"); v1.State != Pass {
		t.Errorf("v1 line = %+v, want PASS: 87%% lies in [72%%, 100%%]", v1)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestFrozenAfterDecision(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	var v Verdict
	for v == Inconclusive {
		v = e.Observe(ok("v2"))
	}
	if v != Fail || !e.Decided() {
		t.Fatalf("verdict %v, decided %v, want a decided FAIL", v, e.Decided())
	}
	before := e.Result()
	n := e.Requests()
	for range 5000 {
		if got := e.Observe(ok("v1")); got != Fail {
			t.Fatalf("verdict changed to %v after the decision", got)
		}
	}
	e.Record(ok("v1"), 100000)
	if got := e.Evaluate(); got != Fail {
		t.Fatalf("Evaluate = %v after the decision, want FAIL", got)
	}
	if e.Requests() != n || !reflect.DeepEqual(e.Result(), before) {
		t.Errorf("result changed after the decision: %d requests, was %d", e.Requests(), n)
	}
}

func TestBatchRecordEvaluate(t *testing.T) {
	cases := []struct {
		v1, v2 int64
		want   Verdict
	}{
		{15000, 5000, Pass},
		{1000, 1000, Fail},
		{15, 5, Inconclusive},
		{740, 260, Inconclusive},
		{7500, 2500, Pass},
	}
	for _, c := range cases {
		e := newEngine(t, expect(t, "v1=75,v2=25"))
		e.Record(ok("v1"), c.v1)
		e.Record(ok("v2"), c.v2)
		if got := e.Evaluate(); got != c.want {
			t.Errorf("v1=%d v2=%d: %v, want %v", c.v1, c.v2, got, c.want)
		}
		r := e.Result()
		if r.Requests != c.v1+c.v2 || r.Verdict != c.want {
			t.Errorf("v1=%d v2=%d: result %+v", c.v1, c.v2, r)
		}
		for _, l := range r.Lines {
			if l.Of > 0 && (l.Lower > l.Share || l.Upper < l.Share) {
				t.Errorf("line %s: interval [%v, %v] misses its share %v", l.Name, l.Lower, l.Upper, l.Share)
			}
		}
	}
	// Empty and negative batches record nothing.
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	e.Record(ok("v1"), 0)
	e.Record(ok("v1"), -3)
	if e.Requests() != 0 {
		t.Errorf("Record with n <= 0 counted %d requests", e.Requests())
	}
}

func TestFailingVersionReason(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	e.Record(ok("v1"), 1076)
	e.Record(ok("v2"), 754)
	if v := e.Evaluate(); v != Fail {
		t.Fatalf("verdict = %v, want FAIL", v)
	}
	l := lineNamed(t, e.Result(), "v2")
	if !strings.HasPrefix(l.Reason, "v2: 41.2% [") || !strings.HasSuffix(l.Reason, "] of 1,830, expected 25% ± 5%") {
		t.Errorf("reason = %q", l.Reason)
	}
	if !(l.Lower > 0.3 && l.Lower < l.Share && l.Upper > l.Share && l.Upper < 0.5) {
		t.Errorf("interval [%v, %v] around %v", l.Lower, l.Upper, l.Share)
	}
}

// TestAlphaSplit checks where α goes: every PASS sequence runs at the full
// α (intersection-union), FAIL sequences share FailAlpha (α when unset) in
// proportion 1 per version sequence (or status) and 1/4 for the errors
// line; a pair shares one FAIL sequence and a forced line takes none.
func TestAlphaSplit(t *testing.T) {
	cases := []struct {
		spec       string
		unexpected int
		budget     float64
		failAlpha  float64 // 0: alpha
		version    float64 // each version FAIL sequence's share of FAIL's alpha (0: none)
		errors     float64
	}{
		{"v1=75,v2=25", 0, 0.01, 0, 0.8, 0.2},
		{"v1=75,v2=25,v3=0", 0, 0.01, 0, 0.8, 0.2},
		{"v1=75,v2=25", 1, 0.01, 0, 1 / 2.25, 0.25 / 2.25},
		{"v1=60,v2=30,v3=10", 0, 0.01, 0, 1 / 3.25, 0.25 / 3.25},
		{"v1=60,v2=30,v3=10", 0, 0, 0, 1.0 / 3, 0},
		{"v1=60,v2=30,v3=10", 0, 0, 0.0002, 1.0 / 3, 0},
		{"v1=100", 0, 0.01, 0, 0, 1},
		{"v1=100,v2=0", 0, 0.01, 0.0005, 0, 1},
		{"v1=100", 1, 0.01, 0, 1 / 1.25, 0.25 / 1.25},
	}
	for _, c := range cases {
		exp := expect(t, c.spec)
		exp.UnexpectedBudget = c.unexpected
		exp.ErrorBudget = c.budget
		exp.FailAlpha = c.failAlpha
		failAlpha := exp.FailAlphaOrDefault()
		e := newEngine(t, exp)
		total := 0.0
		for _, l := range append(slices.Clone(e.lines), e.errLine) {
			if !l.tested {
				continue
			}
			if a := math.Exp(-l.pass.cs.threshold); !closeRel(a, exp.Alpha) {
				t.Errorf("%s: line %s PASSes at alpha %v, want the full %v", c.spec, l.name, a, exp.Alpha)
			}
			want := c.version
			if l.kind == KindErrors {
				want = c.errors
			}
			switch {
			case want == 0 && l.fail != nil:
				t.Errorf("%s: line %s has a FAIL sequence, want none", c.spec, l.name)
			case want == 0:
			case l.fail == nil:
				t.Errorf("%s: line %s has no FAIL sequence", c.spec, l.name)
			default:
				a := math.Exp(-l.fail.cs.threshold)
				if !closeRel(a, want*failAlpha) {
					t.Errorf("%s: line %s FAILs at alpha %v, want %v", c.spec, l.name, a, want*failAlpha)
				}
				if l.twin == nil {
					total += a // a pair's second line mirrors the first's sequence
				}
			}
		}
		if c.version+c.errors > 0 && !closeRel(total, failAlpha) {
			t.Errorf("%s: FAIL alphas sum to %v, want %v", c.spec, total, failAlpha)
		}
	}
}

func closeRel(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }

// TestPairSharesOneSequence checks that, with two versions, the second line's
// sequences are the mirrors of the first's: same martingales, complementary
// share.
func TestPairSharesOneSequence(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	for _, q := range [][2]*seq{{e.lines[0].pass, e.lines[1].pass}, {e.lines[0].fail, e.lines[1].fail}} {
		a, b := q[0].cs, q[1].cs
		for _, sn := range [][2]int64{{0, 0}, {3, 10}, {740, 1000}, {15000, 20000}} {
			s, n := sn[0], sn[1]
			if x, y := a.logMixture(s, n), b.logMixture(n-s, n); !closeRel(x, y) {
				t.Errorf("log mixture of (%d, %d) = %v, mirrored %v", s, n, x, y)
			}
			lo, hi := a.interval(s, n)
			mlo, mhi := b.interval(n-s, n)
			if math.Abs(lo-(1-mhi)) > 1e-9 || math.Abs(hi-(1-mlo)) > 1e-9 {
				t.Errorf("interval (%d, %d) = [%v, %v], mirrored [%v, %v]", s, n, lo, hi, mlo, mhi)
			}
		}
	}
}

// TestTrackerMatchesExact follows 200,000 random single steps on each kind of
// mixture and checks the running log-mixture against the exact one.
func TestTrackerMatchesExact(t *testing.T) {
	seqs := map[string]mixtureCS{
		"version pass 25%":   versionPassCS(0.25, 0.2, 0.3, 0.001),
		"version fail 25%":   versionFailCS(0.25, 0.2, 0.3, 0.001),
		"version pass 99%":   versionPassCS(0.99, 0.94, 1, 0.001),
		"budget pass 1%":     budgetPassCS(0.01, 0.001),
		"budget fail 1%":     budgetFailCS(0.01, 0.001),
		"status pass mirror": budgetPassCS(0.05, 0.001).mirror(),
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for name, cs := range seqs {
		tr := newTracker(&cs)
		p := rng.Float64()
		for i := range 200000 {
			tr.step(rng.Float64() < p)
			if i%997 == 0 {
				if want := cs.logMixture(tr.s, tr.n); math.Abs(tr.mix-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Fatalf("%s: after %d steps running %v, exact %v", name, tr.n, tr.mix, want)
				}
			}
		}
	}
}

// TestIncrementalDecisionsAreExact runs 150 seeded probes (50 per truth, at
// most 5,000 requests each) through the engine and through a copy that
// recomputes every line exactly after every observation: verdicts and
// stopping points must agree.
func TestIncrementalDecisionsAreExact(t *testing.T) {
	truths := []float64{0.75, 0.68, 0.5}
	for ti, p := range truths {
		for run := range 50 {
			seed := uint64(ti*1000 + run)
			fast := newEngine(t, expect(t, "v1=75,v2=25"))
			slow := newEngine(t, expect(t, "v1=75,v2=25"))
			rngA := rand.New(rand.NewPCG(seed, 1))
			rngB := rand.New(rand.NewPCG(seed, 1))
			draw := func(r *rand.Rand) Observation {
				switch u := r.Float64(); {
				case u < 0.002:
					return Observation{Status: 0}
				case u < p:
					return ok("v1")
				}
				return ok("v2")
			}
			for fast.Requests() < 5000 && !fast.Decided() {
				fast.Observe(draw(rngA))
			}
			for slow.Requests() < 5000 && !slow.Decided() {
				slow.Record(draw(rngB), 1)
				for _, l := range slow.allLines() {
					if l.tested {
						for _, q := range []*seq{l.pass, l.fail} {
							if q != nil {
								q.tr.sync(l.count, slow.denominator(l))
							}
						}
					}
				}
				slow.Evaluate()
			}
			if fast.Result().Verdict != slow.Result().Verdict || fast.Requests() != slow.Requests() {
				t.Fatalf("p=%v run %d: incremental %v at %d, exact %v at %d", p, run,
					fast.Result().Verdict, fast.Requests(), slow.Result().Verdict, slow.Requests())
			}
		}
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	e := newEngine(t, expect(t, "v1=75,v2=25"))
	e.Record(ok("v1"), 1000)
	e.Record(ok("v2"), 1000)
	e.Evaluate()
	r := e.Result()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip changed the result:\n%+v\n%+v", back, r)
	}
	if !strings.Contains(string(b), `"verdict":"FAIL"`) {
		t.Errorf("JSON %s lacks the verdict as text", b)
	}
}

func TestFormatting(t *testing.T) {
	for x, want := range map[float64]string{0.25: "25%", 0.4123: "41.2%", 0: "0%", 1: "100%", 0.0005: "0.1%", 0.99949: "99.9%"} {
		if got := Percent(x); got != want {
			t.Errorf("Percent(%v) = %q, want %q", x, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1830: "1,830", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for _, v := range []Verdict{Pass, Fail, Inconclusive} {
		b, _ := v.MarshalText()
		var back Verdict
		if err := back.UnmarshalText(b); err != nil || back != v {
			t.Errorf("verdict %v round trip = %v, %v", v, back, err)
		}
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("MAYBE")); err == nil {
		t.Error("UnmarshalText(MAYBE) succeeded")
	}
}
