package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

// maxSamples is how many distinct error and unclassified samples Stats keeps.
const maxSamples = 5

// StopReason says why an attack (or a replay) ended.
type StopReason string

// The reasons an attack ends.
const (
	StopDecided     StopReason = "decided"      // the verdict was decided
	StopMaxRequests StopReason = "max-requests" // the request budget was spent
	StopDuration    StopReason = "duration"     // the time budget was spent
	StopCanceled    StopReason = "canceled"     // the caller's context ended
	StopError       StopReason = "error"        // writing results or reading the agent failed
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
	// Ignored counts responses that arrived after the verdict was decided
	// (requests in flight when the attack stopped, or the rest of a
	// replayed file); the verdict did not see them.
	Ignored int64
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

// folder feeds records to the verdict engine and the statistics, and says
// when to stop: the one place where local runs, the agent client and
// replays judge traffic.
type folder struct {
	eng       *verify.Engine
	stats     statsBuilder
	max       int64
	onRecord  func(Record) error
	rateAsked float64
}

func newFolder(eng *verify.Engine, max int64, onRecord func(Record) error) *folder {
	return &folder{eng: eng, max: max, onRecord: onRecord}
}

// fold judges one record. It returns a reason to stop once the verdict is
// decided or the request budget is spent; records folded after that are
// only counted as ignored.
func (f *folder) fold(r Record) (StopReason, error) {
	if f.eng.Decided() || (f.max > 0 && f.stats.requests >= f.max) {
		f.stats.ignored++
		return "", nil
	}
	f.stats.add(r)
	f.eng.Observe(r.Observation())
	if f.onRecord != nil {
		if err := f.onRecord(r); err != nil {
			return StopError, err
		}
	}
	switch {
	case f.eng.Decided():
		return StopDecided, nil
	case f.max > 0 && f.stats.requests >= f.max:
		return StopMaxRequests, nil
	}
	return "", nil
}

// finish returns the Stats of the run; ignored adds responses drained after
// the attack stopped.
func (f *folder) finish(reason StopReason, ignored int64) Stats {
	f.stats.ignored += ignored
	return f.stats.stats(reason, f.rateAsked)
}

// Progress is a snapshot of a running probe.
type Progress struct {
	Elapsed  time.Duration
	Requests int64
	// Rate is the achieved send rate so far.
	Rate   float64
	Result verify.Result
}

func (f *folder) progress(start time.Time) Progress {
	return Progress{Elapsed: time.Since(start), Requests: f.stats.requests, Rate: f.stats.rate(), Result: f.eng.Result()}
}
