package verify

import (
	"fmt"
	"strconv"
)

// MaxCountedRequests bounds the total of the counts JudgeCounts takes, far
// above any probe, so that sums stay exact.
const MaxCountedRequests = 1_000_000_000_000_000

// JudgeCounts judges counts gathered elsewhere (access logs, another load
// tool) as one sample against exp, which it validates. With weights, each
// count is a number of successful responses of one version, named in exp or
// not; with a status expectation, each count's key is an HTTP status (100 to
// 599) and any status other than the expected one counts against it. errs
// counts failed requests (no response) besides the counts. The sum may not
// exceed MaxCountedRequests.
func JudgeCounts(exp Expectation, counts []Count, errs int64) (Result, error) {
	eng, err := New(exp)
	if err != nil {
		return Result{}, err
	}
	if errs < 0 {
		return Result{}, fmt.Errorf("errors %d: a count is at least 0", errs)
	}
	total := errs
	for _, c := range counts {
		if c.N < 0 {
			return Result{}, fmt.Errorf("count %s=%d: a count is at least 0", c.Version, c.N)
		}
		if total += c.N; c.N > MaxCountedRequests || total > MaxCountedRequests {
			return Result{}, fmt.Errorf("%s requests in all is too many: at most 10^15", Thousands(total))
		}
	}
	for _, c := range counts {
		o := Observation{Status: 200, Version: c.Version}
		if exp.Status != 0 {
			code, err := strconv.Atoi(c.Version)
			if err != nil || code < 100 || code > 599 {
				return Result{}, fmt.Errorf("count %s=%d: with an expected status the keys are HTTP statuses from 100 to 599", c.Version, c.N)
			}
			o = Observation{Status: code}
		}
		eng.Record(o, c.N)
	}
	eng.Record(Observation{Status: 0}, errs)
	eng.Evaluate()
	return eng.Result(), nil
}
