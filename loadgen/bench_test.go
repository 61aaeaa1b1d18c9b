package loadgen

import (
	"net/http"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshcheck/meshcheck/verify"
)

// BenchmarkRecordFold measures the per-response work meshcheck adds to an
// attack: classification (json:os.hostname with a version map), the verdict
// engine and the statistics, with results completing out of send order in
// pairs (1, 0, 3, 2, ...) so that the reorder buffer holds every other one.
func BenchmarkRecordFold(b *testing.B) {
	c, err := ParseClassifier("json:os.hostname")
	if err != nil {
		b.Fatal(err)
	}
	rc := newRecorder(c, VersionMap{"echo-v1": "v1", "echo-v2": "v2"})
	exp := verify.Defaults()
	exp.Weights = []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}
	exp.Tolerance = 0.0001 // never decides
	eng, err := verify.New(exp)
	if err != nil {
		b.Fatal(err)
	}
	f := newFolder(engineSink{eng}, 0, nil)
	bodies := [2][]byte{
		[]byte(`{"path":"/echo","os":{"hostname":"echo-v1"},"message":"Hello v1"}`),
		[]byte(`{"path":"/echo","os":{"hostname":"echo-v2"},"message":"Hello v2"}`),
	}
	res := &vegeta.Result{Code: 200, Timestamp: time.Now(), Latency: time.Millisecond, Headers: http.Header{}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res.Seq = uint64(i ^ 1)
		res.Body = bodies[0]
		if i%4 == 3 {
			res.Body = bodies[1]
		}
		if why, err := f.fold(rc.record(res)); why != "" || err != nil {
			b.Fatalf("stopped: %q %v", why, err)
		}
	}
}

// BenchmarkClassifyJSON measures the JSON classifier alone.
func BenchmarkClassifyJSON(b *testing.B) {
	c, err := ParseClassifier("json:os.hostname")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"path":"/echo","headers":{"host":"echo.local","user-agent":"Go-http-client/1.1","accept-encoding":"gzip"},"method":"GET","os":{"hostname":"echo-v1-7d9f8b6c5d-x2x4z"},"message":"Hello v1"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.classify(200, nil, body); err != nil {
			b.Fatal(err)
		}
	}
}
