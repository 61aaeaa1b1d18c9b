package verify

import (
	"strings"
	"testing"
)

// A condition rides on the status line: the responses with the status that
// fail the condition count as misses, judged by the status line's test.
func TestConditionOnStatusLine(t *testing.T) {
	exp := Defaults()
	exp.Condition = "headers x present (in response)"
	if err := exp.Validate(); err == nil || !strings.Contains(err.Error(), "judged with a status") {
		t.Fatalf("condition without status: %v", err)
	}
	exp.Status = 200
	for _, tc := range []struct {
		name  string
		every int // every n-th response fails the condition (0: none)
		want  Verdict
	}{{"all met", 0, Pass}, {"every 5th unmet", 5, Fail}} {
		t.Run(tc.name, func(t *testing.T) {
			eng, err := New(exp)
			if err != nil {
				t.Fatal(err)
			}
			v := Inconclusive
			for i := 1; i <= 100000 && v == Inconclusive; i++ {
				v = eng.Observe(Observation{Status: 200, Unmet: tc.every > 0 && i%tc.every == 0})
			}
			r := eng.Result()
			if v != tc.want || r.Lines[0].Name != "status 200 with "+exp.Condition {
				t.Fatalf("verdict %v, line %q", v, r.Lines[0].Name)
			}
		})
	}
	// Without a condition, Unmet is not looked at.
	plain := Defaults()
	plain.Status = 200
	eng, err := New(plain)
	if err != nil {
		t.Fatal(err)
	}
	v := Inconclusive
	for i := 0; i < 100000 && v == Inconclusive; i++ {
		v = eng.Observe(Observation{Status: 200, Unmet: true})
	}
	if v != Pass {
		t.Fatalf("status without condition: %v", v)
	}
}
