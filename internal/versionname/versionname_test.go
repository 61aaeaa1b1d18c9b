package versionname

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, s := range []string{"v1", "V2", "canary", "a", "v1.2-rc_3", strings.Repeat("a", 63)} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "-v1", "v1-", ".v", "v 1", "v/1", "ü", strings.Repeat("a", 64), "v1\n"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
}
