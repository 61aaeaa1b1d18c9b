package matchers

import (
	"strings"
	"testing"

	"github.com/onsi/gomega"

	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// probe is a probe report of verdict v with one line per version; a
// failing line carries reason.
func probe(v verify.Verdict, reason string) report.Probe {
	lines := []verify.Line{
		{Name: "v1", Kind: verify.KindVersion, Count: 600, Of: 1000, Share: 0.6, Lower: 0.56, Upper: 0.64, Expected: 0.75, BandLow: 0.7, BandHigh: 0.8, State: v, Reason: reason},
		{Name: "v2", Kind: verify.KindVersion, Count: 400, Of: 1000, Share: 0.4, Lower: 0.36, Upper: 0.44, Expected: 0.25, BandLow: 0.2, BandHigh: 0.3, State: v, Reason: reason},
	}
	return report.Probe{Name: "ingress", Scenario: "echo", Step: "split-75-25", Vantage: "ingress",
		Result: verify.Result{Verdict: v, Requests: 1000, Lines: lines,
			Expectation: verify.Expectation{Weights: []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}, Tolerance: 0.05, Alpha: 0.001}}}
}

// failures runs fn with a gomega whose failures are collected, not fatal.
func failures(fn func(g gomega.Gomega)) []string {
	var msgs []string
	fn(gomega.NewGomega(func(message string, _ ...int) { msgs = append(msgs, message) }))
	return msgs
}

func TestHavePassedProbe(t *testing.T) {
	reason := "v1: 60.0% [56.0%, 64.0%] of 1,000, expected 75% ± 5%"
	for _, c := range []struct {
		name   string
		actual any
		pass   bool
		want   []string // in the failure message
	}{
		{"PASS", probe(verify.Pass, ""), true, nil},
		{"PASS by pointer", new(probe(verify.Pass, "")), true, nil},
		{"FAIL", probe(verify.Fail, reason), false, []string{"Expected probe echo / split-75-25 / ingress to PASS, its verdict is FAIL", "verdict      FAIL after 1,000 requests", "- " + reason}},
		{"INCONCLUSIVE", probe(verify.Inconclusive, ""), false, []string{"its verdict is INCONCLUSIVE", "verdict      INCONCLUSIVE after 1,000 requests", "undecided: v1, v2"}},
	} {
		msgs := failures(func(g gomega.Gomega) { g.Expect(c.actual).To(HavePassed()) })
		if c.pass != (len(msgs) == 0) {
			t.Errorf("%s: failures %q, want pass %v", c.name, msgs, c.pass)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(msgs[0], w) {
				t.Errorf("%s: the failure message lacks %q:\n%s", c.name, w, msgs[0])
			}
		}
		negated := failures(func(g gomega.Gomega) { g.Expect(c.actual).NotTo(HavePassed()) })
		if c.pass != (len(negated) == 1) {
			t.Errorf("%s: negated failures %q", c.name, negated)
		} else if c.pass && !strings.Contains(negated[0], "not to PASS, it did") {
			t.Errorf("%s: negated message %q", c.name, negated[0])
		}
	}
}

func TestHavePassedRun(t *testing.T) {
	pass, fail := probe(verify.Pass, ""), probe(verify.Fail, "v2: 40.0% of 1,000, expected 25% ± 5%")
	pass.Step = "other"
	run := func(err *report.Error, probes ...report.Probe) report.Run {
		return report.Run{Environment: "local", Emulated: true, Probes: probes, Verdict: report.Verdict(probes), Error: err}
	}
	for _, c := range []struct {
		name   string
		actual any
		pass   bool
		want   []string
		absent []string
	}{
		{"every probe PASS", run(nil, pass, pass), true, nil, nil},
		{"one FAIL", new(run(nil, pass, fail)), false,
			[]string{"Expected the run to PASS, its verdict is FAIL", "echo / split-75-25 / ingress", "- v2: 40.0% of 1,000, expected 25% ± 5%", "summary      FAIL: 2 probes (1 PASS, 1 FAIL, 0 INCONCLUSIVE)"},
			[]string{"echo / other / ingress"}},
		{"PASS probes but an error", run(&report.Error{Kind: report.ErrorEnvironment, Scenario: "hello", Message: "setup: no cluster"}, pass), false,
			[]string{"its verdict is PASS", "no cluster"}, nil},
	} {
		msgs := failures(func(g gomega.Gomega) { g.Expect(c.actual).To(HavePassed()) })
		if c.pass != (len(msgs) == 0) {
			t.Errorf("%s: failures %q, want pass %v", c.name, msgs, c.pass)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(msgs[0], w) {
				t.Errorf("%s: the failure message lacks %q:\n%s", c.name, w, msgs[0])
			}
		}
		for _, w := range c.absent {
			if strings.Contains(msgs[0], w) {
				t.Errorf("%s: the failure message has %q, a probe that passed:\n%s", c.name, w, msgs[0])
			}
		}
	}
}

func TestHavePassedOtherTypes(t *testing.T) {
	for _, actual := range []any{nil, "PASS", verify.Pass, (*report.Probe)(nil), (*report.Run)(nil)} {
		ok, err := HavePassed().Match(actual)
		if ok || err == nil || !strings.Contains(err.Error(), "report.Probe or a report.Run") {
			t.Errorf("Match(%#v): %v, %v; want an error naming what it matches", actual, ok, err)
		}
	}
}
