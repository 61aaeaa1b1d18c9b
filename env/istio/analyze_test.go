package istio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/scenario"
)

// runnerFunc plays istioctl with a function.
type runnerFunc func(ctx context.Context, c Cmd) error

func (f runnerFunc) Run(ctx context.Context, c Cmd) error { return f(ctx, c) }

// lineOf returns the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, s)
	return 0
}

func TestAnalyzeScenarioPlacesFindingsInTheManifests(t *testing.T) {
	s, _, err := scenario.Load(filepath.Join("..", "..", "scenarios", "echo"))
	if err != nil {
		t.Fatal(err)
	}
	var args [][]string
	r := runnerFunc(func(_ context.Context, c Cmd) error {
		args = append(args, c.Args)
		file := c.Args[len(c.Args)-1]
		// istioctl names the state file and the line of the subset field.
		fmt.Fprintf(c.Stdout, `[{"code":"IST0101","level":"Error","message":"Referenced host+subset in destinationrule not found: \"echo-service+v2\"","origin":"VirtualService echo/echo-route","reference":"%s:%d"}]`,
			file, lineOf(t, file, "subset: v2"))
		return &ExitError{Code: exitAnalyzeFindings}
	})
	findings, err := AnalyzeScenario(context.Background(), r, "istioctl", s)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != len(s.Steps) || !slices.Equal(args[0][:5], []string{"analyze", "--use-kube=false", "-A", "-o", "json"}) {
		t.Fatalf("istioctl ran with %q", args)
	}
	routing := filepath.Join(filepath.Join("..", "..", "scenarios", "echo"), "manifests", "routing.yaml")
	want := Finding{Code: "IST0101", Level: "Error", Origin: "VirtualService echo/echo-route",
		Message: `Referenced host+subset in destinationrule not found: "echo-service+v2"`,
		File:    routing, Line: lineOf(t, routing, "subset: v2"), Step: "split-75-25"}
	if len(findings) != 1 || findings[0] != want {
		t.Fatalf("findings %+v, want %+v", findings, want)
	}
	if got := want.String(); !strings.HasPrefix(got, fmt.Sprintf("%s:%d: IST0101 (Error) VirtualService echo/echo-route: ", routing, want.Line)) {
		t.Errorf("String() = %q", got)
	}
}

func TestAnalyzeScenarioFailsWhenIstioctlFails(t *testing.T) {
	s, _, err := scenario.Load(filepath.Join("..", "..", "scenarios", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	r := runnerFunc(func(_ context.Context, c Cmd) error {
		fmt.Fprint(c.Stderr, "Error: unknown flag: --use-kube\n")
		return &ExitError{Code: 1}
	})
	_, err = AnalyzeScenario(context.Background(), r, "/bin/istioctl", s)
	if err == nil || !strings.Contains(err.Error(), "step split-100-0") || !strings.Contains(err.Error(), "unknown flag") {
		t.Fatalf("error %v, want the step and istioctl's message", err)
	}
	r = runnerFunc(func(_ context.Context, c Cmd) error {
		fmt.Fprint(c.Stdout, "not json")
		return nil
	})
	if _, err := AnalyzeScenario(context.Background(), r, "/bin/istioctl", s); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Fatalf("error %v, want a JSON error", err)
	}
}
