package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

const (
	echoDir  = "../scenarios/echo"
	helloDir = "../scenarios/hello"
)

func TestScenarioLoadEcho(t *testing.T) {
	s, warnings, err := Load(echoDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("unexpected warning: %s", w)
	}
	if s.Dir != echoDir || s.File != filepath.Join(echoDir, "scenario.yaml") {
		t.Errorf("Dir %q File %q", s.Dir, s.File)
	}
	if s.Metadata.Name != "echo" || !strings.Contains(s.Metadata.Title, "75/25") {
		t.Errorf("metadata %+v", s.Metadata)
	}
	if !reflect.DeepEqual(s.Namespaces, []Namespace{{Name: "echo", Injection: true}}) {
		t.Errorf("namespaces %+v", s.Namespaces)
	}
	want := Settings{Rate: 100, Tolerance: verify.DefaultTolerance, Alpha: verify.DefaultAlpha,
		ErrorBudget: verify.DefaultErrorBudget, MaxRequests: verify.DefaultMaxRequests, MaxDuration: 120 * time.Second}
	if s.Defaults != want {
		t.Errorf("defaults %+v, want %+v", s.Defaults, want)
	}
	if len(s.Steps) != 1 || s.Steps[0].Name != "split-75-25" || len(s.Steps[0].Probes) != 2 {
		t.Fatalf("steps %+v", s.Steps)
	}
	st := s.Steps[0]
	in, mp := st.Probes[0], st.Probes[1]
	wantWeights := []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}
	if in.Name != "ingress" || in.From != mesh.Ingress || in.Request.Host != "echo.local" || in.Request.Path != "/echo" ||
		in.Request.Method != "GET" || in.Request.URL != "" {
		t.Errorf("ingress probe %+v", in)
	}
	if mp.Name != "in-mesh" || mp.From != mesh.Mesh || mp.Request.URL != "http://echo-service.echo.svc.cluster.local/echo" {
		t.Errorf("mesh probe %+v", mp)
	}
	for _, p := range st.Probes {
		if !reflect.DeepEqual(p.Classify, Classify{By: "json:os.hostname", PodLabel: "version"}) {
			t.Errorf("%s classify %+v", p.Name, p.Classify)
		}
		if !reflect.DeepEqual(p.Expect, Expect{Weights: wantWeights}) {
			t.Errorf("%s expect %+v", p.Name, p.Expect)
		}
		if p.Settings != want {
			t.Errorf("%s settings %+v", p.Name, p.Settings)
		}
	}
	if len(st.Apply) != 2 || st.Apply[0].File != "manifests/echo.yaml" || st.Apply[1].File != "manifests/routing.yaml" {
		t.Fatalf("apply %+v", st.Apply)
	}
	var kinds []string
	for _, m := range st.Apply {
		for _, o := range m.Objects {
			kinds = append(kinds, reflect.TypeOf(o.Object).String())
			if o.File != filepath.Join(echoDir, m.File) {
				t.Errorf("object file %q", o.File)
			}
			if !strings.HasPrefix(string(o.Raw), "apiVersion:") {
				t.Errorf("%s:%d: Raw starts %q", o.File, o.Line, string(o.Raw[:min(20, len(o.Raw))]))
			}
			if got := lineOf(t, o.File, "apiVersion:", countBefore(t, o.File, o.Line, "apiVersion:")); got != o.Line {
				t.Errorf("%s: object line %d, its apiVersion is on line %d", o.File, o.Line, got)
			}
		}
	}
	wantKinds := []string{"*v1.Deployment", "*v1.Deployment", "*v1.Service", "*v1.DestinationRule", "*v1.Gateway", "*v1.VirtualService"}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("kinds %v, want %v", kinds, wantKinds)
	}
	d := st.Apply[0].Objects[0].Object.(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	if !strings.HasPrefix(c.Image, "mendhak/http-https-echo:") || !strings.Contains(c.Image, "@sha256:") {
		t.Errorf("image %q is not pinned by tag and digest", c.Image)
	}
	if c.Ports[0].ContainerPort != 8080 || c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil ||
		*c.SecurityContext.AllowPrivilegeEscalation || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("container %+v", c)
	}
	if svc := st.Apply[0].Objects[2].Object.(*corev1.Service); svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}
	vs := st.Apply[1].Objects[1].Object.(*networkingv1.VirtualService)
	if !reflect.DeepEqual(vs.Spec.Gateways, []string{"istio-system/ingressgateway", "mesh"}) ||
		!reflect.DeepEqual(vs.Spec.Hosts, []string{"echo-service.echo.svc.cluster.local", "echo.local"}) {
		t.Errorf("virtual service %+v", &vs.Spec)
	}
	if got := vs.GetObjectKind().GroupVersionKind().Kind; got != "VirtualService" {
		t.Errorf("decoded object kind %q", got)
	}
}

// countBefore returns how many lines of file up to line contain substr.
func countBefore(t *testing.T, file string, line int, substr string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 > line {
			break
		}
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func TestScenarioLoadHello(t *testing.T) {
	s, warnings, err := Load(helloDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("unexpected warning: %s", w)
	}
	var names []string
	for _, st := range s.Steps {
		names = append(names, st.Name)
		if len(st.Probes) != 2 || st.Probes[0].From != mesh.Ingress || st.Probes[1].From != mesh.Mesh {
			t.Errorf("step %s probes %+v", st.Name, st.Probes)
		}
		for _, p := range st.Probes {
			want := map[string]string{"Hello V1": "v1", "Hello V2": "v2"}
			if p.Classify.By != "json:message" || !reflect.DeepEqual(p.Classify.Values, want) || p.Classify.PodLabel != "" {
				t.Errorf("%s/%s classify %+v", st.Name, p.Name, p.Classify)
			}
			if p.VersionLabel() != "version" {
				t.Errorf("version label %q", p.VersionLabel())
			}
		}
	}
	if want := []string{"split-100-0", "split-50-50", "split-0-100"}; !reflect.DeepEqual(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
	for i, want := range [][2]int32{{100, 0}, {50, 50}, {0, 100}} {
		var vs *networkingv1.VirtualService
		for _, o := range s.StateAt(i) {
			if v, ok := o.Object.(*networkingv1.VirtualService); ok {
				if vs != nil {
					t.Fatalf("step %d: two VirtualServices in effect", i)
				}
				vs = v
			}
		}
		if vs == nil {
			t.Fatalf("step %d: no VirtualService in effect", i)
		}
		r := vs.Spec.Http[0].Route
		if r[0].Weight != want[0] || r[1].Weight != want[1] {
			t.Errorf("step %d: VirtualService weights %d/%d, want %v", i, r[0].Weight, r[1].Weight, want)
		}
		if p := s.Steps[i].Probes[0]; p.Expect.Weights[0].Percent != int(want[0]) || p.Expect.Weights[1].Percent != int(want[1]) {
			t.Errorf("step %d: probe expects %v", i, p.Expect.Weights)
		}
		for _, o := range s.StateAt(i) {
			if d, ok := o.Object.(*appsv1.Deployment); ok {
				c := d.Spec.Template.Spec.Containers[0]
				if c.Image != "meshcheck.local/fixture:v0.1.0" || c.ImagePullPolicy != corev1.PullIfNotPresent || c.Args[0] != "hello" {
					t.Errorf("deployment %s container %+v", d.Name, c)
				}
			}
		}
	}
}

// A copy of scenarios/echo with a misspelt field in scenario.yaml yields an
// error naming scenario.yaml:<line> and the field (issue 4 acceptance).
func TestScenarioMisspeltFieldInEchoCopy(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "            weights:", "            wieghts:", 2)
	_, _, err := Load(dir)
	line := lineOf(t, file, "wieghts:", 1)
	wantError(t, err, file, line, "spec.steps[0].probes[1].expect.wieghts",
		`unknown field "wieghts"`, "allowed here: weights, status, fromConfig", `did you mean "weights"`)
	if want := "scenario.yaml:" + strconv.Itoa(line) + ": spec.steps[0].probes[1].expect.wieghts: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestScenarioTestdataMisspeltField(t *testing.T) {
	dir := "testdata/misspelt-field"
	file := filepath.Join(dir, "scenario.yaml")
	_, _, err := Load(dir)
	wantError(t, err, file, lineOf(t, file, "wieghts:", 1), "spec.steps[0].probes[1].expect.wieghts", "allowed here: weights, status, fromConfig")
}

// scenarioCase edits a copy of scenarios/echo and expects an error at the
// line holding at (its n-th occurrence, in file, after the edit).
type scenarioCase struct {
	name  string
	edits [][3]string // old, new, occurrence (decimal; "0" = all)
	file  string      // relative to the copy; "" = scenario.yaml
	at    string
	n     int
	field string
	msgs  []string
}

func TestScenarioErrors(t *testing.T) {
	probe0 := "spec.steps[0].probes[0]"
	probe1 := "spec.steps[0].probes[1]"
	cases := []scenarioCase{
		{name: "unknown top-level field", edits: [][3]string{{"kind: Scenario\n", "kind: Scenario\nextra: 1\n", "1"}},
			at: "extra: 1", field: "extra", msgs: []string{"allowed here: apiVersion, kind, metadata, spec"}},
		{name: "misspelt metadata field", edits: [][3]string{{"  title:", "  titel:", "1"}},
			at: "titel:", field: "metadata.titel", msgs: []string{"allowed here: name, title, source", `did you mean "title"`}},
		{name: "wrong apiVersion", edits: [][3]string{{"meshcheck.dev/v1alpha1", "meshcheck.dev/v1", "1"}},
			at: "apiVersion:", field: "apiVersion", msgs: []string{"want meshcheck.dev/v1alpha1"}},
		{name: "unknown backend", edits: [][3]string{{"spec:\n", "spec:\n  backend: fn\n", "1"}},
			at: "backend: fn", field: "spec.backend", msgs: []string{`"fn": want openfaas, knative, or leave it out for plain Deployments`}},
		{name: "wrong kind", edits: [][3]string{{"kind: Scenario", "kind: Scenery", "1"}},
			at: "kind: Scenery", field: "kind", msgs: []string{"want Scenario"}},
		{name: "bad scenario name", edits: [][3]string{{"  name: echo\n", "  name: Echo_1\n", "1"}},
			at: "Echo_1", field: "metadata.name", msgs: []string{"DNS label"}},
		{name: "bad source", edits: [][3]string{{"  title:", "  source: ftp://x\n  title:", "1"}},
			at: "source:", field: "metadata.source", msgs: []string{"http(s) URL"}},
		{name: "injection not a boolean", edits: [][3]string{{"injection: true", "injection: enabled", "1"}},
			at: "injection:", field: "spec.namespaces[0].injection", msgs: []string{"want true or false"}},
		{name: "namespace twice", edits: [][3]string{{"      injection: true\n", "      injection: true\n    - name: echo\n", "1"}},
			at: "- name: echo", n: 2, field: "spec.namespaces[1].name", msgs: []string{"listed twice"}},
		{name: "tolerance out of range", edits: [][3]string{{"          from: ingress\n", "          from: ingress\n          tolerance: 1.5\n", "1"}},
			at: "tolerance:", field: probe0 + ".tolerance", msgs: []string{"greater than 0 and less than 1"}},
		{name: "tolerance not a number", edits: [][3]string{{"          from: ingress\n", "          from: ingress\n          tolerance: five\n", "1"}},
			at: "tolerance:", field: probe0 + ".tolerance", msgs: []string{"want a number"}},
		{name: "alpha out of range", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    alpha: 0.6\n", "1"}},
			at: "alpha:", field: "spec.defaults.alpha", msgs: []string{"less than 0.5"}},
		{name: "error budget 1", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    errorBudget: 1\n", "1"}},
			at: "errorBudget:", field: "spec.defaults.errorBudget", msgs: []string{"up to but not including 1"}},
		{name: "rate 0", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    rate: 0\n", "1"}},
			at: "rate:", field: "spec.defaults.rate", msgs: []string{"from 1 to 10000"}},
		{name: "maxRequests 0", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    maxRequests: 0\n", "1"}},
			at: "maxRequests:", field: "spec.defaults.maxRequests", msgs: []string{"from 1 to"}},
		{name: "duration without unit", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    maxDuration: 120\n", "1"}},
			at: "maxDuration:", field: "spec.defaults.maxDuration", msgs: []string{"with a unit"}},
		{name: "negative duration", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    maxDuration: -1s\n", "1"}},
			at: "maxDuration:", field: "spec.defaults.maxDuration", msgs: []string{"above 0"}},
		{name: "relative not a boolean", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    relative: yes\n", "1"}},
			at: "relative:", field: "spec.defaults.relative", msgs: []string{"true or false"}},
		{name: "misspelt default", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    tolerence: 0.1\n", "1"}},
			at: "tolerence:", field: "spec.defaults.tolerence", msgs: []string{"allowed here: rate, tolerance, relative, alpha, errorBudget, maxRequests, maxDuration, settle", `"tolerance"`}},
		{name: "tolerance cannot see a missing version", edits: [][3]string{{"          from: ingress\n", "          from: ingress\n          tolerance: 0.25\n", "1"}},
			at: "expect:", field: probe0 + ".expect", msgs: []string{"tolerance 0.25 (±25 points) is not below the smallest non-zero weight v2=25", "a mesh that never routes to v2 would still pass"}},
		{name: "settle without unit", edits: [][3]string{{"spec:\n", "spec:\n  defaults:\n    settle: 60\n", "1"}},
			at: "settle:", field: "spec.defaults.settle", msgs: []string{"with a unit"}},
		{name: "unknown vantage", edits: [][3]string{{"from: ingress", "from: outside", "1"}},
			at: "from: outside", field: probe0 + ".from", msgs: []string{"want ingress", "or mesh"}},
		{name: "ingress without host", edits: [][3]string{{"            host: echo.local\n", "", "1"}},
			at: "request:", field: probe0 + ".request.host", msgs: []string{"missing"}},
		{name: "ingress host with port", edits: [][3]string{{"host: echo.local", "host: echo.local:80", "1"}},
			at: "host:", field: probe0 + ".request.host", msgs: []string{"without a port", "404"}},
		{name: "ingress host with scheme", edits: [][3]string{{"host: echo.local", "host: http//echo.local", "1"}},
			at: "host:", field: probe0 + ".request.host", msgs: []string{"DNS name"}},
		{name: "ingress path without slash", edits: [][3]string{{"path: /echo", "path: echo", "1"}},
			at: "path:", field: probe0 + ".request.path", msgs: []string{"starting with /"}},
		{name: "ingress without path", edits: [][3]string{{"            path: /echo\n", "", "1"}},
			at: "request:", field: probe0 + ".request.path", msgs: []string{"missing"}},
		{name: "ingress with url", edits: [][3]string{{"            path: /echo\n", "            path: /echo\n            url: http://x/\n", "1"}},
			at: "url: http://x/", field: probe0 + ".request.url", msgs: []string{"url is for probes from mesh"}},
		{name: "serviceAccount on an ingress probe", edits: [][3]string{{"          from: ingress\n", "          from: ingress\n          serviceAccount: control\n", "1"}},
			at: "serviceAccount:", field: probe0 + ".serviceAccount", msgs: []string{"only a probe from mesh runs as a ServiceAccount"}},
		{name: "serviceAccount not a DNS label", edits: [][3]string{{"          from: mesh\n", "          from: mesh\n          serviceAccount: Control_1\n", "1"}},
			at: "serviceAccount:", field: probe1 + ".serviceAccount", msgs: []string{`"Control_1"`, "DNS label"}},
		{name: "mesh without url", edits: [][3]string{{"            url: http://echo-service.echo.svc.cluster.local/echo\n", "", "1"}},
			at: "request:", n: 2, field: probe1 + ".request.url", msgs: []string{"missing"}},
		{name: "mesh https", edits: [][3]string{{"url: http://", "url: https://", "1"}},
			at: "url:", field: probe1 + ".request.url", msgs: []string{"want an http:// URL"}},
		{name: "mesh url without path", edits: [][3]string{{"svc.cluster.local/echo", "svc.cluster.local", "1"}},
			at: "url:", field: probe1 + ".request.url", msgs: []string{"no path"}},
		{name: "mesh url bad port", edits: [][3]string{{"svc.cluster.local/echo", "svc.cluster.local:99999/echo", "1"}},
			at: "url:", field: probe1 + ".request.url", msgs: []string{"port"}},
		{name: "mesh with host", edits: [][3]string{{"/echo\n          classify:", "/echo\n            host: echo.local\n          classify:", "2"}},
			at: "host: echo.local", n: 2, field: probe1 + ".request.host", msgs: []string{"whole url"}},
		{name: "lower-case method", edits: [][3]string{{"            path: /echo\n", "            path: /echo\n            method: get\n", "1"}},
			at: "method:", field: probe0 + ".request.method", msgs: []string{"want one of GET, HEAD, POST"}},
		{name: "host header", edits: [][3]string{{"            path: /echo\n", "            path: /echo\n            headers:\n              Host: other\n", "1"}},
			at: "Host: other", field: probe0 + ".request.headers.Host", msgs: []string{"request.host"}},
		{name: "bad header name", edits: [][3]string{{"            path: /echo\n", "            path: /echo\n            headers:\n              \"x user\": a\n", "1"}},
			at: "x user", field: probe0 + ".request.headers.x user", msgs: []string{"not an HTTP header name"}},
		{name: "header twice ignoring case", edits: [][3]string{{"            path: /echo\n", "            path: /echo\n            headers:\n              X-A: a\n              x-a: b\n", "1"}},
			at: "x-a: b", field: probe0 + ".request.headers.x-a", msgs: []string{"twice"}},
		{name: "unknown classifier", edits: [][3]string{{`by: "json:os.hostname"`, `by: "xml:os.hostname"`, "1"}},
			at: "by:", field: probe0 + ".classify.by", msgs: []string{"want json:<dotted.path>"}},
		{name: "regex without group", edits: [][3]string{{`by: "json:os.hostname"`, `by: "regex:echo-deployment"`, "1"}},
			at: "by:", field: probe0 + ".classify.by", msgs: []string{"capture group"}},
		{name: "classify without by", edits: [][3]string{{"            by: \"json:os.hostname\"\n", "", "1"}},
			at: "classify:", field: probe0 + ".classify.by", msgs: []string{"missing", "json:"}},
		{name: "classify missing", edits: [][3]string{{"          classify:\n            by: \"json:os.hostname\"\n            podLabel: version\n", "", "1"}},
			at: "- name: ingress", field: probe0 + ".classify", msgs: []string{"missing"}},
		{name: "podLabel and values", edits: [][3]string{{"            podLabel: version\n", "            podLabel: version\n            values: {a: v1}\n", "1"}},
			at: "values:", field: probe0 + ".classify.values", msgs: []string{"not both"}},
		{name: "bad pod label", edits: [][3]string{{"podLabel: version", "podLabel: \"-version\"", "1"}},
			at: "podLabel:", field: probe0 + ".classify.podLabel", msgs: []string{"label key"}},
		{name: "weights 75/15", edits: [][3]string{{"v2: 25", "v2: 15", "1"}},
			at: "weights:", field: probe0 + ".expect.weights", msgs: []string{"sum to 90", "must sum to 100"}},
		{name: "weight above 100", edits: [][3]string{{"v1: 75", "v1: 101", "1"}},
			at: "v1: 101", field: probe0 + ".expect.weights.v1", msgs: []string{"from 0 to 100"}},
		{name: "weight not a number", edits: [][3]string{{"v1: 75", "v1: most", "1"}},
			at: "v1: most", field: probe0 + ".expect.weights.v1", msgs: []string{"whole number"}},
		{name: "bad version name", edits: [][3]string{{"v1: 75", `"v 1": 75`, "1"}},
			at: `"v 1": 75`, field: probe0 + ".expect.weights.v 1", msgs: []string{"not a version name"}},
		{name: "weights and status", edits: [][3]string{{"          expect:\n", "          expect:\n            status: 200\n", "1"}},
			at: "weights:", field: probe0 + ".expect", msgs: []string{"exactly one of weights"}},
		{name: "empty expect", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "", "1"}},
			at: "expect:", field: probe0 + ".expect", msgs: []string{"exactly one of weights"}},
		{name: "status out of range", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            status: 700\n", "1"}},
			at: "status:", field: probe0 + ".expect.status", msgs: []string{"from 100 to 599"}},
		{name: "fromConfig false", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            fromConfig: false\n", "1"}},
			at: "fromConfig:", field: probe0 + ".expect.fromConfig", msgs: []string{"fromConfig: true"}},
		{name: "headers with weights", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            weights:\n              v1: 75\n              v2: 25\n            headers:\n              in: response\n              present: [x-a]\n", "1"}},
			at: "headers:", field: probe0 + ".expect.headers", msgs: []string{"headers go with a status"}},
		{name: "headers without in", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            headers:\n              present: [x-a]\n", "1"}},
			at: "headers:", field: probe0 + ".expect.headers.in", msgs: []string{"in: response (the response headers)"}},
		{name: "headers in unknown place", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            headers:\n              in: request\n              present: [x-a]\n", "1"}},
			at: "in: request", field: probe0 + ".expect.headers.in", msgs: []string{"want response (the response headers) or body:<json path>"}},
		{name: "header name not a token", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            headers:\n              in: response\n              present: [\"x a\"]\n", "1"}},
			at: "present:", field: probe0 + ".expect.headers.present[0]", msgs: []string{"not an HTTP header name"}},
		{name: "header given twice", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            headers:\n              in: response\n              present: [X-A, x-a]\n", "1"}},
			at: "present:", field: probe0 + ".expect.headers.present[1]", msgs: []string{"given twice"}},
		{name: "header regex", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            headers:\n              in: body:headers\n              match:\n                x-a: \"(\"\n", "1"}},
			at: "x-a:", field: probe0 + ".expect.headers.match.x-a", msgs: []string{"not an RE2 expression"}},
		{name: "headers without conditions", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            headers:\n              in: response\n", "1"}},
			at: "headers:", field: probe0 + ".expect.headers", msgs: []string{"no conditions"}},
		{name: "headers status out of range", edits: [][3]string{{"            weights:\n              v1: 75\n              v2: 25\n", "            status: 700\n            headers:\n              in: response\n              present: [x-a]\n", "1"}},
			at: "status:", field: probe0 + ".expect.status", msgs: []string{"from 100 to 599"}},
		{name: "probe named twice", edits: [][3]string{{"- name: in-mesh", "- name: ingress", "1"}},
			at: "- name: ingress", n: 2, field: probe1 + ".name", msgs: []string{"named twice"}},
		{name: "field given twice", edits: [][3]string{{"          from: ingress\n", "          from: ingress\n          from: mesh\n", "1"}},
			at: "from: mesh", n: 1, field: probe0 + ".from", msgs: []string{"given twice"}},
		{name: "missing manifest", edits: [][3]string{{"manifests/routing.yaml", "manifests/routes.yaml", "1"}},
			at: "manifests/routes.yaml", field: "spec.steps[0].apply[1]", msgs: []string{"does not exist"}},
		{name: "manifest outside the folder", edits: [][3]string{{"- manifests/echo.yaml", "- ../echo/manifests/echo.yaml", "1"}},
			at: "../echo", field: "spec.steps[0].apply[0]", msgs: []string{"inside the scenario folder"}},
		{name: "absolute manifest path", edits: [][3]string{{"- manifests/echo.yaml", "- /etc/passwd.yaml", "1"}},
			at: "/etc/passwd", field: "spec.steps[0].apply[0]", msgs: []string{"no leading /"}},
		{name: "manifest not yaml", edits: [][3]string{{"- manifests/echo.yaml", "- manifests/echo.json", "1"}},
			at: "echo.json", field: "spec.steps[0].apply[0]", msgs: []string{".yaml or .yml"}},
		{name: "manifest listed twice", edits: [][3]string{{"- manifests/routing.yaml", "- manifests/echo.yaml", "1"}},
			at: "- manifests/echo.yaml", n: 2, field: "spec.steps[0].apply[1]", msgs: []string{"listed twice"}},
		{name: "anchor", edits: [][3]string{{"            weights:\n", "            weights: &w\n", "1"}},
			at: "weights: &w", field: probe0 + ".expect.weights", msgs: []string{"anchors and aliases"}},
		{name: "second document", edits: [][3]string{{"              v2: 25\n", "              v2: 25\n---\nkind: Other\n", "2"}},
			at: "---", field: "", msgs: []string{"second YAML document"}},
		{name: "control character", edits: [][3]string{{"path: /echo", "path: /ec\x01ho", "1"}},
			at: "path:", field: "", msgs: []string{"control character"}},
		{name: "step does nothing", edits: [][3]string{{"  steps:\n", "  steps:\n    - name: idle\n", "1"}},
			at: "- name: idle", field: "spec.steps[0]", msgs: []string{"does nothing"}},
		{name: "step named twice", edits: [][3]string{{"  steps:\n", "  steps:\n    - name: split-75-25\n      apply: [manifests/echo.yaml]\n", "1"}},
			at: "- name: split-75-25", n: 2, field: "spec.steps[1].name", msgs: []string{"named twice"}},
		{name: "namespaces not a list", edits: [][3]string{{"  namespaces:\n    - name: echo\n      injection: true\n", "  namespaces: echo\n", "1"}},
			at: "namespaces: echo", field: "spec.namespaces", msgs: []string{"want a list"}},
		{name: "missing spec", edits: [][3]string{{"spec:\n", "specs:\n", "1"}},
			at: "specs:", field: "specs", msgs: []string{"allowed here: apiVersion, kind, metadata, spec", `did you mean "spec"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, echoDir)
			file := filepath.Join(dir, "scenario.yaml")
			if tc.file != "" {
				file = filepath.Join(dir, tc.file)
			}
			for _, e := range tc.edits {
				n, err := strconv.Atoi(e[2])
				if err != nil {
					t.Fatal(err)
				}
				edit(t, file, e[0], e[1], n)
			}
			_, _, err := Load(dir)
			n := tc.n
			if n == 0 {
				n = 1
			}
			wantError(t, err, file, lineOf(t, file, tc.at, n), tc.field, tc.msgs...)
		})
	}
}

// go.yaml.in/yaml/v3 reports some syntax errors at the line before the one
// at fault (it prints the 0-based line of the construct being parsed): the
// error names a line next to the mistake.
func TestScenarioYAMLSyntaxError(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "  title: Echo", "  title: [Echo", 1)
	_, _, err := Load(dir)
	var e *Diagnostic
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a *scenario.Diagnostic", err)
	}
	if at := lineOf(t, file, "title: [Echo", 1); e.File != file || e.Line < at-1 || e.Line > at+1 || !strings.Contains(e.Msg, "not valid YAML") {
		t.Errorf("got %v, want a YAML error near %s:%d", e, file, at)
	}
}

func TestScenarioSymlinkEscape(t *testing.T) {
	dir := copyDir(t, echoDir)
	outside := filepath.Join(t.TempDir(), "outside.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "manifests", "link.yaml")); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
	}
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "- manifests/routing.yaml", "- manifests/link.yaml", 1)
	_, _, err := Load(dir)
	wantError(t, err, file, lineOf(t, file, "link.yaml", 1), "spec.steps[0].apply[1]", "outside the scenario folder")
}

func TestScenarioMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	_, _, err := Load(dir)
	wantError(t, err, dir, 0, "", "does not exist: give a scenario folder (one holding scenario.yaml)")
}

func TestScenarioEmptyFile(t *testing.T) {
	dir := writeScenario(t, map[string]string{"scenario.yaml": "# nothing\n"})
	_, _, err := Load(dir)
	wantError(t, err, filepath.Join(dir, "scenario.yaml"), 1, "", "empty")
}

func TestScenarioValuesMustCoverExpectedVersions(t *testing.T) {
	dir := copyDir(t, helloDir)
	file := filepath.Join(dir, "scenario.yaml")
	// Step split-100-0 expects v2 at 0%: a version that should get nothing
	// need not be classifiable.
	edit(t, file, "\"Hello V2\": v2", "\"Hello V2\": two", 2)
	if _, _, err := Load(dir); err != nil {
		t.Fatalf("a 0%% version without a classified value: %v", err)
	}
	// Step split-50-50 expects v2 at 50%: its in-mesh probe can never pass.
	edit(t, file, "\"Hello V2\": v2", "\"Hello V2\": two", 3)
	_, _, err := Load(dir)
	wantError(t, err, file, lineOf(t, file, "v2: 50", 2), "spec.steps[1].probes[1].expect.weights.v2", "expects 50%", "maps no response to it", "(it maps to two, v1)")
}

func TestScenarioProbeSettingsOverrideDefaults(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "spec:\n", "spec:\n  defaults:\n    rate: 50\n    relative: true\n    tolerance: 0.1\n    maxDuration: 2m\n", 1)
	edit(t, file, "          from: mesh\n", "          from: mesh\n          rate: 200\n          relative: false\n          alpha: 0.01\n          errorBudget: 0\n          maxRequests: 5000\n", 1)
	s, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantDefaults := Settings{Rate: 50, Tolerance: 0.1, Relative: true, Alpha: verify.DefaultAlpha,
		ErrorBudget: verify.DefaultErrorBudget, MaxRequests: verify.DefaultMaxRequests, MaxDuration: 2 * time.Minute}
	if s.Defaults != wantDefaults {
		t.Errorf("defaults %+v, want %+v", s.Defaults, wantDefaults)
	}
	if got := s.Steps[0].Probes[0].Settings; got != wantDefaults {
		t.Errorf("ingress settings %+v, want the defaults %+v", got, wantDefaults)
	}
	want := Settings{Rate: 200, Tolerance: 0.1, Relative: false, Alpha: 0.01, ErrorBudget: 0, MaxRequests: 5000, MaxDuration: 2 * time.Minute}
	if got := s.Steps[0].Probes[1].Settings; got != want {
		t.Errorf("mesh settings %+v, want %+v", got, want)
	}
}

func TestScenarioExpectation(t *testing.T) {
	settings := Settings{Rate: 10, Tolerance: 0.07, Relative: true, Alpha: 0.01, ErrorBudget: 0.02, MaxRequests: 9, MaxDuration: time.Second}
	weights := []verify.Weight{{Version: "v2", Percent: 25}, {Version: "v1", Percent: 75}}
	fromConfig := []verify.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}}
	base := verify.Expectation{Tolerance: 0.07, Relative: true, Alpha: 0.01, ErrorBudget: 0.02}

	p := Probe{Expect: Expect{Weights: weights}, Settings: settings}
	want := base
	want.Weights = weights
	if got := p.Expectation(fromConfig); !reflect.DeepEqual(got, want) {
		t.Errorf("explicit weights: got %+v, want %+v", got, want)
	}
	got := p.Expectation(nil)
	got.Weights[0].Percent = 99
	if p.Expect.Weights[0].Percent != 25 {
		t.Error("Expectation shares its weights with the probe")
	}

	p = Probe{Expect: Expect{FromConfig: true}, Settings: settings}
	want = base
	want.Weights = fromConfig
	if got := p.Expectation(fromConfig); !reflect.DeepEqual(got, want) {
		t.Errorf("fromConfig: got %+v, want %+v", got, want)
	}

	p = Probe{Expect: Expect{Status: 403}, Settings: settings}
	want = base
	want.Status = 403
	if got := p.Expectation(fromConfig); !reflect.DeepEqual(got, want) {
		t.Errorf("status: got %+v, want %+v", got, want)
	}
	if err := p.Expectation(nil).Validate(); err != nil {
		t.Errorf("status expectation does not validate: %v", err)
	}
}

func TestScenarioDiagnosticFormat(t *testing.T) {
	cases := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "a/scenario.yaml", Line: 7, Field: "spec.x", Msg: "bad"}, "a/scenario.yaml:7: spec.x: bad"},
		{Diagnostic{File: "a/scenario.yaml", Line: 7, Msg: "bad"}, "a/scenario.yaml:7: bad"},
		{Diagnostic{File: "a/scenario.yaml", Msg: "no such file"}, "a/scenario.yaml: no such file"},
	}
	for _, c := range cases {
		for _, sev := range []Severity{SeverityError, SeverityWarning} {
			c.d.Severity = sev
			if got := c.d.Error(); got != c.want {
				t.Errorf("%s: got %q, want %q", sev, got, c.want)
			}
			if got := c.d.String(); got != c.want {
				t.Errorf("%s: String %q, want %q", sev, got, c.want)
			}
		}
	}
	le := &LoadError{Errors: []Diagnostic{cases[0].d, cases[1].d}}
	if got, want := le.Error(), cases[0].want+"\n"+cases[1].want; got != want {
		t.Errorf("LoadError %q, want %q", got, want)
	}
	var d *Diagnostic
	if !errors.As(error(le), &d) || d.Msg != "bad" || d.Field != "spec.x" {
		t.Errorf("errors.As finds %+v, want the first diagnostic", d)
	}
	if SeverityError.String() != "error" || SeverityWarning.String() != "warning" {
		t.Errorf("severities %s, %s", SeverityError, SeverityWarning)
	}
}

// spec.backend is read as written; absent means plain Deployments.
func TestScenarioBackend(t *testing.T) {
	s, _, err := Load(echoDir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend != BackendNone {
		t.Errorf("echo: backend %q, want none", s.Backend)
	}
	dir := copyDir(t, echoDir)
	edit(t, filepath.Join(dir, "scenario.yaml"), "spec:\n", "spec:\n  backend: openfaas\n", 1)
	if s, _, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if s.Backend != BackendOpenFaaS {
		t.Errorf("backend %q, want %q", s.Backend, BackendOpenFaaS)
	}
	dir = copyDir(t, echoDir)
	edit(t, filepath.Join(dir, "scenario.yaml"), "spec:\n", "spec:\n  backend: knative\n", 1)
	if s, _, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if s.Backend != BackendKnative {
		t.Errorf("backend %q, want %q", s.Backend, BackendKnative)
	}
}
