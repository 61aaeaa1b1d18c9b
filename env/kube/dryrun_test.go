package kube

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// dryRunDocs splits writeDryRun's output into its documents: the heading
// comment, the object, and the comment lines (deletions) that follow it.
type dryRunDoc struct {
	comment string
	obj     *unstructured.Unstructured
	after   []string
}

func parseDryRun(t *testing.T, out string) []dryRunDoc {
	t.Helper()
	if !strings.HasPrefix(out, "---\n") {
		t.Fatalf("output does not start with a document:\n%s", out)
	}
	var docs []dryRunDoc
	for _, part := range strings.Split(out, "---\n")[1:] {
		comment, body, _ := strings.Cut(part, "\n")
		var d dryRunDoc
		d.comment = strings.TrimPrefix(comment, "# ")
		var m map[string]any
		if err := yaml.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("document %q: %v", comment, err)
		}
		d.obj = &unstructured.Unstructured{Object: m}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "# ") {
				d.after = append(d.after, strings.TrimPrefix(line, "# "))
			}
		}
		docs = append(docs, d)
	}
	return docs
}

// TestWriteDryRunEcho: every object of the echo scenario, labelled as
// meshcheck applies it, in make-before-break order, then the agent.
func TestWriteDryRunEcho(t *testing.T) {
	s := loadScenario(t, "../../scenarios/echo")
	var out bytes.Buffer
	if err := writeDryRun(&out, s, Images{Agent: "registry.example/meshcheck:v9.9.9"}); err != nil {
		t.Fatal(err)
	}
	docs := parseDryRun(t, out.String())
	var got []string
	for _, d := range docs {
		got = append(got, refOf(d.obj).String())
		l := d.obj.GetLabels()
		if l[LabelManagedBy] != ManagedBy || l[LabelScenario] != "echo" {
			t.Errorf("%s: labels %v, want meshcheck's", refOf(d.obj), l)
		}
		if !strings.HasPrefix(d.comment, "scenario echo, ") {
			t.Errorf("%s: heading %q", refOf(d.obj), d.comment)
		}
	}
	want := []string{
		"Namespace echo",
		"Service echo/echo-service", "Deployment echo/echo-deployment-v1", "Deployment echo/echo-deployment-v2", "DestinationRule echo/echo",
		"Gateway istio-system/ingressgateway", "VirtualService echo/echo-route",
		"ServiceAccount echo/meshcheck-agent", "Deployment echo/meshcheck-agent",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("objects\n got %q\nwant %q", got, want)
	}
	if docs[0].comment != "scenario echo, setup: phase make: apply Namespace echo" || docs[0].obj.GetLabels()[LabelInjection] != "enabled" {
		t.Errorf("first document %q, labels %v", docs[0].comment, docs[0].obj.GetLabels())
	}
	if !strings.Contains(docs[6].comment, "step 1/1 split-75-25: phase route: apply VirtualService echo/echo-route") {
		t.Errorf("VirtualService heading %q", docs[6].comment)
	}
	agent := docs[8].obj
	image, _, _ := unstructured.NestedSlice(agent.Object, "spec", "template", "spec", "containers")
	if len(image) != 1 || image[0].(map[string]any)["image"] != "registry.example/meshcheck:v9.9.9" || !strings.Contains(docs[8].comment, "in-mesh agent") {
		t.Errorf("agent Deployment %q: containers %v", docs[8].comment, image)
	}
	if tpl, _, _ := unstructured.NestedStringMap(docs[2].obj.Object, "spec", "template", "metadata", "labels"); tpl[LabelManagedBy] != ManagedBy {
		t.Errorf("Deployment template labels %v: pods would not carry meshcheck's labels", tpl)
	}
}

// TestWriteDryRunDeletes: steps that remove objects list the deletions in
// their phases; the agent appears once.
func TestWriteDryRunDeletes(t *testing.T) {
	s := loadScenario(t, "testdata/shift")
	var out bytes.Buffer
	if err := writeDryRun(&out, s, Images{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, w := range []string{
		"# scenario shift, step 3/4 v2: phase break: delete Deployment shift/echo-deployment-v1\n",
		"# scenario shift, step 4/4 unrouted: phase route: delete VirtualService shift/echo-route\n",
		"# scenario shift, step 4/4 unrouted: phase break: delete DestinationRule shift/echo\n",
		"image: " + AgentImage + "\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("dry run lacks %q:\n%s", w, text)
		}
	}
	if n := strings.Count(text, "apply Deployment shift/meshcheck-agent"); n != 1 {
		t.Errorf("agent Deployment written %d times, want once", n)
	}
	// The route deletion of step 4 comes before its break deletion.
	if strings.Index(text, "unrouted: phase route: delete") > strings.Index(text, "unrouted: phase break: delete") {
		t.Error("step 4 deletes the DestinationRule before the VirtualService that uses it")
	}
}

// TestWriteDryRunShowsTheProgrammedWait: each probe of each step has its
// programmed-wait plan, from the model's prediction for that step: the
// proxies, the route configuration, host and path, and the shares.
func TestWriteDryRunShowsTheProgrammedWait(t *testing.T) {
	var out bytes.Buffer
	if err := writeDryRun(&out, loadScenario(t, "../../scenarios/echo"), Images{}); err != nil {
		t.Fatal(err)
	}
	const host = "echo-service.echo.svc.cluster.local"
	for _, w := range []string{
		`# scenario echo, step 1/1 split-75-25: programmed wait for probe ingress: every ready ingress gateway pod in namespace istio-system (behind Service istio-ingressgateway); route configuration "http.8080" (`,
		"host echo.local, path /echo; expected shares (subset|host): v1|" + host + " 75%, v2|" + host + " 25%\n",
		`# scenario echo, step 1/1 split-75-25: programmed wait for probe in-mesh: the in-mesh agent's istio-proxy sidecar in namespace echo; route configuration "80"; host ` + host + ", path /echo; expected shares (subset|host): v1|" + host + " 75%, v2|" + host + " 25%\n",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := writeDryRun(&out, loadScenario(t, "testdata/shift"), Images{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	const shiftHost = "echo-service.shift.svc.cluster.local"
	for _, w := range []string{
		"step 1/4 v1: programmed wait for probe in-mesh: ",
		"step 2/4 v1-v2: programmed wait for probe in-mesh: ",
		"(subset|host): v1|" + shiftHost + " 75%, v2|" + shiftHost + " 25%\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("dry run lacks %q:\n%s", w, text)
		}
	}
	// Each step's plan follows that step's objects.
	if strings.Index(text, "step 2/4 v1-v2: programmed wait") < strings.Index(text, "step 2/4 v1-v2: phase") {
		t.Error("step 2's wait plan comes before its objects")
	}
}

// TestWriteDryRunThermoAgents: the thermo scenario's probes from mesh run
// as the agent's own account and as control, so the dry run shows both
// agents, the second running as the scenario's ServiceAccount control.
func TestWriteDryRunThermoAgents(t *testing.T) {
	s := loadScenario(t, "../../scenarios/thermo")
	var out bytes.Buffer
	if err := writeDryRun(&out, s, Images{}); err != nil {
		t.Fatal(err)
	}
	var agents []string
	for _, d := range parseDryRun(t, out.String()) {
		if !strings.HasPrefix(d.obj.GetName(), AgentName) {
			continue
		}
		ref := refOf(d.obj).String()
		if d.obj.GetKind() == "Deployment" {
			sa, _, _ := unstructured.NestedString(d.obj.Object, "spec", "template", "spec", "serviceAccountName")
			ref += " as " + sa
		}
		agents = append(agents, ref)
	}
	want := "ServiceAccount thermo/meshcheck-agent|Deployment thermo/meshcheck-agent as meshcheck-agent|Deployment thermo/meshcheck-agent-control as control"
	if got := strings.Join(agents, "|"); got != want {
		t.Errorf("agents in the dry run: %s, want %s", got, want)
	}
}
