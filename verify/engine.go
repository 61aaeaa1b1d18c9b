package verify

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/meshcheck/meshcheck/internal/textfmt"
)

// Method names the statistical method in results.
const Method = "beta-binomial mixture confidence sequences (Robbins 1970; Howard et al. 2021); PASS at alpha on every line (intersection-union), FAIL at Bonferroni shares"

// Verdict is the decision on a probe or on one line of it.
type Verdict int

// The verdicts. The zero value is Inconclusive: nothing decided yet.
const (
	Inconclusive Verdict = iota
	Pass
	Fail
)

// String returns "PASS", "FAIL" or "INCONCLUSIVE".
func (v Verdict) String() string {
	switch v {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	}
	return "INCONCLUSIVE"
}

// MarshalText writes the verdict as its String.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict written by MarshalText.
func (v *Verdict) UnmarshalText(b []byte) error {
	switch string(b) {
	case "PASS":
		*v = Pass
	case "FAIL":
		*v = Fail
	case "INCONCLUSIVE":
		*v = Inconclusive
	default:
		return fmt.Errorf("verdict %q: want PASS, FAIL or INCONCLUSIVE", b)
	}
	return nil
}

// Observation is what one request produced.
type Observation struct {
	// Status is the HTTP status; 0 means the request failed before a
	// response (connection refused, timeout, reset).
	Status int
	// Version is what the classifier read; "" when it could read nothing.
	Version string
	// Unmet says the response failed the expectation's Condition.
	Unmet bool
}

// LineKind says what a result line counts.
type LineKind string

// The kinds of line.
const (
	KindVersion    LineKind = "version"    // a configured version
	KindUnexpected LineKind = "unexpected" // a version not in the expectation
	KindStatus     LineKind = "status"     // the expected status's share
	KindErrors     LineKind = "errors"     // errors among all requests
)

// Line is the verdict on one share.
type Line struct {
	Name  string   `json:"name"`
	Kind  LineKind `json:"kind"`
	Count int64    `json:"count"`
	// Of is the denominator: classified responses for versions, responses
	// for a status, all requests for errors.
	Of    int64   `json:"of"`
	Share float64 `json:"share"`
	// Lower and Upper bound the confidence sequence at the stopping point.
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	Expected float64 `json:"expected"`
	BandLow  float64 `json:"bandLow"`
	BandHigh float64 `json:"bandHigh"`
	State    Verdict `json:"state"`
	// Reason is one sentence on a failing line.
	Reason string `json:"reason,omitempty"`
	// History is the line at the engine's looks, oldest first: at most
	// MaxHistory points, evenly spaced in requests (see Engine), the last
	// one at the stopping point (or, before it, at the latest observation).
	// Empty before the first request.
	History []Point `json:"history,omitempty"`
}

// MaxHistory bounds the points of a line's History: when the engine has
// recorded MaxHistory looks it keeps every other one and records half as
// often, so a probe of any length keeps from MaxHistory/2 to MaxHistory-1
// evenly spaced looks, and the latest observation.
const MaxHistory = 100

// Point is a line at one look: after Requests requests in all, its share
// and the confidence interval of the mixture behind its state then (see
// Line), rounded to four decimals (a hundredth of a percentage point).
type Point struct {
	Requests int64   `json:"requests"`
	Share    float64 `json:"share"`
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
}

// ErrorCounts splits the errors line by cause.
type ErrorCounts struct {
	Transport    int64 `json:"transport"`
	BadStatus    int64 `json:"badStatus"`
	Unclassified int64 `json:"unclassified"`
}

// Result is the state of a probe's verdict: final once Verdict is not
// Inconclusive.
type Result struct {
	Verdict     Verdict     `json:"verdict"`
	Requests    int64       `json:"requests"`
	Lines       []Line      `json:"lines"`
	Errors      ErrorCounts `json:"errors"`
	Expectation Expectation `json:"expectation"`
	Method      string      `json:"method"`
}

// Failures returns the Reason of every failing line.
func (r Result) Failures() []string {
	var out []string
	for _, l := range r.Lines {
		if l.State == Fail {
			out = append(out, l.Reason)
		}
	}
	return out
}

// seq is one mixture confidence sequence and the tracker that follows it
// over a line's counts.
type seq struct {
	cs mixtureCS
	tr tracker
}

func newSeq(cs mixtureCS) *seq {
	q := &seq{cs: cs}
	q.tr = newTracker(&q.cs)
	return q
}

// mirror returns the sequence of the complementary share, with its own
// tracker.
func (q *seq) mirror() *seq { return newSeq(q.cs.mirror()) }

// line is the engine's running state for one tested or exact share.
type line struct {
	name     string
	kind     LineKind
	count    int64
	expected float64
	lo, hi   float64 // band
	tested   bool    // judged by its sequences (else by an exact rule)
	// pass decides PASS (at the full α); fail decides FAIL (at the line's
	// share of FAIL's α), and is nil on a line that cannot fail by
	// statistics (a forced line: the only positive weight, every other
	// version failing at its first response).
	pass, fail *seq
	// twin, on the second line of a complementary pair, is the first: its
	// sequences are mirrors of the first's, so the first's running
	// mixtures serve both.
	twin *line
	// logs of the band edges and their complements, for the decision rule
	logLo, log1mLo, logHi, log1mHi float64
	state                          Verdict // as of the last judgement
	// decidedBy is the sequence behind the state (fail on a FAIL, else
	// pass), whose interval the result shows.
	decidedBy *seq
}

func newLine(name string, kind LineKind, expected, lo, hi float64, pass, fail *seq) *line {
	return &line{name: name, kind: kind, expected: expected, lo: lo, hi: hi, tested: pass != nil, pass: pass, fail: fail,
		logLo: math.Log(lo), log1mLo: math.Log1p(-lo), logHi: math.Log(hi), log1mHi: math.Log1p(-hi)}
}

// Engine folds observations into counts and decides, after each one, whether
// the evidence settles the verdict. It is not safe for concurrent use.
//
// Every Evaluate is a look at the evidence. The engine records a look's
// counts every lookEvery requests (1 at first, doubled each time
// MaxHistory looks are kept and every other one is dropped) and at the
// decision; a Result computes each recorded look's interval once, when it
// first shows it, so an engine whose Result is never asked for (a
// simulation) pays only for the counts.
type Engine struct {
	exp        Expectation
	lines      []*line // versions (or the status line), in order
	index      map[string]*line
	unexpected []*line
	errLine    *line

	requests     int64
	classified   int64 // responses with a version (expected or not)
	responses    int64 // requests with a status (status mode)
	unexpCount   int64
	errs         ErrorCounts
	decided      bool
	verdict      Verdict // the decision, once decided
	final        *Result // the frozen result, built on first request
	statusMisses int64

	looks     []look // at most MaxHistory, oldest first
	lookEvery int64  // requests between recorded looks
	nextLook  int64  // the request count at which the next look is recorded
}

// look is the evidence at one recorded look: the request count and each
// line's counts and shown sequence.
type look struct {
	requests int64
	lines    []lineLook
}

// lineLook is one line at a look; point caches its interval once computed.
type lineLook struct {
	line      *line
	count, of int64
	cs        mixtureCS
	point     *Point
}

// New returns an engine for exp, or the reason exp is invalid.
//
// Every line's PASS sequence runs at exp.Alpha: a wrong configuration PASSes
// only if the line that is wrong passes (intersection-union). FAIL's α
// (exp.FailAlphaOrDefault) is split over the lines that can fail by
// statistics, in proportion to their shares: 1 per version sequence (a pair
// of complementary versions shares one; a forced line takes none) or the
// status line, errorsFailShare for the errors line.
func New(exp Expectation) (*Engine, error) {
	if err := exp.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{exp: exp, index: map[string]*line{}, lookEvery: 1, nextLook: 1}
	shares := 0.0
	if exp.ErrorBudget > 0 {
		shares += errorsFailShare
	}
	positive := countPositive(exp.Weights)
	pair := exp.Status == 0 && positive == 2 && exp.UnexpectedBudget == 0
	forced := exp.Status == 0 && positive == 1 && exp.UnexpectedBudget == 0
	switch {
	case exp.Status != 0:
		shares++
	case pair:
		shares++ // the two shares are complementary: one sequence serves both
	case !forced:
		shares += float64(positive)
	}
	alpha, failUnit := exp.Alpha, 0.0
	if shares > 0 {
		failUnit = exp.FailAlphaOrDefault() / shares
	}

	if exp.Status != 0 {
		// The status line tests the share of responses with the status;
		// its sequences are the budget sequences of the misses, mirrored.
		lo := clamp01(1 - exp.Tolerance)
		name := "status " + strconv.Itoa(exp.Status)
		if exp.Condition != "" {
			name += " with " + exp.Condition
		}
		e.lines = append(e.lines, newLine(name, KindStatus, 1, lo, 1,
			newSeq(budgetPassCS(exp.Tolerance, alpha).mirror()), newSeq(budgetFailCS(exp.Tolerance, failUnit).mirror())))
	} else {
		var first *line
		for _, w := range exp.Weights {
			p := float64(w.Percent) / 100
			lo, hi := exp.band(p)
			var l *line
			switch {
			case w.Percent == 0:
				l = newLine(w.Version, KindVersion, p, lo, hi, nil, nil)
			case pair && first != nil:
				l = newLine(w.Version, KindVersion, p, lo, hi, first.pass.mirror(), first.fail.mirror())
				l.twin = first
			case forced:
				l = newLine(w.Version, KindVersion, p, lo, hi, newSeq(versionPassCS(p, lo, hi, alpha)), nil)
			default:
				l = newLine(w.Version, KindVersion, p, lo, hi, newSeq(versionPassCS(p, lo, hi, alpha)),
					newSeq(versionFailCS(p, lo, hi, failUnit)))
				if first == nil {
					first = l
				}
			}
			e.lines = append(e.lines, l)
			e.index[w.Version] = l
		}
	}
	if exp.ErrorBudget > 0 {
		e.errLine = newLine("errors", KindErrors, 0, 0, exp.ErrorBudget,
			newSeq(budgetPassCS(exp.ErrorBudget, alpha)), newSeq(budgetFailCS(exp.ErrorBudget, errorsFailShare*failUnit)))
	} else {
		e.errLine = newLine("errors", KindErrors, 0, 0, 0, nil, nil) // exact: the first error fails
	}
	return e, nil
}

func countPositive(ws []Weight) int {
	n := 0
	for _, w := range ws {
		if w.Percent > 0 {
			n++
		}
	}
	return n
}

// Observe records one observation and returns the verdict so far. Once the
// verdict is decided it is final: later observations are ignored.
func (e *Engine) Observe(o Observation) Verdict {
	if e.decided {
		return e.verdict
	}
	e.Record(o, 1)
	return e.Evaluate()
}

// Record adds n identical observations without judging them; call Evaluate
// afterwards. It is how a batch of counts is judged as one sample. Once the
// verdict is decided, Record ignores its arguments.
func (e *Engine) Record(o Observation, n int64) {
	if e.decided || n <= 0 {
		return
	}
	e.requests += n
	switch {
	case o.Status == 0:
		e.errs.Transport += n
		e.errLine.count += n
		return
	case e.exp.Status != 0:
		e.responses += n
		if o.Status == e.exp.Status && !(e.exp.Condition != "" && o.Unmet) {
			e.lines[0].count += n
		} else {
			e.statusMisses += n
		}
		return
	case o.Status < 100 || o.Status > 399:
		e.errs.BadStatus += n
		e.errLine.count += n
		return
	case o.Version == "":
		e.errs.Unclassified += n
		e.errLine.count += n
		return
	}
	e.classified += n
	if l, ok := e.index[o.Version]; ok {
		l.count += n
		if l.kind == KindUnexpected {
			e.unexpCount += n // every response of an unexpected version counts against the budget
		}
		return
	}
	l := newLine(o.Version, KindUnexpected, 0, 0, 0, nil, nil)
	e.index[o.Version] = l
	e.unexpected = append(e.unexpected, l)
	l.count += n
	e.unexpCount += n
}

// Evaluate judges the counts recorded so far and returns the verdict; a
// decided verdict is frozen with its intervals. Evaluating after every
// observation costs O(lines) per observation.
func (e *Engine) Evaluate() Verdict {
	if !e.decided {
		if v := e.judgeAll(); v != Inconclusive {
			// Frozen: counts and line states no longer change, so the
			// result (intervals and all) is built when first asked for.
			e.decided, e.verdict = true, v
		}
		if e.requests > 0 && (e.decided || e.requests >= e.nextLook) {
			e.record()
		}
	}
	return e.verdict
}

// record keeps the look just judged. When that makes MaxHistory, it drops
// every other one, keeping the latest, and looks half as often: the looks
// at multiples of lookEvery stay evenly spaced.
func (e *Engine) record() {
	all := e.allLines()
	lk := look{requests: e.requests, lines: make([]lineLook, len(all))}
	for i, l := range all {
		lk.lines[i] = lineLook{line: l, count: l.count, of: e.denominator(l), cs: e.shown(l)}
	}
	e.looks = append(e.looks, lk)
	if len(e.looks) == MaxHistory {
		kept := e.looks[:0]
		for i := 1; i < len(e.looks); i += 2 {
			kept = append(kept, e.looks[i])
		}
		clear(e.looks[len(kept):])
		e.looks = kept
		e.lookEvery *= 2
	}
	e.nextLook = (e.requests/e.lookEvery + 1) * e.lookEvery
}

// history returns l's points at the recorded looks, computing the
// intervals not computed yet, and out's own at the latest observation when
// that was not recorded.
func (e *Engine) history(l *line, out Line) []Point {
	var h []Point
	for i := range e.looks {
		for j := range e.looks[i].lines {
			ll := &e.looks[i].lines[j]
			if ll.line != l {
				continue
			}
			if ll.point == nil {
				p := Point{Requests: e.looks[i].requests}
				if ll.of > 0 {
					p.Share = float64(ll.count) / float64(ll.of)
				}
				p.Lower, p.Upper = ll.cs.interval(ll.count, ll.of)
				p = p.rounded()
				ll.point = &p
			}
			h = append(h, *ll.point)
		}
	}
	if e.requests > 0 && (len(e.looks) == 0 || e.looks[len(e.looks)-1].requests != e.requests) {
		h = append(h, Point{Requests: e.requests, Share: out.Share, Lower: out.Lower, Upper: out.Upper}.rounded())
	}
	return h
}

// rounded returns p with its shares rounded to four decimals.
func (p Point) rounded() Point {
	r := func(x float64) float64 { return math.Round(x*1e4) / 1e4 }
	p.Share, p.Lower, p.Upper = r(p.Share), r(p.Lower), r(p.Upper)
	return p
}

// judgeAll judges every line, caching each line's state, and combines them:
// FAIL if any line fails, PASS if all pass.
func (e *Engine) judgeAll() Verdict {
	allPass, anyFail := true, false
	add := func(l *line) {
		l.state = e.judge(l)
		switch l.state {
		case Fail:
			anyFail = true
		case Inconclusive:
			allPass = false
		}
	}
	for _, l := range e.lines {
		add(l)
	}
	for _, l := range e.unexpected {
		add(l)
	}
	add(e.errLine)
	switch {
	case anyFail:
		return Fail
	case allPass:
		return Pass
	}
	return Inconclusive
}

// Decided reports whether the verdict is final.
func (e *Engine) Decided() bool { return e.decided }

// Requests returns how many observations were recorded.
func (e *Engine) Requests() int64 { return e.requests }

// Result returns the verdict with every line's counts and intervals: frozen
// at the stopping point once decided, else the current, inconclusive state
// (whose lines are judged on the counts recorded so far).
func (e *Engine) Result() Result {
	if e.decided {
		if e.final == nil {
			r := e.snapshot(e.verdict)
			e.final = &r
		}
		r := *e.final
		r.Lines = slices.Clone(r.Lines)
		for i := range r.Lines {
			r.Lines[i].History = slices.Clone(r.Lines[i].History)
		}
		return r
	}
	e.judgeAll()
	return e.snapshot(Inconclusive)
}

func (e *Engine) allLines() []*line {
	out := make([]*line, 0, len(e.lines)+len(e.unexpected)+1)
	out = append(out, e.lines...)
	out = append(out, e.unexpected...)
	return append(out, e.errLine)
}

// denominator returns the number of trials behind a line's share.
func (e *Engine) denominator(l *line) int64 {
	switch l.kind {
	case KindErrors:
		return e.requests
	case KindStatus:
		return e.responses
	}
	return e.classified
}

// judge judges one line by its exact rule or its sequences.
func (e *Engine) judge(l *line) Verdict {
	n := e.denominator(l)
	l.decidedBy = l.pass
	switch {
	case l.kind == KindUnexpected:
		if e.unexpCount > int64(e.exp.UnexpectedBudget) {
			return Fail
		}
		return Pass
	case !l.tested: // weight 0, or an error budget of 0
		if l.count > 0 {
			return Fail
		}
		return Pass
	case n == 0:
		return Inconclusive
	}
	s := l.count
	phat := float64(s) / float64(n)
	// Both trackers follow every observation (one step each), so that a
	// share crossing the band edge never costs an exact recomputation.
	pass := l.tracker(l.pass, s, n, func(t *line) *seq { return t.pass })
	var fail *tracker
	if l.fail != nil {
		fail = l.tracker(l.fail, s, n, func(t *line) *seq { return t.fail })
	}
	if phat < l.lo || phat > l.hi {
		// Only FAIL is possible; a forced line has no FAIL sequence (its
		// share leaves the band only together with an exact failure).
		if fail == nil {
			return Inconclusive
		}
		edge := l.lo
		if phat > l.hi {
			edge = l.hi
		}
		if l.crosses(fail, l.fail.cs.threshold, s, n, edge) {
			l.decidedBy = l.fail
			return Fail
		}
		return Inconclusive
	}
	if (l.lo <= 0 || l.crosses(pass, l.pass.cs.threshold, s, n, l.lo)) && (l.hi >= 1 || l.crosses(pass, l.pass.cs.threshold, s, n, l.hi)) {
		return Pass
	}
	return Inconclusive
}

// tracker brings q's tracker to s successes in n trials and returns it; on
// the second line of a pair it returns the first line's tracker (of), judged
// just before on the complementary counts: the mirrored mixture of (n-s, n)
// equals this one's of (s, n).
func (l *line) tracker(q *seq, s, n int64, of func(*line) *seq) *tracker {
	if t := l.twin; t != nil {
		if tq := of(t); s == n-t.count && tq.tr.s == t.count && tq.tr.n == n {
			return &tq.tr
		}
	}
	q.tr.follow(s, n)
	return &q.tr
}

// crosses reports whether the martingale followed by tr, at the band edge
// p, has reached its threshold: log M_n(p) >= log(1/α). The callers ask only
// with the observed share s/n beyond p from the values under test, where
// M_n is at least as large as at p, so the whole one-sided hypothesis is
// rejected. A statistic within confirmMargin of the threshold is confirmed
// on the exact mixture.
func (l *line) crosses(tr *tracker, threshold float64, s, n int64, p float64) bool {
	logP, log1mP := l.logLo, l.log1mLo
	if p == l.hi {
		logP, log1mP = l.logHi, l.log1mHi
	}
	gap := func() float64 { return tr.mix - float64(s)*logP - float64(n-s)*log1mP - threshold }
	g := gap()
	if math.Abs(g) < confirmMargin && tr.steps > 0 {
		tr.sync(tr.s, tr.n)
		g = gap()
	}
	return g >= 0
}

func (e *Engine) snapshot(v Verdict) Result {
	r := Result{Verdict: v, Requests: e.requests, Errors: e.errs, Expectation: e.exp, Method: Method}
	for _, l := range e.allLines() {
		n := e.denominator(l)
		out := Line{Name: l.name, Kind: l.kind, Count: l.count, Of: n, Expected: l.expected,
			BandLow: l.lo, BandHigh: l.hi, State: l.state}
		if n > 0 {
			out.Share = float64(l.count) / float64(n)
		}
		out.Lower, out.Upper = e.shown(l).interval(l.count, n)
		if out.State == Fail {
			out.Reason = e.reason(l, out)
		}
		out.History = e.history(l, out)
		r.Lines = append(r.Lines, out)
	}
	return r
}

// shown returns the sequence whose interval a line's result shows: the one
// behind its state on a tested line (FAIL's on a failing line, else PASS's);
// on a line judged by an exact rule, a PASS sequence for its tolerance (or
// the default error budget), reported only.
func (e *Engine) shown(l *line) mixtureCS {
	switch {
	case l.decidedBy != nil:
		return l.decidedBy.cs
	case l.kind == KindErrors:
		return budgetPassCS(DefaultErrorBudget, e.exp.Alpha)
	}
	return budgetPassCS(e.exp.Tolerance, e.exp.Alpha)
}

// reason writes the one sentence a failing line gets, such as
// "v2: 41.2% [38.9%, 43.6%] of 1,830, expected 25% ± 5%".
func (e *Engine) reason(l *line, out Line) string {
	switch {
	case l.kind == KindUnexpected:
		return fmt.Sprintf("%s: %s from a version the expectation does not name (%s from such versions in all, %s allowed)",
			l.name, plural(l.count, "response"), Thousands(e.unexpCount), Thousands(int64(e.exp.UnexpectedBudget)))
	case l.kind == KindVersion && !l.tested:
		return fmt.Sprintf("%s: %s, expected none (weight 0)", l.name, plural(l.count, "response"))
	case l.kind == KindErrors && !l.tested:
		return fmt.Sprintf("errors: %s of %s failed, expected none (error budget 0)", Thousands(l.count), plural(out.Of, "request"))
	case l.kind == KindErrors:
		return fmt.Sprintf("errors: %s [%s, %s] of %s requests, budget %s",
			Percent(out.Share), Percent(out.Lower), Percent(out.Upper), Thousands(out.Of), Percent(l.hi))
	case l.kind == KindStatus:
		return fmt.Sprintf("%s: %s [%s, %s] of %s responses, expected at least %s",
			l.name, Percent(out.Share), Percent(out.Lower), Percent(out.Upper), Thousands(out.Of), Percent(l.lo))
	}
	return fmt.Sprintf("%s: %s [%s, %s] of %s, expected %s",
		l.name, Percent(out.Share), Percent(out.Lower), Percent(out.Upper), Thousands(out.Of), e.expectedText(l))
}

func (e *Engine) expectedText(l *line) string {
	if e.exp.Relative {
		return fmt.Sprintf("%s ± %s (band %s to %s)", Percent(l.expected), Percent(e.exp.Tolerance*l.expected), Percent(l.lo), Percent(l.hi))
	}
	return fmt.Sprintf("%s ± %s", Percent(l.expected), Percent(e.exp.Tolerance))
}

// plural writes n with the noun, "1 response" or "1,830 responses".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Thousands(n) + " " + noun + "s"
}

// Percent formats a share as a percentage with at most one decimal, "25%"
// or "41.2%".
func Percent(x float64) string {
	s := strconv.FormatFloat(math.Round(x*1000)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// Thousands formats n with comma separators: 1830 -> "1,830".
func Thousands(n int64) string { return textfmt.Thousands(n) }
