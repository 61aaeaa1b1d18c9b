package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

func sampleProbe(t *testing.T) Probe {
	t.Helper()
	exp := verify.Defaults()
	exp.Weights = []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}
	eng, err := verify.New(exp)
	if err != nil {
		t.Fatal(err)
	}
	eng.Record(verify.Observation{Status: 200, Version: "v1"}, 1500)
	eng.Record(verify.Observation{Status: 200, Version: "v2"}, 500)
	eng.Record(verify.Observation{Status: 404}, 3)
	eng.Evaluate()
	return Probe{
		Name: "ingress", Scenario: "echo", Step: "split-75-25", Vantage: "ingress",
		Target:   loadgen.Target{URL: "http://127.0.0.1:8080/echo", Host: "echo.local"},
		Emulated: true,
		Result:   eng.Result(),
		Stats: loadgen.Stats{RateAsked: 2000, RateAchieved: 1998.73, Requests: 2003, Ignored: 12,
			Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 1002 * time.Millisecond,
			Stopped: loadgen.StopDecided, StatusCodes: map[int]int64{200: 2000, 404: 3}, Errors: 3,
			Latency: loadgen.Latency{Mean: 900 * time.Microsecond, P50: 812 * time.Microsecond, P90: 1534 * time.Microsecond,
				P99: 4210 * time.Microsecond, Max: 12345 * time.Microsecond},
			ErrorSamples: []loadgen.Sample{{Status: 404, Text: "404 Not Found", Body: "no route\n", Count: 3}},
			Settle:       loadgen.SettleStats{Requests: 23, Duration: 11 * time.Millisecond, StatusCodes: map[int]int64{200: 20, 503: 3}}},
		Notes: []string{"VirtualService echo/echo-route sends 75% to subset v1"},
	}
}

func TestWriteProbeText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteProbeText(&buf, sampleProbe(t)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"target       GET http://127.0.0.1:8080/echo  (Host: echo.local)",
		"from         ingress",
		"emulated",
		"probe echo / split-75-25 / ingress",
		"rate         2,000/s asked, 1,998.7/s achieved",
		"requests     2,003 in 1s, stopped: verdict decided (12 more sent, not judged: in flight at the stop, or behind one that was)",
		"settle       23 requests in 11ms before judging (200: 20, 503: 3)",
		"status       200: 2,000   404: 3",
		"latency      p50 812µs   p90 1.53ms   p99 4.21ms   max 12.3ms",
		"errors       3",
		"404 x3: 404 Not Found",
		`body: "no route\n"`,
		"note         VirtualService echo/echo-route sends 75% to subset v1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unclassified") {
		t.Errorf("report shows an empty unclassified section:\n%s", out)
	}
}

func TestProbeTitle(t *testing.T) {
	if got := (Probe{Target: loadgen.Target{URL: "http://x/"}}).Title(); got != "probe http://x/" {
		t.Fatalf("title %q", got)
	}
	if got := (Probe{Stats: loadgen.Stats{Stopped: loadgen.StopEnd}}).Title(); got != "" {
		t.Fatalf("title of a replay %q", got)
	}
}

// TestWriteProbeTextReplay renders a replayed results file: no target, no
// asked rate.
func TestWriteProbeTextReplay(t *testing.T) {
	p := sampleProbe(t)
	p.Name, p.Scenario, p.Step, p.Vantage, p.Emulated, p.Notes = "", "", "", "", false, nil
	p.Target = loadgen.Target{}
	p.Stats.RateAsked, p.Stats.Stopped = 0, loadgen.StopEnd
	var buf bytes.Buffer
	if err := WriteProbeText(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "target") || strings.Contains(out, "asked") || !strings.Contains(out, "1,998.7/s achieved") ||
		!strings.Contains(out, "stopped: end of file") {
		t.Fatalf("replay report:\n%s", out)
	}
}

func TestProbeJSONRoundTrip(t *testing.T) {
	p := sampleProbe(t)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Probe
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Result, p.Result) || back.Stats.RateAchieved != p.Stats.RateAchieved ||
		back.Stats.Latency != p.Stats.Latency || back.Target.Host != "echo.local" || !back.Emulated {
		t.Fatalf("round trip:\n%+v\n%+v", back, p)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteProbeTextError(t *testing.T) {
	if err := WriteProbeText(failWriter{}, sampleProbe(t)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write error: %v", err)
	}
}
