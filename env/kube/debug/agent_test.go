package debug

import (
	"testing"

	"github.com/meshcheck/meshcheck/env/kube"
)

func TestIsAgent(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"app": kube.AgentName}, true},
		{map[string]string{"app": kube.AgentName + "-control", kube.LabelManagedBy: kube.ManagedBy}, true},
		{map[string]string{"app": kube.AgentName + "-control"}, false}, // not meshcheck's
		{map[string]string{"app": "thermostat", kube.LabelManagedBy: kube.ManagedBy}, false},
		{nil, false},
	} {
		if got := isAgent(c.labels); got != c.want {
			t.Errorf("isAgent(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
}
