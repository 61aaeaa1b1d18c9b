package scenario

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

// This file is the one place where the routing model's prediction of a
// probe is made: validate (the cross-checks of Load), run (package runner)
// and every environment call Config, Model or Predict, and judge a
// prediction against an expectation with Prediction.Disagrees.

// Config returns the routing model's view (mesh.NewConfig) of what runs
// after step (ClusterStateAt: the backend's objects, and the objects in
// effect with OpenFaaS Functions expanded to their Deployments and
// Services).
func (s *Scenario) Config(step int) (mesh.Config, error) {
	state, err := s.ClusterStateAt(step)
	if err != nil {
		return mesh.Config{}, fmt.Errorf("routing model: %w", err)
	}
	objs := make([]runtime.Object, len(state))
	for i, o := range state {
		objs[i] = o.Object
	}
	cfg, err := mesh.NewConfig(objs)
	if err != nil {
		return mesh.Config{}, fmt.Errorf("routing model of step %s: %w", s.stepName(step), err)
	}
	return cfg, nil
}

// Model returns the routing model of the objects in effect after step.
func (s *Scenario) Model(step int) (*mesh.Model, error) {
	cfg, err := s.Config(step)
	if err != nil {
		return nil, err
	}
	return mesh.New(cfg), nil
}

// Predict returns what the routing model of the state after step predicts
// probe p observes, its in-mesh requests sent from SourceNamespace.
func (s *Scenario) Predict(step int, p Probe) (Prediction, error) {
	m, err := s.Model(step)
	if err != nil {
		return Prediction{}, err
	}
	return Predict(m, p, s.SourceNamespace()), nil
}

func (s *Scenario) stepName(step int) string {
	if step >= 0 && step < len(s.Steps) {
		return s.Steps[step].Name
	}
	return strconv.Itoa(step)
}

// Prediction is what the routing model says a probe will observe.
type Prediction struct {
	// Resolution is the model's answer for the probe's request.
	Resolution mesh.Resolution
	// Label is the pod label whose values are the versions (the probe's
	// VersionLabel).
	Label string
	// Shares are the exact predicted shares of the versions among the
	// responses that reach a pod with the label (they sum to 1); empty when
	// none does. Disagrees compares these, not the rounded Weights.
	Shares map[string]float64
	// Weights are Shares as integer percents summing to 100 (percents), in
	// version order: what an expectation fromConfig expects. Nil when no
	// response reaches a version.
	Weights []verify.Weight
	// ErrorShare is the predicted share of all requests Envoy answers
	// itself with an error (503 of an unusable destination, 404).
	ErrorShare float64
	// Unlabelled is the share of all requests reaching pods without the
	// version label.
	Unlabelled float64
	// Opaque is true when the versions are read from the answers' content
	// (no classify.podLabel) and no pod the requests reach carries the
	// version label: the versions come from something the routing model
	// does not follow (such as the pod's own call to another service), so
	// it predicts no split.
	Opaque bool
	// Access is, for each distinct answer, what the destination pods'
	// sidecars decide on the probe's request from its SourceIdentity
	// (mesh Model.Access), in the order of the destinations; empty when the
	// model answers the request itself.
	Access []mesh.Access
	// Denied is the share of all requests the destination pods' sidecars
	// refuse (403 of an AuthorizationPolicy, 503 of STRICT mTLS refusing
	// plaintext); DeniedStatus is the status of the largest part of them.
	Denied       float64
	DeniedStatus int
}

// Predict resolves a probe's request with the model and derives the version
// split the probe should see (mesh Shares of the probe's version label),
// its in-mesh requests sent from sourceNamespace (normally the scenario's
// SourceNamespace).
func Predict(m *mesh.Model, p Probe, sourceNamespace string) Prediction {
	req := p.ModelRequest(sourceNamespace)
	res := m.Resolve(req)
	label := p.VersionLabel()
	raw, errShare := res.Shares(label)
	pr := Prediction{Resolution: res, Label: label, ErrorShare: errShare, Unlabelled: raw[""], Shares: map[string]float64{}}
	delete(raw, "")
	total := 0.0
	for _, x := range raw {
		total += x
	}
	if total > 0 {
		for v, x := range raw {
			if x > 0 {
				pr.Shares[v] = x / total
			}
		}
	}
	pr.Weights = percents(pr.Shares)
	pr.Opaque = p.Classify.PodLabel == "" && total == 0 && pr.Unlabelled > 0
	pr.access(m, req, p.SourceIdentity(sourceNamespace))
	return pr
}

// access asks the model what the sidecar of every pod the request reaches
// decides (every client meshcheck probes from has a sidecar, so the hop is
// mTLS as Istio's auto mTLS makes it: mesh Model.AutoMTLS), and the share
// of requests refused.
func (pr *Prediction) access(m *mesh.Model, req mesh.Request, src mesh.Identity) {
	if pr.Resolution.Status != 0 {
		return
	}
	sum := 0
	for _, d := range pr.Resolution.Destinations {
		sum += d.Weight
	}
	if sum <= 0 {
		return
	}
	seen := map[string]bool{}
	byStatus := map[int]float64{}
	for _, d := range pr.Resolution.Destinations {
		if d.Status != 0 || len(d.Workloads) == 0 {
			continue
		}
		each := float64(d.Weight) / float64(sum) / float64(len(d.Workloads))
		for _, w := range d.Workloads {
			a := m.Access(mesh.AccessRequest{Source: src, MTLS: m.AutoMTLS(true, w, d.Port), Destination: w, Port: d.Port,
				Method: req.Method, Host: req.Host, Path: req.Path, Headers: req.Headers})
			if !a.Allowed {
				pr.Denied += each
				byStatus[a.Status] += each
			}
			if k := a.Reason + a.Unmodelled; !seen[k] {
				seen[k] = true
				pr.Access = append(pr.Access, a)
			}
		}
	}
	best := 0.0
	for st, x := range byStatus {
		if x > best || (x == best && st < pr.DeniedStatus) {
			best, pr.DeniedStatus = x, st
		}
	}
}

// policyAllows reports whether an AuthorizationPolicy decided to let some
// of the requests in (an ALLOW policy's rule matched).
func (pr Prediction) policyAllows() bool {
	for _, a := range pr.Access {
		if a.Allowed && a.Policy != "" {
			return true
		}
	}
	return false
}

// accessWhy is the sidecars' decisions in one sentence, without a final
// period: their reasons joined, and what the model does not evaluate.
func (pr Prediction) accessWhy() string {
	var parts []string
	for _, a := range pr.Access {
		r := strings.TrimSuffix(a.Reason, ".")
		if a.Unmodelled != "" {
			r += " (not modelled: " + strings.TrimSuffix(a.Unmodelled, ".") + ")"
		}
		parts = append(parts, r)
	}
	return strings.Join(parts, "; ")
}

// percents turns shares into integer percents summing to 100 by the largest
// remainder method (ties to the version that sorts first), in version
// order. Shares are normalised by their sum; none, or a zero sum, gives nil.
func percents(shares map[string]float64) []verify.Weight {
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

// shareSlack absorbs floating-point error when a share sits exactly on a
// band's edge (75/25 against 75 ± 5 is inside).
const shareSlack = 1e-9

// Disagrees reports whether the prediction says the probe will not see
// what exp expects. For explicit weights: the model answers every request
// itself with a status, the predicted error share exceeds the error budget,
// a version's exact predicted share lies outside its band (a share of
// 30.4% against 25 ± 5 disagrees, though it rounds to 30), or a version the
// expectation does not name gets a share (requests the destinations'
// sidecars refuse count as errors). For a status: the model answers every
// request with another status, or the destinations' sidecars refuse every
// request with another status, or an ALLOW AuthorizationPolicy lets every
// request in while 403 (a policy's answer) is expected; whether the
// application answers the expected status is beyond it. Weights read from the answers'
// content where no pod carries the version label (Opaque) never disagree:
// the model predicts no split. An expectation fromConfig is the prediction
// itself and never disagrees; see Prediction.ErrorShare for its errors.
func (pr Prediction) Disagrees(exp verify.Expectation) bool {
	if exp.Status != 0 {
		if pr.Resolution.Status != 0 {
			return pr.Resolution.Status != exp.Status
		}
		if len(pr.Access) == 0 {
			return false
		}
		// The sidecars refuse every request with one status: another status
		// cannot reach every request. They refuse none though ALLOW
		// policies decide: a 403 cannot come from a policy. (With no
		// policy at all, the application may answer 403 itself.)
		switch {
		case pr.Denied >= 1-shareSlack:
			return pr.DeniedStatus != exp.Status
		case pr.Denied <= shareSlack:
			return exp.Status == http.StatusForbidden && pr.policyAllows()
		}
		return false
	}
	if len(exp.Weights) == 0 || pr.Opaque {
		return false
	}
	if pr.Resolution.Status != 0 || pr.ErrorShare+pr.Denied > exp.ErrorBudget+shareSlack {
		return true
	}
	named := map[string]bool{}
	for _, w := range exp.Weights {
		named[w.Version] = true
		want := float64(w.Percent) / 100
		half := exp.Tolerance
		if exp.Relative {
			half *= want
		}
		if math.Abs(pr.Shares[w.Version]-want) > half+shareSlack {
			return true
		}
	}
	for v, x := range pr.Shares {
		if !named[v] && x > shareSlack {
			return true
		}
	}
	return false
}

// Why is the model's one-sentence explanation of a prediction, without a
// final period: a note on config that did not apply (such as a
// VirtualService that does not serve the mesh), else the reason of an
// unusable destination, else which route matched.
func (pr Prediction) Why() string {
	if pr.Denied > shareSlack {
		return pr.accessWhy()
	}
	why := pr.Resolution.Reason
	if len(pr.Resolution.Notes) > 0 {
		why = pr.Resolution.Notes[0]
	} else {
		for _, d := range pr.Resolution.Destinations {
			if d.Status != 0 && d.Reason != "" {
				why = d.Reason
				break
			}
		}
	}
	return strings.TrimSuffix(why, ".")
}

// Text is the prediction in words: the exact version split and the error
// share ("v1 69.6%, v2 30.4%", "v1 75%, errors 25%"), or the status every
// request gets.
func (pr Prediction) Text() string {
	if pr.Resolution.Status != 0 {
		return fmt.Sprintf("status %d for every request", pr.Resolution.Status)
	}
	if pr.Denied >= 1-shareSlack {
		return fmt.Sprintf("status %d for every request (the destination's sidecar refuses it)", pr.DeniedStatus)
	}
	versions := make([]string, 0, len(pr.Shares))
	for v := range pr.Shares {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	reach := 1 - pr.ErrorShare - pr.Unlabelled
	var parts []string
	for _, v := range versions {
		parts = append(parts, v+" "+percent(pr.Shares[v]*reach))
	}
	if pr.Unlabelled > 0 {
		parts = append(parts, "pods without label "+pr.Label+" "+percent(pr.Unlabelled))
	}
	if pr.ErrorShare > 0 {
		parts = append(parts, "errors "+percent(pr.ErrorShare))
	}
	if pr.Denied > 0 {
		parts = append(parts, fmt.Sprintf("refused by the destination's sidecar (status %d) %s", pr.DeniedStatus, percent(pr.Denied)))
	}
	if len(parts) == 0 {
		return "no responses"
	}
	return strings.Join(parts, ", ")
}

// Notes returns the sentences a probe's report carries about the config:
// for an expectation from config, what the model derived and why, and the
// config that did not apply to the request; for an explicit one that the
// model disagrees with, the model's prediction and why, in one sentence.
func (pr Prediction) Notes(p Probe, exp verify.Expectation) []string {
	var notes []string
	if h := p.Expect.Headers; h != nil {
		notes = append(notes, fmt.Sprintf("every response with status %d must show %s", exp.Status, strings.TrimPrefix(h.String(), "headers ")))
	}
	switch {
	case p.Expect.FromConfig:
		notes = append(notes, fmt.Sprintf("expected from config: %s (%s)", weightsText(pr.Weights), strings.TrimSuffix(pr.Resolution.Reason, ".")))
		notes = append(notes, pr.Resolution.Notes...)
		if pr.ErrorShare > 0 {
			notes = append(notes, fmt.Sprintf("the config sends %s of requests where Envoy answers itself with an error: %s",
				percent(pr.ErrorShare), pr.Why()))
		}
	case exp.Status != 0 && pr.Resolution.Status == 0 && len(pr.Access) > 0:
		// A status expectation is about who answers: say what the
		// destinations' sidecars decide, whether or not it is the status
		// expected.
		if pr.Disagrees(exp) {
			notes = append(notes, fmt.Sprintf("the config predicts %s, not the expected %s: %s",
				pr.statusText(), expectedText(exp), pr.accessWhy()))
		} else {
			notes = append(notes, "the destination's sidecar: "+pr.accessWhy())
		}
		return notes
	case pr.Disagrees(exp):
		notes = append(notes, fmt.Sprintf("the config predicts %s, not the expected %s: %s",
			pr.Text(), expectedText(exp), pr.Why()))
	}
	switch {
	case exp.Status != 0:
	case pr.Opaque:
		notes = append(notes, fmt.Sprintf("the routing model predicts no version split: no pod the requests reach carries label %s, "+
			"so the versions come from what the answers say (such as a call the pod makes itself), which the model does not follow", pr.Label))
	case pr.Unlabelled > 0:
		notes = append(notes, fmt.Sprintf("%s of requests reach pods without label %s; their responses cannot be classified",
			percent(pr.Unlabelled), pr.Label))
	}
	return notes
}

// statusText is what the destinations' sidecars do with the probe's
// requests, in words: "status 403 for every request (...)", "no refusal:
// every request reaches the application", or the refused share.
func (pr Prediction) statusText() string {
	switch {
	case pr.Denied >= 1-shareSlack:
		return pr.Text()
	case pr.Denied <= shareSlack:
		return "no refusal by the destination's sidecar (every request reaches the application, which answers)"
	}
	return fmt.Sprintf("status %d for %s of requests (the destination's sidecar refuses them)", pr.DeniedStatus, percent(pr.Denied))
}

// expectedText is an explicit expectation in words: "v1 75%, v2 25%" or
// "status 403".
func expectedText(exp verify.Expectation) string {
	if exp.Status != 0 {
		return fmt.Sprintf("status %d", exp.Status)
	}
	parts := make([]string, len(exp.Weights))
	for i, w := range exp.Weights {
		parts[i] = fmt.Sprintf("%s %d%%", w.Version, w.Percent)
	}
	return strings.Join(parts, ", ")
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
