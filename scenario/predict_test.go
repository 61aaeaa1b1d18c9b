package scenario

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPercents(t *testing.T) {
	for _, c := range []struct {
		shares map[string]float64
		want   string
	}{
		{map[string]float64{"v1": 0.75, "v2": 0.25}, "v1=75,v2=25"},
		{map[string]float64{"a": 1.0 / 3, "b": 1.0 / 3, "c": 1.0 / 3}, "a=34,b=33,c=33"},
		{map[string]float64{"v1": 1.0 / 3, "v2": 2.0 / 3}, "v1=33,v2=67"},
		{map[string]float64{"v1": 0.5, "v2": 0.25}, "v1=67,v2=33"}, // normalised: 25% errors left out
		{map[string]float64{"v1": 1}, "v1=100"},
		{map[string]float64{"v1": 0.005, "v2": 0.995}, "v1=1,v2=99"},
		{map[string]float64{}, ""},
		{map[string]float64{"v1": 0}, ""},
	} {
		var parts []string
		for _, w := range percents(c.shares) {
			parts = append(parts, fmt.Sprintf("%s=%d", w.Version, w.Percent))
		}
		if got := strings.Join(parts, ","); got != c.want {
			t.Errorf("percents(%v) = %s, want %s", c.shares, got, c.want)
		}
	}
	// Property, over 10,000 seeded random splits of 1 to 6 versions: the
	// percents sum to 100 and each is its exact share rounded down or up.
	rnd := rand.New(rand.NewPCG(7, 11))
	for range 10000 {
		shares := map[string]float64{}
		total := 0.0
		for i := range 1 + rnd.IntN(6) {
			x := rnd.Float64()
			shares[fmt.Sprintf("v%d", i)] = x
			total += x
		}
		sum := 0
		for _, w := range percents(shares) {
			sum += w.Percent
			exact := 100 * shares[w.Version] / total
			if float64(w.Percent) < exact-1 || float64(w.Percent) > exact+1 {
				t.Fatalf("percents(%v): %s=%d, exact %.3f", shares, w.Version, w.Percent, exact)
			}
		}
		if sum != 100 {
			t.Fatalf("percents(%v) sums to %d", shares, sum)
		}
	}
}

// The prediction of tutorial 004 follows the destination's sidecar: the
// thermostat refuses the agent (403, naming the policy) and admits
// control's identity; control's embedded versions are beyond the model.
// With the policy allowing everyone, the 403 expectation disagrees, and
// the note says which policy let the request in.
func TestPredictAuthorization(t *testing.T) {
	thermo := "../scenarios/thermo"
	s, ws, err := Load(thermo)
	if err != nil || len(ws) != 0 {
		t.Fatalf("Load: %v, warnings %v", err, ws)
	}
	prediction := func(s *Scenario, name string) (Probe, Prediction) {
		t.Helper()
		for _, p := range s.Steps[0].Probes {
			if p.Name == name {
				pr, err := s.Predict(0, p)
				if err != nil {
					t.Fatal(err)
				}
				return p, pr
			}
		}
		t.Fatalf("no probe %s", name)
		return Probe{}, Prediction{}
	}
	p, pr := prediction(s, "thermostat-denied")
	exp := p.Expectation(nil)
	if pr.Denied != 1 || pr.DeniedStatus != 403 || pr.Disagrees(exp) {
		t.Errorf("thermostat-denied: denied %v status %d disagrees %v, want all refused with 403", pr.Denied, pr.DeniedStatus, pr.Disagrees(exp))
	}
	notes := strings.Join(pr.Notes(p, exp), "\n")
	for _, w := range []string{"thermo/thermostat", "cluster.local/ns/thermo/sa/meshcheck-agent", "default deny", "RBAC: access denied"} {
		if !strings.Contains(notes, w) {
			t.Errorf("thermostat-denied notes %q lack %q", notes, w)
		}
	}
	p, pr = prediction(s, "thermostat-as-control")
	if exp := p.Expectation(nil); pr.Denied != 0 || pr.Disagrees(exp) {
		t.Errorf("thermostat-as-control: denied %v, disagrees %v, want admitted", pr.Denied, pr.Disagrees(exp))
	}
	if got := p.SourceIdentity(s.SourceNamespace()).Principal(); got != "cluster.local/ns/thermo/sa/control" {
		t.Errorf("thermostat-as-control runs as %s", got)
	}
	p, pr = prediction(s, "control")
	if exp := p.Expectation(nil); !pr.Opaque || pr.Disagrees(exp) {
		t.Errorf("control: opaque %v, disagrees %v, want no split predicted and no disagreement", pr.Opaque, pr.Disagrees(exp))
	}

	dir := copyDir(t, thermo)
	edit(t, dir+"/manifests/policy.yaml", "  rules:\n    - from:\n        - source:\n            principals:\n              - cluster.local/ns/thermo/sa/control\n", "  rules:\n    - {}\n", 1)
	open, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || !strings.Contains(ws[0].Msg, "thermostat-denied expects status 403") || !strings.Contains(ws[0].Msg, "thermo/thermostat") {
		t.Errorf("allow-all warnings %v, want one naming the probe and the policy", ws)
	}
	p, pr = prediction(open, "thermostat-denied")
	exp = p.Expectation(nil)
	if !pr.Disagrees(exp) {
		t.Errorf("allow-all: the 403 expectation does not disagree (denied %v)", pr.Denied)
	}
	if notes := strings.Join(pr.Notes(p, exp), "\n"); !strings.Contains(notes, "ALLOW AuthorizationPolicy thermo/thermostat rules[0] matches") || !strings.Contains(notes, "not the expected status 403") {
		t.Errorf("allow-all notes %q: want the policy that admits the request", notes)
	}
}

// A probe's serviceAccount that no manifest creates is a warning (the
// cluster agent could not run as it); thermo's control is created.
func TestServiceAccountNotCreated(t *testing.T) {
	dir := copyDir(t, "../scenarios/thermo")
	edit(t, dir+"/scenario.yaml", "serviceAccount: control", "serviceAccount: contrl", 1)
	_, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Besides: the thermostat refuses contrl.
	if len(ws) != 2 || ws[0].Field != "spec.steps[0].probes[4].serviceAccount" || !strings.Contains(ws[0].Msg, "ServiceAccount contrl, which no manifest in effect creates in namespace thermo") ||
		!strings.Contains(ws[1].Msg, "from cluster.local/ns/thermo/sa/contrl") {
		t.Errorf("warnings %v, want one on the probe's serviceAccount and one on its 403", ws)
	}
}
