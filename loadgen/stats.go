package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// maxSamples is how many distinct error and unclassified samples Stats keeps.
const maxSamples = 5

// StopReason says why an attack (or a replay) ended.
type StopReason string

// The reasons an attack ends.
const (
	StopDecided     StopReason = "decided"      // the Sink said stop: the verdict was decided
	StopMaxRequests StopReason = "max-requests" // the request budget was spent
	StopDuration    StopReason = "duration"     // the time budget was spent
	StopCanceled    StopReason = "canceled"     // the caller's context ended
	StopError       StopReason = "error"        // writing results or reading the agent failed
	StopSettle      StopReason = "settle"       // the settle phase failed: the target never settled
	StopEnd         StopReason = "end"          // a replay read the whole file undecided
)

// Sample is one kind of error or unclassified response, with how often it
// occurred and, for the first few, an excerpt of the body.
type Sample struct {
	Status int    `json:"status"`
	Text   string `json:"text"`
	Body   string `json:"body,omitempty"`
	Count  int64  `json:"count"`
}

// Latency summarises response times (to the end of the body). Quantiles come
// from a log-linear histogram and are exact to within 1.6%.
type Latency struct {
	Mean time.Duration
	P50  time.Duration
	P90  time.Duration
	P99  time.Duration
	Max  time.Duration
}

// Stats describes the traffic of one probe run. Its size does not grow with
// the number of requests.
type Stats struct {
	// RateAsked is the configured rate in requests per second (0 when
	// unknown, as for a replayed file).
	RateAsked float64
	// RateAchieved is the rate at which requests were sent: (n-1) over the
	// time from the first to the last send.
	RateAchieved float64
	// Requests is the number of responses and failures the verdict saw.
	Requests int64
	// Ignored counts requests sent but not judged because the verdict
	// (or the budget) came first: in flight when the attack stopped, or
	// waiting behind an earlier request still in flight (the verdict
	// judges in send order); in a replay also the judged records after
	// its decision.
	Ignored int64
	// Settle describes the unjudged settle phase before the judged
	// requests.
	Settle SettleStats
	// Started is when the first request was sent.
	Started time.Time
	// Duration runs from the first send to the end of the last response.
	Duration time.Duration
	// Stopped says why the run ended.
	Stopped StopReason
	// StatusCodes counts responses per HTTP status; 0 counts requests that
	// got no response.
	StatusCodes map[int]int64
	// Errors counts transport errors and statuses outside 100–399.
	Errors int64
	// Unclassified counts successful responses the classifier or the version
	// map could not turn into a version.
	Unclassified int64
	// Latency summarises response times.
	Latency Latency
	// ErrorSamples and UnclassifiedSamples hold up to 5 distinct kinds each.
	ErrorSamples        []Sample
	UnclassifiedSamples []Sample
	// Unmet counts responses that failed the probe's HeaderCheck;
	// UnmetSamples holds up to 5 distinct failed conditions.
	Unmet        int64
	UnmetSamples []Sample
}

// statsJSON is the JSON form of Stats: durations in seconds and milliseconds.
type statsJSON struct {
	RateAsked           float64       `json:"rateAsked"`
	RateAchieved        float64       `json:"rateAchieved"`
	Requests            int64         `json:"requests"`
	Ignored             int64         `json:"ignored"`
	Started             time.Time     `json:"started,omitzero"`
	DurationSeconds     float64       `json:"durationSeconds"`
	Stopped             StopReason    `json:"stopped"`
	StatusCodes         map[int]int64 `json:"statusCodes"`
	Errors              int64         `json:"errors"`
	Unclassified        int64         `json:"unclassified"`
	LatencyMs           latencyMillis `json:"latencyMs"`
	ErrorSamples        []Sample      `json:"errorSamples"`
	UnclassifiedSamples []Sample      `json:"unclassifiedSamples"`
	Unmet               int64         `json:"unmet,omitempty"`
	UnmetSamples        []Sample      `json:"unmetSamples,omitempty"`
	Settle              settleJSON    `json:"settle"`
}

type settleJSON struct {
	Requests        int64         `json:"requests"`
	DurationSeconds float64       `json:"durationSeconds"`
	StatusCodes     map[int]int64 `json:"statusCodes"`
}

type latencyMillis struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fromMs(x float64) time.Duration { return time.Duration(math.Round(x * 1e6)) }

// MarshalJSON writes durations as seconds (durationSeconds) and latencies as
// milliseconds (latencyMs).
func (s Stats) MarshalJSON() ([]byte, error) {
	j := statsJSON{
		RateAsked: s.RateAsked, RateAchieved: s.RateAchieved, Requests: s.Requests, Ignored: s.Ignored,
		Started: s.Started, DurationSeconds: s.Duration.Seconds(), Stopped: s.Stopped,
		StatusCodes: s.StatusCodes, Errors: s.Errors, Unclassified: s.Unclassified,
		LatencyMs: latencyMillis{Mean: ms(s.Latency.Mean), P50: ms(s.Latency.P50), P90: ms(s.Latency.P90),
			P99: ms(s.Latency.P99), Max: ms(s.Latency.Max)},
		ErrorSamples: s.ErrorSamples, UnclassifiedSamples: s.UnclassifiedSamples,
		Unmet: s.Unmet, UnmetSamples: s.UnmetSamples,
		Settle: settleJSON{Requests: s.Settle.Requests, DurationSeconds: s.Settle.Duration.Seconds(), StatusCodes: s.Settle.StatusCodes},
	}
	if j.Settle.StatusCodes == nil {
		j.Settle.StatusCodes = map[int]int64{}
	}
	if j.StatusCodes == nil {
		j.StatusCodes = map[int]int64{}
	}
	if j.ErrorSamples == nil {
		j.ErrorSamples = []Sample{}
	}
	if j.UnclassifiedSamples == nil {
		j.UnclassifiedSamples = []Sample{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	*s = Stats{
		RateAsked: j.RateAsked, RateAchieved: j.RateAchieved, Requests: j.Requests, Ignored: j.Ignored,
		Started: j.Started, Duration: time.Duration(math.Round(j.DurationSeconds * 1e9)), Stopped: j.Stopped,
		StatusCodes: j.StatusCodes, Errors: j.Errors, Unclassified: j.Unclassified,
		Latency: Latency{Mean: fromMs(j.LatencyMs.Mean), P50: fromMs(j.LatencyMs.P50), P90: fromMs(j.LatencyMs.P90),
			P99: fromMs(j.LatencyMs.P99), Max: fromMs(j.LatencyMs.Max)},
		ErrorSamples: j.ErrorSamples, UnclassifiedSamples: j.UnclassifiedSamples,
		Unmet: j.Unmet, UnmetSamples: j.UnmetSamples,
		Settle: SettleStats{Requests: j.Settle.Requests, Duration: time.Duration(math.Round(j.Settle.DurationSeconds * 1e9)),
			StatusCodes: j.Settle.StatusCodes},
	}
	return nil
}

// statsBuilder folds records into Stats in constant memory.
type statsBuilder struct {
	requests     int64
	ignored      int64
	first        time.Time // first send
	lastSend     time.Time
	lastEnd      time.Time
	codes        map[int]int64 // at most 501 keys: 0 and 100–599
	errors       int64
	unclassified int64
	hist         histogram
	errSamples   []Sample
	unclSamples  []Sample
	unmet        int64
	unmetSamples []Sample
}

func (b *statsBuilder) add(r Record) {
	if b.requests == 0 || r.Time.Before(b.first) {
		b.first = r.Time
	}
	if r.Time.After(b.lastSend) {
		b.lastSend = r.Time
	}
	if end := r.Time.Add(r.Latency); end.After(b.lastEnd) {
		b.lastEnd = end
	}
	b.requests++
	if b.codes == nil {
		b.codes = map[int]int64{}
	}
	b.codes[r.Status]++
	b.hist.add(r.Latency)
	switch {
	case r.isError():
		b.errors++
		b.errSamples = addSample(b.errSamples, r.Status, r.Error, r.Body)
	case r.Unclassified != "":
		b.unclassified++
		b.unclSamples = addSample(b.unclSamples, r.Status, r.Unclassified, r.Body)
	}
	if r.Unmet != "" {
		b.unmet++
		b.unmetSamples = addSample(b.unmetSamples, r.Status, r.Unmet, r.Body)
	}
}

// addSample counts a sample into its kind, or adds a new kind while fewer
// than maxSamples are kept.
func addSample(samples []Sample, status int, text, body string) []Sample {
	for i := range samples {
		if samples[i].Status == status && samples[i].Text == text {
			samples[i].Count++
			if samples[i].Body == "" {
				samples[i].Body = body
			}
			return samples
		}
	}
	if len(samples) >= maxSamples {
		return samples
	}
	return append(samples, Sample{Status: status, Text: text, Body: body, Count: 1})
}

// rate is (n-1) sends over the span from the first to the last send.
func (b *statsBuilder) rate() float64 {
	span := b.lastSend.Sub(b.first)
	if b.requests < 2 || span <= 0 {
		return 0
	}
	return math.Round(float64(b.requests-1)/span.Seconds()*1000) / 1000
}

func (b *statsBuilder) stats(reason StopReason, rateAsked float64) Stats {
	s := Stats{
		RateAsked: rateAsked, RateAchieved: b.rate(), Requests: b.requests, Ignored: b.ignored,
		Started: b.first, Stopped: reason, StatusCodes: map[int]int64{}, Errors: b.errors, Unclassified: b.unclassified,
		ErrorSamples: append([]Sample(nil), b.errSamples...), UnclassifiedSamples: append([]Sample(nil), b.unclSamples...),
		Unmet: b.unmet, UnmetSamples: append([]Sample(nil), b.unmetSamples...),
	}
	for k, v := range b.codes {
		s.StatusCodes[k] = v
	}
	if b.requests > 0 {
		s.Duration = b.lastEnd.Sub(b.first)
		s.Latency = Latency{Mean: b.hist.mean(), P50: b.hist.quantile(0.5), P90: b.hist.quantile(0.9),
			P99: b.hist.quantile(0.99), Max: time.Duration(b.hist.max)}
	}
	return s
}

// folder takes records as they complete, puts them in send order, runs the
// settle phase on the first ones and hands the rest to the caller's Sink and
// the statistics, and says when to stop: the one place where local runs and
// the agent client order and settle traffic (replays use its judge step).
type folder struct {
	sink     Sink
	seq      sequencer
	settle   settler
	stats    statsBuilder
	max      int64 // bound on all requests, settle phase included (0: none)
	onRecord func(Record) error

	rateAsked float64
	total     int64      // records released in send order
	received  int64      // records an agent streamed
	stop      StopReason // set once the probe is over
	err       error      // the error that ended it, if any
	late      []Record   // released after the stop, in send order
	ignored   int64      // records never judged: judged-phase records after a replay's decision, after-phase ones
	after     int64      // after-phase records of a replay
}

// newFolder returns a folder for a live run with settle rule s, or, with the
// zero settler, for a replay (which takes its phases from the file).
func newFolder(sink Sink, max int64, onRecord func(Record) error) *folder {
	return &folder{sink: sink, max: max, onRecord: onRecord, settle: settler{done: true}}
}

// fold takes one record as it completed. It returns a reason to stop once
// the probe is over: the Sink said stop, the request budget is spent,
// the settle phase failed (with its error), or writing a record failed.
// Records folded after that are kept and marked PhaseAfter at finish.
func (f *folder) fold(r Record) (StopReason, error) {
	if f.stop != "" {
		f.seq.hold(r) // finish marks and writes it
		return "", nil
	}
	if err := f.seq.push(r, f.release); err != nil {
		f.stop, f.err = StopError, fmt.Errorf("results: %w", err)
	}
	return f.stop, f.err
}

// release takes the next record in send order.
func (f *folder) release(r Record) {
	if f.stop != "" {
		r.Phase = PhaseAfter
		f.late = append(f.late, r)
		return
	}
	f.total++
	if !f.settle.done {
		r.Phase = PhaseSettle
		f.write(r)
		if _, err := f.settle.add(r); err != nil {
			f.stop, f.err = StopSettle, err
		}
	} else {
		r.Phase = PhaseJudged
		f.write(r)
		if why := f.judge(r); why != "" && f.stop == "" {
			f.stop = why
		}
	}
	if f.stop == "" && f.max > 0 && f.total >= f.max {
		f.stop = StopMaxRequests
		f.unsettled(StopMaxRequests)
	}
}

// unsettled turns a budget that ended during the settle phase into the
// settle phase's failure: nothing was judged, and the target never gave a
// run of good responses.
func (f *folder) unsettled(reason StopReason) {
	if f.settle.done || f.err != nil || (reason != StopMaxRequests && reason != StopDuration) {
		return
	}
	budget := "time"
	if reason == StopMaxRequests {
		budget = "request"
	}
	f.stop = StopSettle
	f.err = fmt.Errorf("%s: the %s budget ended in the settle phase, before %d consecutive good responses: %s: %w",
		f.settle.url, budget, f.settle.need, f.settle.saw(), ErrNotSettled)
}

// write hands r to the OnRecord function; its error ends the probe.
func (f *folder) write(r Record) {
	if f.onRecord == nil || f.err != nil {
		return
	}
	if err := f.onRecord(r); err != nil {
		f.stop, f.err = StopError, err
	}
}

// judge hands one judged record, in send order, to the statistics and the
// Sink, and returns StopDecided once the Sink says stop.
func (f *folder) judge(r Record) StopReason {
	f.stats.add(r)
	if f.sink.Judge(r) {
		return StopDecided
	}
	return ""
}

// finish writes the records left unjudged, marked PhaseAfter in send order,
// and returns the Stats of the run. reason is why the attack ended when the
// folder itself did not stop it.
func (f *folder) finish(reason StopReason) Stats {
	f.unsettled(reason)
	rest := append(f.late, f.seq.drain()...)
	for _, r := range rest {
		r.Phase = PhaseAfter
		f.write(r)
	}
	f.ignored += int64(len(rest))
	if f.stop != "" {
		reason = f.stop
	}
	s := f.stats.stats(reason, f.rateAsked)
	s.Ignored = f.ignored
	s.Settle = f.settle.stats
	return s
}

// Progress is a snapshot of a running probe.
type Progress struct {
	Elapsed time.Duration
	// Requests counts the records handed to the Sink so far.
	Requests int64
	// Rate is the achieved send rate so far.
	Rate float64
}

func (f *folder) progress(start time.Time) Progress {
	return Progress{Elapsed: time.Since(start), Requests: f.stats.requests, Rate: f.stats.rate()}
}
