package istio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/meshcheck/meshcheck/scenario"
)

// exitAnalyzeFindings is the exit status of `istioctl analyze` when it
// found errors (istioctl/pkg/analyze: FileParseError 78, AnalyzerFoundIssues
// 79): findings, not a failure to run.
const exitAnalyzeFindings = 79

// analyzeArgs is the argv (without istioctl itself) that analyzes manifest
// files without a cluster: --use-kube=false reads only the files, -A checks
// every namespace (without it istioctl checks only "default"), -o json for
// machine-readable messages.
func analyzeArgs(files []string) []string {
	return append([]string{"analyze", "--use-kube=false", "-A", "-o", "json"}, files...)
}

// Finding is one message of `istioctl analyze`, placed in the scenario's
// manifests.
type Finding struct {
	// Code is Istio's analysis code, e.g. IST0101.
	Code string
	// Level is Error, Warning or Info.
	Level string
	// Origin names the object, e.g. "VirtualService echo/echo-route".
	Origin string
	// Message is istioctl's sentence.
	Message string
	// File and Line locate the object's field in the scenario's manifests;
	// Line is 0 when istioctl gave no reference.
	File string
	Line int
	// Step names the first step whose state istioctl flags.
	Step string
}

// String is "file:line: IST0101 (Error) Origin: message (at step s)".
func (f Finding) String() string {
	where := f.File
	if f.Line > 0 {
		where += ":" + strconv.Itoa(f.Line)
	}
	if where != "" {
		where += ": "
	}
	return fmt.Sprintf("%s%s (%s) %s: %s (at step %s)", where, f.Code, f.Level, f.Origin, f.Message, f.Step)
}

// analyzeMessage is one element of `istioctl analyze -o json`.
type analyzeMessage struct {
	Code      string `json:"code"`
	Level     string `json:"level"`
	Message   string `json:"message"`
	Origin    string `json:"origin"`
	Reference string `json:"reference"`
}

// AnalyzeScenario runs `istioctl analyze` (analyzeArgs) through r on the
// state each step of s leaves (the objects in effect, each as written in
// its manifest), and returns istioctl's findings in step order, each
// reported once, placed at the manifest file and line of the field
// istioctl names. Exit status 0 and exitAnalyzeFindings are findings; any
// other status is an error quoting istioctl's output.
func AnalyzeScenario(ctx context.Context, r Runner, istioctl string, s *scenario.Scenario) ([]Finding, error) {
	dir, err := os.MkdirTemp("", "meshcheck-analyze-")
	if err != nil {
		return nil, fmt.Errorf("istioctl analyze: temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	var out []Finding
	seen := map[Finding]bool{}
	for i, st := range s.Steps {
		state := s.StateAt(i)
		file := filepath.Join(dir, "step-"+strconv.Itoa(i)+".yaml")
		starts, err := writeState(file, state)
		if err != nil {
			return nil, err
		}
		msgs, err := analyze(ctx, r, istioctl, file)
		if err != nil {
			return nil, fmt.Errorf("istioctl analyze of step %s: %w", st.Name, err)
		}
		for _, m := range msgs {
			f := Finding{Code: m.Code, Level: m.Level, Origin: m.Origin, Message: m.Message}
			f.File, f.Line = placeReference(m.Reference, file, starts, state)
			key := f
			if seen[key] {
				continue
			}
			seen[key] = true
			f.Step = st.Name
			out = append(out, f)
		}
	}
	return out, nil
}

// writeState writes the objects' documents to one file and returns the
// line each document starts on.
func writeState(file string, state []scenario.Object) ([]int, error) {
	var b bytes.Buffer
	starts := make([]int, len(state))
	line := 1
	for i, o := range state {
		if len(o.Raw) == 0 {
			return nil, fmt.Errorf("istioctl analyze: %s:%d: the document's text is not known", o.File, o.Line)
		}
		b.WriteString("---\n")
		line++
		starts[i] = line
		b.Write(o.Raw)
		if !bytes.HasSuffix(o.Raw, []byte("\n")) {
			b.WriteByte('\n')
		}
		line += bytes.Count(o.Raw, []byte("\n")) + boolInt(!bytes.HasSuffix(o.Raw, []byte("\n")))
	}
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("istioctl analyze: write %s: %w", file, err)
	}
	return starts, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeReference turns istioctl's "file:line" in the written state file
// into the manifest file and line of the same text.
func placeReference(ref, file string, starts []int, state []scenario.Object) (string, int) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || !strings.HasSuffix(ref[:i], filepath.Base(file)) {
		return "", 0
	}
	n, err := strconv.Atoi(ref[i+1:])
	if err != nil {
		return "", 0
	}
	for j := len(starts) - 1; j >= 0; j-- {
		if n >= starts[j] {
			return state[j].File, state[j].Line + n - starts[j]
		}
	}
	return "", 0
}

// analyze runs istioctl analyze on one file.
func analyze(ctx context.Context, r Runner, istioctl, file string) ([]analyzeMessage, error) {
	var stdout, stderr bytes.Buffer
	err := r.Run(ctx, Cmd{Path: istioctl, Args: analyzeArgs([]string{file}), Env: os.Environ(), Stdout: &stdout, Stderr: &stderr})
	var ee *ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Code == exitAnalyzeFindings) {
		return nil, fmt.Errorf("%s: %w: %s", istioctl, err, lastLines(stderr.String(), 5))
	}
	var msgs []analyzeMessage
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &msgs); err != nil {
		return nil, fmt.Errorf("%s: read its JSON output: %w: %s", istioctl, err, lastLines(stdout.String()+stderr.String(), 5))
	}
	return msgs, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
