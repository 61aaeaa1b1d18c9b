package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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
	rw := NewRecordWriter(f)
	exp := weights(t, "v1=75,v2=25")
	p := Probe{Target: Target{URL: srv.URL, Host: "echo.local"}, Options: fastOptions(20000),
		Classify: mustClassifier(t, "json:os.hostname"),
		Map:      VersionMap{"echo-v1-7d9f8b6c5d-x2x4z": "v1", "echo-v2-7d9f8b6c5d-x2x4z": "v2"}, Expect: exp}
	live, err := Run(context.Background(), p, OnRecord(rw.Write))
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

	eng, err := verify.New(exp)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := ReplayFile(path, eng)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(eng.Result(), live.Result) {
		t.Fatalf("replayed result differs:\n%+v\n%+v", eng.Result(), live.Result)
	}
	if stats.Requests != live.Stats.Requests || stats.Ignored != live.Stats.Ignored || stats.Stopped != StopDecided ||
		stats.Settle.Requests != live.Stats.Settle.Requests ||
		!reflect.DeepEqual(stats.StatusCodes, live.Stats.StatusCodes) || stats.Latency != live.Stats.Latency ||
		stats.RateAchieved != live.Stats.RateAchieved {
		t.Fatalf("replayed stats %+v\nlive %+v", stats, live.Stats)
	}

	// Judged against 50/50, the same traffic fails, and the lines after the
	// verdict are counted as ignored.
	eng, err = verify.New(weights(t, "v1=50,v2=50"))
	if err != nil {
		t.Fatal(err)
	}
	stats, err = ReplayFile(path, eng)
	if err != nil {
		t.Fatal(err)
	}
	if eng.Result().Verdict != verify.Fail || stats.Requests+stats.Ignored != live.Stats.Requests+live.Stats.Ignored ||
		stats.Ignored <= live.Stats.Ignored {
		t.Fatalf("50/50: %v after %d, %d ignored", eng.Result().Verdict, stats.Requests, stats.Ignored)
	}
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
		_, err = Replay(strings.NewReader(tc.in), "r.ndjson", eng)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Replay(%.60q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestRecordWriterCompact(t *testing.T) {
	var buf bytes.Buffer
	rw := NewRecordWriter(&buf)
	r := Record{Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Latency: 1500, Status: 0, Error: "dial tcp: <refused> & co"}
	if err := rw.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"seq":0,"t":"2025-01-02T03:04:05.000000006Z","latency":1500,"status":0,"error":"dial tcp: <refused> & co"}` + "\n"
	if buf.String() != want {
		t.Fatalf("line = %q\nwant   %q", buf.String(), want)
	}
	back, err := decodeRecord(bytes.TrimSpace(buf.Bytes()))
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
		_, err = Replay(bytes.NewReader(line), "f", eng)
		if judged := r.Phase == PhaseJudged; judged != (err == nil) {
			t.Fatalf("a valid %q line replays with error %v", r.Phase, err)
		}
	})
}
