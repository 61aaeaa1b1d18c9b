package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/meshcheck/meshcheck/docs"
)

// maxReportBytes bounds a report Decode reads.
const maxReportBytes = 256 << 20

// runJSON is the JSON form of a Run: its duration in seconds.
type runJSON struct {
	plainRun
	DurationSeconds float64 `json:"durationSeconds"`
}

// plainRun is Run without its JSON methods.
type plainRun Run

// MarshalJSON writes the run with its duration in seconds
// (durationSeconds), as Stats does.
func (r Run) MarshalJSON() ([]byte, error) {
	j := runJSON{plainRun: plainRun(r), DurationSeconds: r.Duration.Seconds()}
	if j.Scenarios == nil {
		j.Scenarios = []Scenario{}
	}
	if j.Probes == nil {
		j.Probes = []Probe{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes, rejecting unknown fields.
func (r *Run) UnmarshalJSON(b []byte) error {
	var j runJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*r = Run(j.plainRun)
	r.Duration = time.Duration(math.Round(j.DurationSeconds * 1e9))
	return nil
}

// WriteJSON writes the run as one indented JSON document.
func WriteJSON(w io.Writer, r Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// reportSchema is docs/report.schema.json, compiled once.
var reportSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(docs.ReportSchema))
	if err != nil {
		return nil, fmt.Errorf("report schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		return nil, fmt.Errorf("report schema: %w", err)
	}
	return c.Compile("report.schema.json")
})

// Decode reads a JSON report written by WriteJSON (`-o json`, or a
// --report-file ending in .json). It is strict: the document must be valid
// against docs/report.schema.json (this schema version, no unknown field,
// every required field present), and an error names the file (name) and
// the field, as a JSON pointer, or the line and column of a syntax error.
func Decode(rd io.Reader, name string) (Run, error) {
	data, err := io.ReadAll(io.LimitReader(rd, maxReportBytes+1))
	if err != nil {
		return Run{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxReportBytes {
		return Run{}, fmt.Errorf("%s: larger than %d MiB: not a meshcheck report", name, maxReportBytes>>20)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return Run{}, fmt.Errorf("%s: %w", name, syntaxError(data, err))
	}
	sch, err := reportSchema()
	if err != nil {
		return Run{}, err
	}
	if err := sch.Validate(doc); err != nil {
		return Run{}, fmt.Errorf("%s: %w", name, schemaError(err))
	}
	var r Run
	if err := json.Unmarshal(data, &r); err != nil {
		return Run{}, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// syntaxError places a JSON syntax error at its line and column.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("not JSON: %w", err)
	}
	before := data[:min(max(se.Offset-1, 0), int64(len(data)))]
	line := 1 + bytes.Count(before, []byte("\n"))
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// schemaError turns a schema violation into one line per offending field:
// "at /probes/0/result: missing property 'verdict'".
func schemaError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	p := message.NewPrinter(language.English)
	var lines []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			lines = append(lines, "at "+pointer(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(p))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return fmt.Errorf("not a %s report: %s", Schema, strings.Join(lines, "; "))
}

// pointer writes a location as a JSON pointer (RFC 6901), "/probes/0".
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}
