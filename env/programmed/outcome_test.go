package programmed

import (
	"testing"

	"github.com/meshcheck/meshcheck/mesh"
)

func TestOutcomesCompareSharesAndStates(t *testing.T) {
	res := mesh.Resolution{Destinations: []mesh.Destination{
		{Host: "h", Subset: "v1", Weight: 75}, {Host: "h", Subset: "v3", Weight: 25, Status: 503, Reason: "no cluster (NC)"}, {Host: "h", Subset: "v2", Weight: 0}}}
	r := Route{Clusters: []WeightedCluster{{Name: "outbound|80|v1|h", Weight: 3}, {Name: "outbound|80|v3|h", Weight: 1}}}
	got := FromEnvoy(r, func(c string) (bool, int) { return c == "outbound|80|v1|h", 1 })
	if m := FromModel(res); !m.Equal(got) {
		t.Errorf("model %s, envoy %s", m, got)
	}
	pass := FromEnvoy(Route{Clusters: []WeightedCluster{{Name: "PassthroughCluster", Weight: 1}}}, nil)
	if !pass.Equal(FromModel(mesh.Resolution{Status: 404})) {
		t.Errorf("passthrough %s is not the model's 404", pass)
	}
	if FromModel(mesh.Resolution{Status: 404}).Equal(got) {
		t.Error("404 equals a routed outcome")
	}
}
