package verify

import (
	"strings"
	"testing"
)

func TestJudgeCounts(t *testing.T) {
	exp := Defaults()
	exp.Weights = []Weight{{"v1", 75}, {"v2", 25}}
	r, err := JudgeCounts(exp, []Count{{"v1", 15000}, {"v2", 5000}}, 0)
	if err != nil || r.Verdict != Pass || r.Requests != 20000 {
		t.Fatalf("75/25 of 20,000: %v after %d, %v", r.Verdict, r.Requests, err)
	}
	r, err = JudgeCounts(exp, []Count{{"v1", 1000}, {"v2", 1000}, {"v9", 2}}, 3)
	if err != nil || r.Verdict != Fail || r.Requests != 2005 || r.Errors.Transport != 3 {
		t.Fatalf("50/50 with v9 and errors: %+v, %v", r, err)
	}

	status := Defaults()
	status.Status = 403
	r, err = JudgeCounts(status, []Count{{"403", 5000}, {"200", 1}}, 0)
	if err != nil || r.Verdict != Pass {
		t.Fatalf("403 ×5000: %v, %v", r.Verdict, err)
	}
	for _, tc := range []struct {
		exp    Expectation
		counts []Count
		errs   int64
		want   string
	}{
		{status, []Count{{"v1", 5}}, 0, "count v1=5: with an expected status the keys are HTTP statuses from 100 to 599"},
		{status, []Count{{"99", 5}}, 0, "count 99=5"},
		{exp, []Count{{"v1", MaxCountedRequests}, {"v2", 1}}, 0, "1,000,000,000,000,001 requests in all is too many"},
		{exp, []Count{{"v1", 1}}, MaxCountedRequests, "too many"},
		{exp, []Count{{"v1", -1}}, 0, "count v1=-1: a count is at least 0"},
		{exp, nil, -1, "errors -1"},
		{Expectation{Weights: exp.Weights}, nil, 0, "tolerance"},
	} {
		if _, err := JudgeCounts(tc.exp, tc.counts, tc.errs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("JudgeCounts(%v, %d) = %v, want %q", tc.counts, tc.errs, err, tc.want)
		}
	}
}
