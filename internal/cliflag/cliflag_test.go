package cliflag

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/meshcheck/meshcheck/verify"
)

func parse(t *testing.T, args ...string) (*Expect, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e := AddExpect(fs)
	return e, fs.Parse(args)
}

func TestExpectDefaultsAndValues(t *testing.T) {
	e, err := parse(t, "--expect", "v1=75,v2=25")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := e.Expectation()
	if err != nil {
		t.Fatal(err)
	}
	want := verify.Defaults()
	want.Weights = []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}
	if verify.FormatWeights(exp.Weights) != "v1=75,v2=25" || exp.Tolerance != want.Tolerance || exp.Alpha != want.Alpha ||
		exp.ErrorBudget != want.ErrorBudget || exp.Relative || exp.UnexpectedBudget != 0 || exp.Status != 0 {
		t.Fatalf("expectation %+v", exp)
	}
	e, err = parse(t, "--expect-status", "403", "--tolerance", "0.02", "--alpha", "0.01", "--error-budget", "0",
		"--unexpected-budget", "7", "--relative")
	if err != nil {
		t.Fatal(err)
	}
	exp, err = e.Expectation()
	if err != nil {
		t.Fatal(err)
	}
	if exp.Status != 403 || exp.Tolerance != 0.02 || exp.Alpha != 0.01 || exp.ErrorBudget != 0 || exp.UnexpectedBudget != 7 || !exp.Relative {
		t.Fatalf("expectation %+v", exp)
	}
}

func TestExpectErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--expect", "v1=75"}, `invalid argument "v1=75" for "--expect" flag: `},
		{[]string{"--expect-status", "99"}, `for "--expect-status" flag: an HTTP status from 100 to 599`},
		{[]string{"--tolerance", "0"}, `for "--tolerance" flag: a number in (0, 1)`},
		{[]string{"--tolerance", "NaN"}, `for "--tolerance" flag: a number in (0, 1)`},
		{[]string{"--alpha", "0.5"}, `for "--alpha" flag: a number in (0, 0.5)`},
		{[]string{"--error-budget", "-0.1"}, `for "--error-budget" flag: a number in [0, 1)`},
		{[]string{"--unexpected-budget", "2147483648"}, `for "--unexpected-budget" flag: a whole number from 0 to 2147483647`},
		{[]string{"--unexpected-budget", "x"}, `for "--unexpected-budget" flag`},
	} {
		if _, err := parse(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--expect is required"},
		{[]string{"--expect", "v1=75,v2=25", "--expect-status", "403"}, "give one of them, not both"},
		{[]string{"--expect", "v1=90,v2=10", "--tolerance", "0.1"}, "expectation: tolerance 0.1"},
	} {
		e, err := parse(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if _, err := e.Expectation(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestValues(t *testing.T) {
	var counts []verify.Count
	var n int64
	var x float64
	var k int
	var word string
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(Counts{&counts}, "counts", "")
	fs.Var(Count{&n}, "n", "")
	fs.Var(Float{&x, 0, 1, true, "in [0, 1)"}, "x", "")
	fs.Var(Int{&k, -2, 2, "from -2 to 2"}, "k", "")
	fs.Var(Choice{&word, []string{"a", "b", "c"}}, "word", "")
	if err := fs.Parse([]string{"--counts", "v1=3,v2=0", "--n", "9", "--x", "0", "--k", "-2", "--word", "b"}); err != nil {
		t.Fatal(err)
	}
	if verify.FormatCounts(counts) != "v1=3,v2=0" || n != 9 || x != 0 || k != -2 || word != "b" {
		t.Fatalf("parsed %v %d %v %d %q", counts, n, x, k, word)
	}
	for name, want := range map[string]string{"counts": "v1=3,v2=0", "n": "9", "x": "0", "k": "-2", "word": "b"} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s prints %q, want %q", name, got, want)
		}
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"n", "-1", "a whole number of at least 0"},
		{"n", "1.5", "a whole number of at least 0"},
		{"x", "1", "in [0, 1)"},
		{"x", "-Inf", "in [0, 1)"},
		{"k", "3", "from -2 to 2"},
		{"word", "d", "want a, b or c"},
		{"counts", "v1", "not version=count"},
	} {
		if err := fs.Set(tc.flag, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--%s %s: %v, want %q", tc.flag, tc.value, err, tc.want)
		}
	}
	if (Float{}).String() != "0" || (Int{}).String() != "0" || (Count{}).String() != "0" || (Choice{}).String() != "" ||
		(Weights{}).String() != "" || (Counts{}).String() != "" {
		t.Error("a zero value does not print as its zero")
	}
}

// FuzzFloat: whatever the text, Set either refuses it or stores a number
// within the bounds.
func FuzzFloat(f *testing.F) {
	for _, s := range []string{"0", "0.5", "1", "-0", "NaN", "1e-400", "0x1p-2", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x := -1.0
		v := Float{&x, 0, 0.5, false, "a number in (0, 0.5)"}
		if err := v.Set(s); err != nil {
			if x != -1 {
				t.Fatalf("Set(%q) failed but stored %v", s, x)
			}
			return
		}
		if !(x > 0 && x < 0.5) {
			t.Fatalf("Set(%q) stored %v, outside (0, 0.5)", s, x)
		}
	})
}
