package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshcheck/meshcheck/internal/versionname"
)

// Bounds on what a Record carries, so that results files, agent streams and
// samples stay small whatever the responses hold.
const (
	// maxSampleBytes bounds a sample body excerpt.
	maxSampleBytes = 512
	// maxTextBytes bounds an error or reason text.
	maxTextBytes = 512
	// maxRecordLine bounds one NDJSON line when reading.
	maxRecordLine = 64 << 10
)

// Phase says what part of a probe a record belongs to.
type Phase string

// The phases of a probe, in a results file.
const (
	// PhaseSettle: the unjudged warm-up before the judged requests.
	PhaseSettle Phase = "settle"
	// PhaseJudged: the verdict saw the record.
	PhaseJudged Phase = "judged"
	// PhaseAfter: sent before the attack stopped but not judged, because
	// the verdict (or the budget) came first: the request was still in
	// flight, or waited behind an earlier one still in flight. Its outcome
	// may be an artefact of the stop (connections are closed).
	PhaseAfter Phase = "after"
)

// Record is what one request produced: one line of a results file (--save)
// and of the agent's stream.
type Record struct {
	// Seq numbers the requests of an attack in the order they were sent,
	// from 0 (vegeta's Result.Seq): the order the verdict judges them in.
	Seq uint64 `json:"seq"`
	// Phase is set in results files: settle, judged or after. The agent's
	// stream leaves it empty.
	Phase Phase `json:"phase,omitempty"`
	// Time is when the request was sent.
	Time time.Time `json:"t"`
	// Latency is the time to the end of the response body, in nanoseconds.
	Latency time.Duration `json:"latency"`
	// Status is the HTTP status, 0 when the request failed before a
	// response (connection refused, reset, timeout).
	Status int `json:"status"`
	// Version is what the response was classified as; "" for errors and
	// unclassified responses.
	Version string `json:"version,omitempty"`
	// Error is the transport error, or the status line of a status outside
	// 100–399.
	Error string `json:"error,omitempty"`
	// Unclassified says why a successful response has no version.
	Unclassified string `json:"unclassified,omitempty"`
	// Unmet, for a probe with a HeaderCheck, is the first condition a
	// response failed, with the value seen; "" when it met them all.
	Unmet string `json:"unmet,omitempty"`
	// Body is an excerpt of the body of an error or unclassified response:
	// the first 8 of its status (or of the unclassified), then the 16th,
	// 32nd, 64th, ...
	Body string `json:"body,omitempty"`
}

// isError reports whether the record is a transport error (status 0) or a
// status outside 100–399: never a version.
func (r Record) isError() bool { return r.Status < 100 || r.Status > 399 }

// validate checks a record read from a file or stream.
func (r Record) validate() error {
	switch {
	case r.Time.IsZero():
		return errors.New("missing send time \"t\"")
	case r.Latency < 0:
		return fmt.Errorf("latency %d is negative", r.Latency)
	case r.Status != 0 && (r.Status < 100 || r.Status > 599):
		return fmt.Errorf("status %d: want 0 (no response) or 100 to 599", r.Status)
	case r.Status == 0 && r.Error == "":
		return errors.New("status 0 (no response) needs an error")
	case r.Version != "" && r.isError():
		return fmt.Errorf("version %q on an error (status %d): errors never have a version", r.Version, r.Status)
	case r.Version != "" && !versionname.Valid(r.Version):
		return fmt.Errorf("version %q is not a version name", r.Version)
	case r.Version != "" && r.Unclassified != "":
		return errors.New("a record has a version or an unclassified reason, not both")
	case r.Unmet != "" && r.Status == 0:
		return errors.New("status 0 (no response) has no headers to check: it cannot carry an unmet header condition")
	}
	switch r.Phase {
	case "", PhaseSettle, PhaseJudged, PhaseAfter:
		return nil
	}
	return fmt.Errorf("phase %q: want settle, judged or after", r.Phase)
}

// recorder turns vegeta results into Records: the classification shared by
// local runs and the agent.
type recorder struct {
	classify Classifier
	versions VersionMap
	// errors counts error responses per status, unclassified the
	// unclassified ones: a record carries a body excerpt when its count is
	// at most 8 or a power of two, so every phase of a probe, however
	// short, gets samples, and a million errors only about 25 excerpts.
	errors       [600]sampler
	unclassified sampler
	check        HeaderCheck
	unmet        sampler
}

// sampler decides which records of one kind carry a body excerpt. Results
// arrive in completion order but are judged in send order, so besides the
// count rule (the first 8, then every power of two) a record also carries
// one when it was sent before every record of its kind seen so far: the
// earliest-sent record, the first the verdict sees, always has a sample.
// In random completion order that adds about ln(n) excerpts.
type sampler struct {
	n       int64
	lowest  uint64
	started bool
}

// take counts a record sent as seq and says whether it carries an excerpt.
func (s *sampler) take(seq uint64) bool {
	s.n++
	earliest := !s.started || seq < s.lowest
	if earliest {
		s.lowest, s.started = seq, true
	}
	return earliest || s.n <= 8 || s.n&(s.n-1) == 0
}

func newRecorder(c Classifier, m VersionMap) *recorder {
	return &recorder{classify: c, versions: m}
}

// withCheck makes rc test every response with c.
func (rc *recorder) withCheck(c HeaderCheck) *recorder {
	rc.check = c
	return rc
}

// record classifies one result. It is called from one goroutine.
func (rc *recorder) record(res *vegeta.Result) Record {
	// Wall-clock time only (Round(0) drops the monotonic reading), so that
	// a saved and replayed run computes the same rates and durations.
	r := Record{Seq: res.Seq, Time: res.Timestamp.Round(0), Latency: res.Latency, Status: int(res.Code)}
	switch {
	case r.Status == 0:
		r.Error = truncate(res.Error, maxTextBytes)
		if r.Error == "" {
			r.Error = "no response"
		}
	case r.isError():
		r.Error = truncate(res.Error, maxTextBytes)
		if r.Error == "" {
			r.Error = fmt.Sprintf("status %d", r.Status)
		}
		k := min(r.Status, len(rc.errors)-1) // statuses past 599 share a count
		if rc.errors[k].take(res.Seq) && len(res.Body) > 0 {
			r.Body = truncate(string(res.Body), maxSampleBytes)
		}
	case rc.classify.IsZero():
		// Status expectations need no version.
	default:
		r.Version, r.Unclassified = rc.version(res)
		if r.Unclassified != "" {
			if rc.unclassified.take(res.Seq) {
				r.Body = truncate(string(res.Body), maxSampleBytes)
			}
		}
	}
	if r.Status != 0 && !rc.check.IsZero() {
		r.Unmet = truncate(rc.check.unmet(r.Status, res.Headers, res.Body), maxTextBytes)
		if r.Unmet != "" && r.Body == "" && rc.unmet.take(res.Seq) {
			r.Body = truncate(string(res.Body), maxSampleBytes)
		}
	}
	return r
}

// version classifies a successful response and maps its raw value.
func (rc *recorder) version(res *vegeta.Result) (version, unclassified string) {
	raw, err := rc.classify.classify(int(res.Code), res.Headers, res.Body)
	if err != nil {
		return "", truncate(err.Error(), maxTextBytes)
	}
	if rc.versions != nil {
		v, ok := rc.versions[raw]
		if !ok {
			return "", truncate(fmt.Sprintf("%s read %q, which the version map does not hold", rc.classify, raw), maxTextBytes)
		}
		return v, ""
	}
	if !versionname.Valid(raw) {
		return "", truncate(fmt.Sprintf("%s read %q, which is not a version name: give a version map", rc.classify, raw), maxTextBytes)
	}
	return raw, ""
}

// truncate cuts s to at most n bytes of valid UTF-8, marking a cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ResultsSchema names the format of a results file: the "results" field of
// its first line, the Header.
const ResultsSchema = "meshcheck.dev/results/v1"

// Header is the first line of a results file: what the records that follow
// came from, so that a file copied elsewhere still says where it was run and
// whether the mesh was emulated.
type Header struct {
	// Results is ResultsSchema.
	Results string `json:"results"`
	// Environment names where the probe ran (local, kind, existing); ""
	// for a probe of an endpoint outside any environment (meshcheck probe).
	Environment string `json:"environment,omitempty"`
	// Emulated is true when the local environment answered instead of a
	// real proxy.
	Emulated bool `json:"emulated"`
	// Scenario, Step and Probe place the probe in a scenario ("" outside).
	Scenario string `json:"scenario,omitempty"`
	Step     string `json:"step,omitempty"`
	Probe    string `json:"probe,omitempty"`
	// From is where the traffic came from: "ingress" or "mesh" ("" when
	// not said).
	From string `json:"from,omitempty"`
	// URL and Host are the target's (its headers and body are left out:
	// they may carry credentials).
	URL  string `json:"url,omitempty"`
	Host string `json:"host,omitempty"`
	// Rate is the rate asked, in requests per second.
	Rate int `json:"rate,omitempty"`
	// Agent is the URL of the in-mesh agent that sent the requests, if one
	// did.
	Agent string `json:"agent,omitempty"`
}

// validate checks a header read from a file.
func (h Header) validate() error {
	switch {
	case h.Results != ResultsSchema:
		return fmt.Errorf("results format %q: this meshcheck reads %s", h.Results, ResultsSchema)
	case h.Rate < 0 || h.Rate > MaxRate:
		return fmt.Errorf("rate %d: want 0 to %d", h.Rate, MaxRate)
	}
	return nil
}

// RecordWriter writes a results file: its Header, then Records, as compact
// NDJSON lines through a buffer. Call Flush when done.
type RecordWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

// NewRecordWriter returns a writer of a results file to w that starts with
// header h (its Results field is set to ResultsSchema).
func NewRecordWriter(w io.Writer, h Header) *RecordWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	h.Results = ResultsSchema
	rw := &RecordWriter{w: bw, enc: enc}
	if err := enc.Encode(h); err != nil {
		rw.err = fmt.Errorf("write results header: %w", err)
	}
	return rw
}

// Write appends one record as a line.
func (rw *RecordWriter) Write(r Record) error {
	if rw.err != nil {
		return rw.err
	}
	if err := rw.enc.Encode(r); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// Flush writes any buffered lines.
func (rw *RecordWriter) Flush() error {
	if rw.err != nil {
		return rw.err
	}
	if err := rw.w.Flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// ReplayFile re-judges a results file written with --save: it hands its
// judged records to sink in send order until sink says stop (as the live
// run would have stopped), counts its settle records as the settle phase,
// and checks the rest of the file. The judged records start where the live
// run's settle phase ended, and they stop at the first record the live run
// did not judge (phase after: its outcome may be an artefact of the stop);
// judged records after sink said stop are counted in Stats.Ignored. It
// returns the file's Header; a file of an older meshcheck, without one,
// gives the zero Header (Results ""): where it ran is then unknown. Errors
// name path:line.
func ReplayFile(path string, sink Sink) (Header, Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, Stats{}, fmt.Errorf("results file: %w", err)
	}
	defer f.Close()
	return replay(f, path, sink)
}

// replay is ReplayFile on a reader; name is used in errors.
func replay(r io.Reader, name string, sink Sink) (Header, Stats, error) {
	if sink == nil {
		return Header{}, Stats{}, errors.New("replay: no Sink to judge the records")
	}
	f := newFolder(sink, 0, nil)
	reason := StopEnd
	var (
		header Header
		next   uint64
		seen   bool
		lines  int
	)
	err := readLines(r, name, func(b []byte) error {
		lines++
		if lines == 1 {
			if h, ok, err := decodeHeader(b); ok || err != nil {
				header = h
				return err
			}
		}
		rec, err := decodeRecord(b)
		if err != nil {
			return err
		}
		switch {
		case rec.Phase == "":
			return errors.New(`no "phase": not a results file of this meshcheck (files written before send-order judging cannot be re-judged: run the probe again with --save)`)
		case seen && rec.Seq < next:
			return fmt.Errorf("seq %d after %d: a results file lists requests in send order, each once", rec.Seq, next-1)
		}
		seen, next = true, rec.Seq+1
		switch rec.Phase {
		case PhaseSettle:
			if f.stats.requests > 0 {
				return errors.New("a settle record after judged ones: the settle phase comes first")
			}
			f.settle.count(rec) // the file, not the rule, fixes where judging starts
		case PhaseJudged:
			if reason == StopEnd && f.after == 0 {
				if why := f.judge(rec); why != "" {
					reason = why
				}
			} else {
				f.ignored++
			}
		case PhaseAfter:
			f.after++
		}
		return nil
	})
	if err != nil {
		return Header{}, Stats{}, err
	}
	if f.stats.requests == 0 {
		return Header{}, Stats{}, fmt.Errorf("%s: no judged records", name)
	}
	f.ignored += f.after
	f.rateAsked = float64(header.Rate)
	return header, f.finish(reason), nil
}

// decodeHeader reads the first line of a results file: ok is false (and err
// nil) when the line is not a header but a record, as in files of older
// meshcheck versions.
func decodeHeader(b []byte) (h Header, ok bool, err error) {
	var probe struct {
		Results *string `json:"results"`
	}
	if json.NewDecoder(bytes.NewReader(b)).Decode(&probe) != nil || probe.Results == nil {
		return Header{}, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Header{}, true, fmt.Errorf("not a results header: %w", err)
	}
	if dec.More() {
		return Header{}, true, errors.New("more than one JSON value on the line")
	}
	if err := h.validate(); err != nil {
		return Header{}, true, err
	}
	return h, true, nil
}

// readLines calls fn for every non-blank line of r; an error from fn, a line
// too long or a read error is returned as name:line: error.
func readLines(r io.Reader, name string, fn func(b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxRecordLine)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if err := fn(b); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxRecordLine)
		}
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}

// decodeRecord parses and checks one record line.
func decodeRecord(b []byte) (Record, error) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return Record{}, fmt.Errorf("not a result record: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("more than one JSON value on the line")
	}
	if err := rec.validate(); err != nil {
		return Record{}, err
	}
	return rec, nil
}
