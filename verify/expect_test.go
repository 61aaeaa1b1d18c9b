package verify

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseWeights(t *testing.T) {
	good := map[string][]Weight{
		"v1=75,v2=25":            {{"v1", 75}, {"v2", 25}},
		" v1 = 60 , v2=30,v3=10": {{"v1", 60}, {"v2", 30}, {"v3", 10}},
		"stable=100":             {{"stable", 100}},
		"a=100,b=0":              {{"a", 100}, {"b", 0}},
	}
	for in, want := range good {
		got, err := ParseWeights(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseWeights(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                        "no weights given",
		"v1:75,v2:25":             `"v1:75" is not version=weight`,
		"v1=75,v2=15":             "weights sum to 90: they must sum to 100",
		"v1=75,v1=25":             "version v1 is given twice",
		"v1=75.5,v2=24.5":         "a weight is a whole number",
		"v1=-5,v2=105":            "a weight is a whole number",
		"v1=150":                  "a weight is a percent from 0 to 100",
		"-bad=100":                "is not a version name",
		"v1=75,,v2=25":            `"" is not version=weight`,
		"v1=75,v2=25,":            `"" is not version=weight`,
		"v1=99999999999999999999": "a weight is a whole number",
	}
	for in, want := range bad {
		_, err := ParseWeights(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWeights(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestParseCounts(t *testing.T) {
	got, err := ParseCounts("v1=740, v2=260,403=3")
	if want := []Count{{"v1", 740}, {"v2", 260}, {"403", 3}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCounts = %v, %v; want %v", got, err, want)
	}
	bad := map[string]string{
		"":            "no counts given",
		"v1=-1":       "a count is a whole number of at least 0",
		"v1=1.5":      "a count is a whole number of at least 0",
		"v1=1e3":      "a count is a whole number of at least 0",
		"v1=10,v1=20": "version v1 is given twice",
		"v1:10":       `"v1:10" is not version=count`,
	}
	for in, want := range bad {
		_, err := ParseCounts(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCounts(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	base := expect(t, "v1=75,v2=25")
	cases := map[string]func(*Expectation){
		"give weights or a status, not both":     func(e *Expectation) { e.Status = 403 },
		"give weights (v1=75,v2=25) or a status": func(e *Expectation) { e.Weights = nil },
		"tolerance 0: it must lie in (0, 1)":     func(e *Expectation) { e.Tolerance = 0 },
		"alpha 0.5: it must lie in (0, 0.5)":     func(e *Expectation) { e.Alpha = 0.5 },
		"error budget 1: it must lie in [0, 1)":  func(e *Expectation) { e.ErrorBudget = 1 },
		"budget -1: it must be at least 0":       func(e *Expectation) { e.UnexpectedBudget = -1 },
		"weights sum to 90":                      func(e *Expectation) { e.Weights = []Weight{{"a", 90}} },
	}
	for want, mutate := range cases {
		e := base
		mutate(&e)
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
		if _, err := New(e); err == nil {
			t.Errorf("New accepted an expectation Validate rejects (%q)", want)
		}
	}
	s := Defaults()
	s.Status = 700
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "from 100 to 599") {
		t.Errorf("Validate(status 700) = %v", err)
	}
}

// FuzzParseWeights: never panics; accepted weights are valid names, sum to
// 100, and round-trip through FormatWeights.
func FuzzParseWeights(f *testing.F) {
	for _, s := range []string{"v1=75,v2=25", "v1=60,v2=30,v3=10", "a=100", "v1:75", "v1=75,v1=25", "v1=+75,v2=025", " x = 50 , y=50", "v1=1e2", ",", "=", "v1=-0,v2=100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := ParseWeights(s)
		if err != nil {
			if ws != nil {
				t.Fatalf("ParseWeights(%q) returned weights with an error", s)
			}
			return
		}
		sum := 0
		for _, w := range ws {
			if !ValidVersionName(w.Version) || w.Percent < 0 || w.Percent > 100 {
				t.Fatalf("ParseWeights(%q) accepted %+v", s, w)
			}
			sum += w.Percent
		}
		if sum != 100 {
			t.Fatalf("ParseWeights(%q) accepted weights summing to %d", s, sum)
		}
		back, err := ParseWeights(FormatWeights(ws))
		if err != nil || !reflect.DeepEqual(back, ws) {
			t.Fatalf("round trip of %q via %q = %v, %v", s, FormatWeights(ws), back, err)
		}
	})
}

// FuzzParseCounts: never panics; accepted counts are non-negative with unique
// valid names, and round-trip through FormatCounts.
func FuzzParseCounts(f *testing.F) {
	for _, s := range []string{"v1=740,v2=260", "403=950,200=50", "v1=0", "v1=-1", "v1=1.5", "v1=10,v1=20", "v1=9223372036854775807", "v1=9223372036854775808", "v1:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseCounts(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if !ValidVersionName(c.Version) || c.N < 0 || seen[c.Version] {
				t.Fatalf("ParseCounts(%q) accepted %+v", s, c)
			}
			seen[c.Version] = true
		}
		back, err := ParseCounts(FormatCounts(cs))
		if err != nil || !reflect.DeepEqual(back, cs) {
			t.Fatalf("round trip of %q via %q = %v, %v", s, FormatCounts(cs), back, err)
		}
	})
}
