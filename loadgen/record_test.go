package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshcheck/meshcheck/verify"
)

// TestSaveReplayRoundTrip saves a live run and re-judges the file: the same
// expectation gives the same result, another one its own verdict.
func TestSaveReplayRoundTrip(t *testing.T) {
	srv := newEchoServer(t, "echo.local", 9, share{"v1", 75}, share{"v2", 25})
	path := filepath.Join(t.TempDir(), "results.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	header := Header{Environment: "local", Emulated: true, Scenario: "echo", Step: "split", Probe: "ingress", From: "ingress",
		URL: srv.URL, Host: "echo.local", Rate: 2000}
	rw := NewRecordWriter(f, header)
	exp := weights(t, "v1=75,v2=25")
	p := judgedProbe{Target: Target{URL: srv.URL, Host: "echo.local"}, Options: fastOptions(20000),
		Classify: mustClassifier(t, "json:os.hostname"),
		Map:      VersionMap{"echo-v1-7d9f8b6c5d-x2x4z": "v1", "echo-v2-7d9f8b6c5d-x2x4z": "v2"}, Expect: exp}
	live, err := runJudged(context.Background(), p, OnRecord(rw.Write))
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if live.Result.Verdict != verify.Pass {
		t.Fatalf("live verdict %v", live.Result.Verdict)
	}

	h, re, err := replayed(t, path, exp)
	if err != nil {
		t.Fatal(err)
	}
	header.Results = ResultsSchema
	if h != header {
		t.Errorf("replayed header %+v, want %+v", h, header)
	}
	if !reflect.DeepEqual(re.Result, live.Result) {
		t.Fatalf("replayed result differs:\n%+v\n%+v", re.Result, live.Result)
	}
	stats := re.Stats
	if stats.RateAsked != 2000 {
		t.Errorf("replayed rate asked %v, want the header's 2000", stats.RateAsked)
	}
	if stats.Requests != live.Stats.Requests || stats.Ignored != live.Stats.Ignored || stats.Stopped != StopDecided ||
		stats.Settle.Requests != live.Stats.Settle.Requests ||
		!reflect.DeepEqual(stats.StatusCodes, live.Stats.StatusCodes) || stats.Latency != live.Stats.Latency ||
		stats.RateAchieved != live.Stats.RateAchieved {
		t.Fatalf("replayed stats %+v\nlive %+v", stats, live.Stats)
	}

	// Judged against 50/50, the same traffic fails, and the lines after the
	// verdict are counted as ignored.
	_, re, err = replayed(t, path, weights(t, "v1=50,v2=50"))
	if err != nil {
		t.Fatal(err)
	}
	stats = re.Stats
	if re.Result.Verdict != verify.Fail || stats.Requests+stats.Ignored != live.Stats.Requests+live.Stats.Ignored ||
		stats.Ignored <= live.Stats.Ignored {
		t.Fatalf("50/50: %v after %d, %d ignored", re.Result.Verdict, stats.Requests, stats.Ignored)
	}
}

// TestResultsHeader: the header line travels with the records; a file of an
// older meshcheck, without one, still replays, with the zero header; a
// header that is not this format's, or not first, is refused by line.
func TestResultsHeader(t *testing.T) {
	rec := `{"seq":0,"phase":"judged","t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v1"}`
	var buf bytes.Buffer
	rw := NewRecordWriter(&buf, Header{Results: "ignored", Environment: "kind", URL: "http://x/"})
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	wantLine := `{"results":"meshcheck.dev/results/v1","environment":"kind","emulated":false,"url":"http://x/"}` + "\n"
	if buf.String() != wantLine {
		t.Fatalf("header line %q, want %q", buf.String(), wantLine)
	}
	sink := sinkFunc(func(Record) bool { return false })
	h, stats, err := replay(strings.NewReader(buf.String()+rec+"\n"), "r.ndjson", sink)
	if err != nil || h.Environment != "kind" || h.Emulated || stats.Requests != 1 {
		t.Fatalf("with header: %+v %+v %v", h, stats, err)
	}
	h, stats, err = replay(strings.NewReader("\n"+rec+"\n"), "old.ndjson", sink)
	if err != nil || h != (Header{}) || stats.Requests != 1 {
		t.Fatalf("without header: %+v %+v %v", h, stats, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"results":"meshcheck.dev/results/v9"}` + "\n" + rec, `r.ndjson:1: results format "meshcheck.dev/results/v9": this meshcheck reads meshcheck.dev/results/v1`},
		{`{"results":"meshcheck.dev/results/v1","emulated":"yes"}` + "\n" + rec, "r.ndjson:1: not a results header"},
		{`{"results":"meshcheck.dev/results/v1","color":1}` + "\n" + rec, `r.ndjson:1: not a results header: json: unknown field "color"`},
		{`{"results":"meshcheck.dev/results/v1","rate":-3}` + "\n" + rec, "r.ndjson:1: rate -3"},
		{`{"results":"meshcheck.dev/results/v1"} {}` + "\n" + rec, "r.ndjson:1: more than one JSON value"},
		{rec + "\n" + `{"results":"meshcheck.dev/results/v1"}`, `r.ndjson:2: not a result record: json: unknown field "results"`},
	} {
		if _, _, err := replay(strings.NewReader(tc.in), "r.ndjson", sink); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay(%.70q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// FuzzResultsFile: whatever a results file holds, Replay returns a header and
// statistics or an error naming a line; never a panic, never judged records
// beyond what the file holds.
func FuzzResultsFile(f *testing.F) {
	rec := `{"seq":0,"phase":"judged","t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v1"}`
	for _, s := range []string{
		`{"results":"meshcheck.dev/results/v1","environment":"local","emulated":true}` + "\n" + rec,
		rec, `{"results":1}`, `{"results":"meshcheck.dev/results/v1"}`, "\n\n", `{"results":"meshcheck.dev/results/v1","rate":1e9}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int64
		sink := sinkFunc(func(Record) bool { n++; return false })
		h, stats, err := replay(bytes.NewReader(data), "f", sink)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if h.Results != "" && h.Results != ResultsSchema {
			t.Fatalf("header of format %q accepted", h.Results)
		}
		if stats.Requests != n || n == 0 || n > int64(bytes.Count(data, []byte("\n"))+1) {
			t.Fatalf("%d judged records in stats, %d handed to the sink", stats.Requests, n)
		}
	})
}

func TestReplayErrors(t *testing.T) {
	good := `{"seq":0,"phase":"judged","t":"2025-01-02T03:04:05.000000001Z","latency":1200000,"status":200,"version":"v1"}`
	rec := func(seq int, phase string) string {
		return fmt.Sprintf(`{"seq":%d,"phase":%q,"t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v1"}`, seq, phase)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "r.ndjson: no judged records"},
		{rec(0, "settle") + "\n" + rec(1, "after"), "r.ndjson: no judged records"},
		{`{"t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v1"}`, `r.ndjson:1: no "phase"`},
		{rec(0, "judged") + "\n" + rec(2, "judged") + "\n" + rec(1, "judged"), "r.ndjson:3: seq 1 after 2: a results file lists requests in send order"},
		{rec(0, "judged") + "\n" + rec(0, "judged"), "r.ndjson:2: seq 0 after 0"},
		{rec(0, "judged") + "\n" + rec(1, "settle"), "r.ndjson:2: a settle record after judged ones"},
		{rec(0, "warmup"), `r.ndjson:1: phase "warmup": want settle, judged or after`},
		{good + "\nnot json\n", "r.ndjson:2: not a result record"},
		{good + "\n" + `{"t":"2025-01-02T03:04:05Z","latency":1,"status":200,"extra":1}`, `r.ndjson:2: not a result record: json: unknown field "extra"`},
		{`{"latency":1,"status":200}`, "r.ndjson:1: missing send time"},
		{`{"t":"2025-01-02T03:04:05Z","latency":-1,"status":200}`, "negative"},
		{`{"t":"2025-01-02T03:04:05Z","latency":1,"status":0}`, "needs an error"},
		{`{"t":"2025-01-02T03:04:05Z","latency":1,"status":700}`, "status 700"},
		{`{"t":"2025-01-02T03:04:05Z","latency":1,"status":503,"version":"v1","error":"503"}`, "errors never have a version"},
		{`{"t":"2025-01-02T03:04:05Z","latency":1,"status":200,"version":"v 1"}`, "not a version name"},
		{good + " " + good, "more than one JSON value"},
		{strings.Repeat(" ", maxRecordLine+1), "r.ndjson:1: line longer than"},
	} {
		eng, err := verify.New(weights(t, "v1=100"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = replay(strings.NewReader(tc.in), "r.ndjson", engineSink{eng})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay(%.60q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestRecordWriterCompact(t *testing.T) {
	var buf bytes.Buffer
	rw := NewRecordWriter(&buf, Header{})
	r := Record{Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Latency: 1500, Status: 0, Error: "dial tcp: <refused> & co"}
	if err := rw.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"seq":0,"t":"2025-01-02T03:04:05.000000006Z","latency":1500,"status":0,"error":"dial tcp: <refused> & co"}` + "\n"
	_, line, _ := strings.Cut(buf.String(), "\n")
	if line != want {
		t.Fatalf("line = %q\nwant   %q", line, want)
	}
	back, err := decodeRecord([]byte(strings.TrimSpace(line)))
	if err != nil || back != r {
		t.Fatalf("decode: %+v, %v", back, err)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 6, "abc…"},
		{"ééééé", 7, "éé…"},
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want || len(got) > tc.n {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		`{"seq":0,"phase":"judged","t":"2025-01-02T03:04:05Z","latency":1200000,"status":200,"version":"v1"}`,
		`{"seq":3,"phase":"judged","t":"2025-01-02T03:04:05Z","latency":1,"status":0,"error":"refused"}`,
		`{"seq":7,"phase":"judged","t":"2025-01-02T03:04:05Z","latency":1,"status":200,"unclassified":"no field","body":"{}"}`,
		`{"t":"x"}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.ContainsAny(line, "\r\n") {
			return // a results file holds one record per line
		}
		r, err := decodeRecord(line)
		if err != nil {
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("decoded record fails validation: %v", err)
		}
		eng, err := verify.New(weights(t, "v1=100"))
		if err != nil {
			t.Fatal(err)
		}
		// One valid judged record replays; other phases hold nothing to judge.
		_, _, err = replay(bytes.NewReader(line), "f", engineSink{eng})
		if judged := r.Phase == PhaseJudged; judged != (err == nil) {
			t.Fatalf("a valid %q line replays with error %v", r.Phase, err)
		}
	})
}

// TestEarliestSentCarriesExcerpt completes every result in reverse send
// order, so the one the verdict sees first completes last, long after the
// count rule stopped taking excerpts: it must still carry one, for an
// unclassified response and for an error.
func TestEarliestSentCarriesExcerpt(t *testing.T) {
	c, err := ParseClassifier("json:os.hostname")
	if err != nil {
		t.Fatal(err)
	}
	rc := newRecorder(c, VersionMap{"echo-v1": "v1"})
	const n = 1000
	bodies := 0
	var first, firstErr Record
	for seq := n - 1; seq >= 0; seq-- {
		res := &vegeta.Result{Seq: uint64(seq), Code: 200, Timestamp: time.Now(), Body: []byte(`{"os":{"hostname":"echo-v3"}}`)}
		if seq%2 == 1 {
			res.Code, res.Body = 503, []byte("no healthy upstream")
		}
		r := rc.record(res)
		if r.Body != "" {
			bodies++
		}
		switch seq {
		case 0:
			first = r
		case 1:
			firstErr = r
		}
	}
	if first.Unclassified == "" || !strings.Contains(first.Body, "echo-v3") {
		t.Errorf("earliest unclassified record = %+v, want a body excerpt", first)
	}
	if firstErr.Error == "" || firstErr.Body != "no healthy upstream" {
		t.Errorf("earliest error record = %+v, want a body excerpt", firstErr)
	}
	// In a random completion order the excerpts stay few: the first 8,
	// the powers of two (10 more up to 10,000) and about ln(n) running
	// minima (9.8 expected for 10,000).
	rc = newRecorder(c, VersionMap{"echo-v1": "v1"})
	bodies = 0
	for _, seq := range rand.New(rand.NewPCG(1, 2)).Perm(10000) {
		r := rc.record(&vegeta.Result{Seq: uint64(seq), Code: 200, Timestamp: time.Now(), Body: []byte(`{"os":{"hostname":"echo-v3"}}`)})
		if r.Body != "" {
			bodies++
		}
	}
	if bodies > 40 {
		t.Errorf("%d of 10,000 records in random order carry an excerpt, want at most 40", bodies)
	}
}
