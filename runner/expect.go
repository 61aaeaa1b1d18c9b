package runner

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
)

// model builds the routing model of the state after a step.
func model(s *scenario.Scenario, step int) (*mesh.Model, error) {
	objs := s.StateAt(step)
	ros := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		ros = append(ros, o.Object)
	}
	cfg, err := mesh.NewConfig(ros)
	if err != nil {
		return nil, err
	}
	return mesh.New(cfg), nil
}

// Prediction is what the routing model says a probe will observe.
type Prediction struct {
	// Resolution is the model's answer for the probe's request.
	Resolution mesh.Resolution
	// Weights are the predicted shares of the versions among the responses
	// that reach a pod, as integer percents summing to 100 (largest
	// remainder), in version order; nil when no response reaches a version.
	Weights []verify.Weight
	// ErrorShare is the predicted share of all requests Envoy answers
	// itself with an error (503 of an unusable destination, 404).
	ErrorShare float64
	// Unlabelled is the share of requests reaching pods without the version
	// label.
	Unlabelled float64
}

// Predict resolves a probe's request with the model and derives the version
// split the probe should see (mesh Shares of the probe's version label).
func Predict(m *mesh.Model, p scenario.Probe, sourceNamespace string) Prediction {
	res := m.Resolve(p.ModelRequest(sourceNamespace))
	shares, errShare := res.Shares(p.VersionLabel())
	pr := Prediction{Resolution: res, ErrorShare: errShare, Unlabelled: shares[""]}
	delete(shares, "")
	pr.Weights = Percents(shares)
	return pr
}

// Percents turns shares into integer percents summing to 100 by the largest
// remainder method (ties to the version that sorts first), in version
// order. Shares are normalised by their sum; none, or a zero sum, gives nil.
func Percents(shares map[string]float64) []verify.Weight {
	total := 0.0
	for _, s := range shares {
		total += s
	}
	if total <= 0 || len(shares) == 0 {
		return nil
	}
	type part struct {
		version string
		floor   int
		rem     float64
	}
	parts := make([]part, 0, len(shares))
	sum := 0
	for v, s := range shares {
		x := 100 * s / total
		f := int(math.Floor(x + 1e-9))
		parts = append(parts, part{version: v, floor: f, rem: x - float64(f)})
		sum += f
	}
	slices.SortFunc(parts, func(a, b part) int {
		if c := cmp.Compare(b.rem, a.rem); c != 0 {
			return c
		}
		return strings.Compare(a.version, b.version)
	})
	for i := 0; sum < 100; i = (i + 1) % len(parts) {
		parts[i].floor++
		sum++
	}
	out := make([]verify.Weight, 0, len(parts))
	for _, p := range parts {
		out = append(out, verify.Weight{Version: p.version, Percent: p.floor})
	}
	slices.SortFunc(out, func(a, b verify.Weight) int { return strings.Compare(a.Version, b.Version) })
	return out
}

// why is the model's one-sentence explanation of a prediction: a note on
// config that did not apply (such as a VirtualService that does not serve
// the mesh), else the reason of an unusable destination, else which route
// matched.
func (pr Prediction) why() string {
	if len(pr.Resolution.Notes) > 0 {
		return pr.Resolution.Notes[0]
	}
	for _, d := range pr.Resolution.Destinations {
		if d.Status != 0 && d.Reason != "" {
			return d.Reason
		}
	}
	return pr.Resolution.Reason
}

// Disagrees reports whether the prediction falls outside the bands of an
// explicit weights expectation: a version's predicted percent differs from
// the expected one by more than the tolerance, or the predicted error share
// exceeds the error budget.
func (pr Prediction) Disagrees(exp verify.Expectation) bool {
	if len(exp.Weights) == 0 {
		return false
	}
	if pr.Resolution.Status != 0 || pr.ErrorShare > exp.ErrorBudget {
		return true
	}
	predicted := map[string]int{}
	for _, w := range pr.Weights {
		predicted[w.Version] = w.Percent
	}
	for _, w := range exp.Weights {
		tol := exp.Tolerance
		if exp.Relative {
			tol *= float64(w.Percent) / 100
		}
		if math.Abs(float64(predicted[w.Version]-w.Percent))/100 > tol+1e-9 {
			return true
		}
		delete(predicted, w.Version)
	}
	for _, pct := range predicted {
		if pct > 0 {
			return true // a version the expectation does not name
		}
	}
	return false
}

// Notes returns the sentences a probe's report carries about the config:
// for an expectation from config, what the model derived and why, and the
// config that did not apply to the request; for an
// explicit one that the model disagrees with, the model's prediction and
// why, in one sentence.
func (pr Prediction) Notes(p scenario.Probe, exp verify.Expectation) []string {
	var notes []string
	switch {
	case p.Expect.FromConfig:
		notes = append(notes, fmt.Sprintf("expected from config: %s (%s)", weightsText(pr.Weights), strings.TrimSuffix(pr.Resolution.Reason, ".")))
		notes = append(notes, pr.Resolution.Notes...)
		if pr.ErrorShare > 0 {
			notes = append(notes, fmt.Sprintf("the config sends %s of requests where Envoy answers itself with an error: %s",
				percent(pr.ErrorShare), strings.TrimSuffix(pr.why(), ".")))
		}
	case p.Expect.Status == 0 && pr.Disagrees(exp):
		notes = append(notes, fmt.Sprintf("the config predicts %s, not the expected %s: %s",
			pr.predictedText(), weightsText(exp.Weights), strings.TrimSuffix(pr.why(), ".")))
	}
	if pr.Unlabelled > 0 {
		notes = append(notes, fmt.Sprintf("%s of requests reach pods without label %s; their responses cannot be classified",
			percent(pr.Unlabelled), p.VersionLabel()))
	}
	return notes
}

// predictedText is the prediction in words: the version split and the error
// share, or the status every request gets.
func (pr Prediction) predictedText() string {
	if pr.Resolution.Status != 0 {
		return fmt.Sprintf("status %d for every request", pr.Resolution.Status)
	}
	text := weightsText(pr.Weights)
	if pr.ErrorShare > 0 {
		if len(pr.Weights) == 0 {
			return fmt.Sprintf("%s errors", percent(pr.ErrorShare))
		}
		text += fmt.Sprintf(" among the requests that reach a pod, and %s answered with an error by Envoy", percent(pr.ErrorShare))
	}
	return text
}

func weightsText(ws []verify.Weight) string {
	if len(ws) == 0 {
		return "no version"
	}
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s=%d", w.Version, w.Percent))
	}
	return strings.Join(parts, ", ")
}

// percent formats a share as a percent with at most one decimal.
func percent(x float64) string {
	return strconv.FormatFloat(math.Round(1000*x)/10, 'f', -1, 64) + "%"
}
