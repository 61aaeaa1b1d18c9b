package report

import (
	"errors"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/verify"
)

const methodLine = "method       beta-binomial mixture confidence sequences (Robbins 1970; Howard et al. 2021); PASS at alpha on every line (intersection-union), FAIL at Bonferroni shares, alpha 0.001\n"

type batch struct {
	obs verify.Observation
	n   int64
}

func version(v string, n int64) batch { return batch{verify.Observation{Status: 200, Version: v}, n} }

// judged returns the result of judging the batches as one sample.
func judged(t *testing.T, spec string, mutate func(*verify.Expectation), batches ...batch) verify.Result {
	t.Helper()
	e := verify.Defaults()
	if spec != "" {
		ws, err := verify.ParseWeights(spec)
		if err != nil {
			t.Fatal(err)
		}
		e.Weights = ws
	}
	if mutate != nil {
		mutate(&e)
	}
	eng, err := verify.New(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		eng.Record(b.obs, b.n)
	}
	eng.Evaluate()
	return eng.Result()
}

func TestWriteVerdict(t *testing.T) {
	cases := []struct {
		name, title string
		result      verify.Result
		want        string
	}{
		{"pass", "v1=75,v2=25", judged(t, "v1=75,v2=25", nil, version("v1", 15000), version("v2", 5000)), `v1=75,v2=25
  LINE     COUNT  SHARE  INTERVAL        EXPECTED  STATE
  v1      15,000  75%    [73.7%, 76.2%]  75% ± 5%  PASS
  v2       5,000  25%    [23.8%, 26.3%]  25% ± 5%  PASS
  errors       0  0%     [0%, 0.1%]      ≤ 1%      PASS
verdict      PASS after 20,000 requests
` + methodLine},
		{"fail", "v1=75,v2=25", judged(t, "v1=75,v2=25", nil, version("v1", 1076), version("v2", 754)), `v1=75,v2=25
  LINE    COUNT  SHARE  INTERVAL        EXPECTED  STATE
  v1      1,076  58.8%  [53.4%, 64.1%]  75% ± 5%  FAIL
  v2        754  41.2%  [35.9%, 46.6%]  25% ± 5%  FAIL
  errors      0  0%     [0%, 0.5%]      ≤ 1%      PASS
verdict      FAIL after 1,830 requests
  - v1: 58.8% [53.4%, 64.1%] of 1,830, expected 75% ± 5%
  - v2: 41.2% [35.9%, 46.6%] of 1,830, expected 25% ± 5%
` + methodLine},
		{"inconclusive without title", "", judged(t, "v1=75,v2=25", nil, version("v1", 15), version("v2", 5)), `  LINE    COUNT  SHARE  INTERVAL        EXPECTED  STATE
  v1         15  75%    [34.1%, 97.2%]  75% ± 5%  INCONCLUSIVE
  v2          5  25%    [2.8%, 65.9%]   25% ± 5%  INCONCLUSIVE
  errors      0  0%     [0%, 29.4%]     ≤ 1%      INCONCLUSIVE
verdict      INCONCLUSIVE after 20 requests
  - undecided: v1, v2, errors; more requests would narrow their intervals
` + methodLine},
		{"exact rules and relative tolerance", "relative", judged(t, "v1=90,v2=10,v3=0", func(e *verify.Expectation) {
			e.Relative, e.Tolerance, e.UnexpectedBudget, e.ErrorBudget = true, 0.2, 2, 0
		}, version("v1", 9000), version("v2", 1000), version("old", 2)), `relative
  LINE    COUNT  SHARE  INTERVAL        EXPECTED         STATE
  v1      9,000  90%    [88.6%, 91.2%]  90% ± 18%        PASS
  v2      1,000  10%    [8.9%, 11.2%]   10% ± 2%         PASS
  v3          0  0%     exact rule      none (weight 0)  PASS
  old         2  0%     exact rule      ≤ 2 in all       PASS
  errors      0  0%     exact rule      none             PASS
verdict      PASS after 10,002 requests
` + methodLine},
		{"status", "status", judged(t, "", func(e *verify.Expectation) { e.Status = 403 },
			batch{verify.Observation{Status: 403}, 950}, batch{verify.Observation{Status: 200}, 50}, batch{verify.Observation{Status: 0}, 3}), `status
  LINE        COUNT  SHARE  INTERVAL        EXPECTED  STATE
  status 403    950  95%    [91.3%, 97.5%]  ≥ 95%     INCONCLUSIVE
  errors          3  0.3%   [0%, 1.6%]      ≤ 1%      INCONCLUSIVE
verdict      INCONCLUSIVE after 1,003 requests
  - undecided: status 403, errors; more requests would narrow their intervals
` + methodLine},
		{"weight 0 hit, one request", "", judged(t, "v1=100,v2=0", nil, version("v2", 1)), `  LINE    COUNT  SHARE  INTERVAL     EXPECTED         STATE
  v1          0  0%     [0%, 100%]   100% ± 5%        INCONCLUSIVE
  v2          1  100%   exact rule   none (weight 0)  FAIL
  errors      0  0%     [0%, 99.9%]  ≤ 1%             INCONCLUSIVE
verdict      FAIL after 1 request
  - v2: 1 response, expected none (weight 0)
` + methodLine},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteVerdict(&b, c.title, c.result); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestWriteVerdictEmptyResult(t *testing.T) {
	var b strings.Builder
	if err := WriteVerdict(&b, "nothing", verify.Result{}); err != nil {
		t.Fatal(err)
	}
	want := "nothing\n  LINE  COUNT  SHARE  INTERVAL  EXPECTED  STATE\nverdict      INCONCLUSIVE after 0 requests\n" +
		"method       " + verify.Method + ", alpha 0\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWriteVerdictReportsWriteErrors(t *testing.T) {
	r := judged(t, "v1=75,v2=25", nil, version("v1", 10), version("v2", 10))
	for after := range 4 {
		if err := WriteVerdict(&failingWriter{after: after}, "t", r); err == nil || err.Error() != "disk full" {
			t.Errorf("write error after %d writes: got %v, want disk full", after, err)
		}
	}
}
