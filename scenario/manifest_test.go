package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Manifest problems are errors at the line of the field or document at
// fault, in the manifest file.
func TestScenarioManifestErrors(t *testing.T) {
	cases := []scenarioCase{
		{name: "unknown kind", file: "manifests/echo.yaml", edits: [][3]string{{"kind: Deployment", "kind: Deploymnet", "1"}},
			at: "kind: Deploymnet", field: "kind", msgs: []string{`"Deploymnet" is not a kind of apps/v1`, "Deployment, ReplicaSet", "did you mean Deployment?"}},
		{name: "unknown Istio version", file: "manifests/routing.yaml", edits: [][3]string{{"networking.istio.io/v1\nkind: VirtualService", "networking.istio.io/v2\nkind: VirtualService", "1"}},
			at: "networking.istio.io/v2", field: "apiVersion", msgs: []string{"knows versions v1, v1alpha3, v1beta1 of networking.istio.io"}},
		{name: "unknown API group", file: "manifests/echo.yaml", edits: [][3]string{{"apiVersion: v1\nkind: Service", "apiVersion: example.com/v1\nkind: Service", "1"}},
			at: "example.com/v1", field: "apiVersion", msgs: []string{"not an API meshcheck decodes", "networking.istio.io"}},
		{name: "bad apiVersion syntax", file: "manifests/echo.yaml", edits: [][3]string{{"apiVersion: v1\nkind: Service", "apiVersion: a/b/c\nkind: Service", "1"}},
			at: "a/b/c", field: "apiVersion", msgs: []string{"want group/version"}},
		{name: "missing kind", file: "manifests/echo.yaml", edits: [][3]string{{"apiVersion: v1\nkind: Service\n", "apiVersion: v1\n", "1"}},
			at: "apiVersion: v1", field: "kind", msgs: []string{"missing"}},
		{name: "list kind", file: "manifests/echo.yaml", edits: [][3]string{{"kind: Service", "kind: ServiceList", "1"}},
			at: "kind: ServiceList", field: "kind", msgs: []string{"its own document"}},
		{name: "misspelt Kubernetes field", file: "manifests/echo.yaml", edits: [][3]string{{"imagePullPolicy: IfNotPresent", "imagePullPolcy: IfNotPresent", "2"}},
			at: "imagePullPolcy", field: "spec.template.spec.containers[0].imagePullPolcy",
			msgs: []string{"unknown field in a apps/v1 Deployment", "kubectl explain deployment.spec.template.spec.containers"}},
		{name: "misspelt metadata field", file: "manifests/echo.yaml", edits: [][3]string{{"  namespace: echo\nspec:\n  selector:", "  namespcae: echo\nspec:\n  selector:", "1"}},
			at: "namespcae", field: "metadata.namespcae", msgs: []string{"unknown field"}},
		{name: "Kubernetes type error", file: "manifests/echo.yaml", edits: [][3]string{{"replicas: 1", "replicas: one", "2"}},
			at: "replicas: one", field: "spec.replicas", msgs: []string{"wants a whole number"}},
		{name: "misspelt Istio field", file: "manifests/routing.yaml", edits: [][3]string{{"weight: 25", "wieght: 25", "1"}},
			at: "wieght", field: "spec.http[0].route[1].wieght", msgs: []string{`unknown field "wieght" in HTTPRouteDestination`, "allowed here: destination, weight, headers", `did you mean "weight"`}},
		{name: "misspelt Istio top-level field", file: "manifests/routing.yaml", edits: [][3]string{{"  gateways:", "  gateway:", "1"}},
			at: "gateway:", n: 1, field: "spec.gateway", msgs: []string{`did you mean "gateways"`}},
		{name: "Istio enum", file: "manifests/echo.yaml", edits: [][3]string{{"  host: echo-service\n  subsets:", "  host: echo-service\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUL\n  subsets:", "1"}},
			at: "ISTIO_MUTUL", field: "spec.trafficPolicy.tls.mode", msgs: []string{"want one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL"}},
		{name: "Istio number", file: "manifests/routing.yaml", edits: [][3]string{{"weight: 25", "weight: lots", "1"}},
			at: "weight: lots", field: "spec.http[0].route[1].weight", msgs: []string{"want a number"}},
		{name: "Istio list", file: "manifests/routing.yaml", edits: [][3]string{{"  gateways:\n    - istio-system/ingressgateway\n    - mesh\n", "  gateways: mesh\n", "1"}},
			at: "gateways: mesh", field: "spec.gateways", msgs: []string{"want a list"}},
		{name: "Istio map of messages", file: "manifests/routing.yaml", edits: [][3]string{{"        - uri:\n            prefix: \"/echo\"\n", "        - headers:\n            x-user:\n              exakt: a\n", "1"}},
			at: "exakt", field: "spec.http[0].match[0].headers.x-user.exakt", msgs: []string{`unknown field "exakt" in StringMatch`, `did you mean "exact"`}},
		{name: "duplicate key", file: "manifests/echo.yaml", edits: [][3]string{{"  name: echo-service\n  namespace: echo\n", "  name: echo-service\n  namespace: echo\n  namespace: other\n", "1"}},
			at: "namespace: other", field: "metadata.namespace", msgs: []string{"given twice"}},
		{name: "document not a mapping", file: "manifests/echo.yaml", edits: [][3]string{{"---\napiVersion: v1\nkind: Service", "---\n- a list\n---\napiVersion: v1\nkind: Service", "1"}},
			at: "- a list", field: "", msgs: []string{"want an object"}},
		{name: "object defined twice", file: "manifests/routing.yaml", edits: [][3]string{{"---\napiVersion: networking.istio.io/v1\nkind: VirtualService", "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: ingressgateway\n  namespace: istio-system\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService", "1"}},
			at: "name: ingressgateway", n: 2, field: "metadata.name", msgs: []string{"Gateway istio-system/ingressgateway is defined twice", "first on line 8"}},
		{name: "object without a name", file: "manifests/echo.yaml", edits: [][3]string{{"  name: echo-service\n", "", "1"}},
			at: "apiVersion: v1", field: "metadata.name", msgs: []string{"needs a name"}},
		{name: "control character", file: "manifests/echo.yaml", edits: [][3]string{{"app: echo", "app: ec\x07ho", "3"}},
			at: "ec\x07ho", field: "", msgs: []string{"control character"}},
		{name: "invalid UTF-8", file: "manifests/echo.yaml", edits: [][3]string{{"app: echo", "app: ec\xffho", "3"}},
			at: "ec\xffho", field: "", msgs: []string{"not valid UTF-8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, echoDir)
			file := filepath.Join(dir, filepath.FromSlash(tc.file))
			for _, e := range tc.edits {
				n, err := strconv.Atoi(e[2])
				if err != nil {
					t.Fatal(err)
				}
				edit(t, file, e[0], e[1], n)
			}
			_, _, err := Load(dir)
			n := max(tc.n, 1)
			wantError(t, err, file, lineOf(t, file, tc.at, n), tc.field, tc.msgs...)
		})
	}
}

func TestScenarioManifestYAMLErrorIsInItsDocument(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "manifests", "echo.yaml")
	edit(t, file, "  host: echo-service\n", "  host: [echo-service\n", 1)
	_, _, err := Load(dir)
	var e *Diagnostic
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a *scenario.Diagnostic", err)
	}
	// The last document starts far into the file: the line is the file's.
	if at := lineOf(t, file, "host: [echo-service", 1); e.File != file || e.Line < at-1 || e.Line > at+2 || !strings.Contains(e.Msg, "not valid YAML") {
		t.Errorf("got %v, want a YAML error near %s:%d", e, file, at)
	}
}

func TestScenarioEmptyManifest(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "manifests", "routing.yaml")
	if err := os.WriteFile(file, []byte("# nothing yet\n---\n\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(dir)
	wantError(t, err, file, 0, "", "no objects")
}

func TestScenarioSplitDocuments(t *testing.T) {
	data := "# head\n\n---\n# only a comment\n--- # separator with a comment\n\na: 1\nb: |\n  --- not a separator\n---x\n---\n  c: 2\n"
	docs := splitDocuments([]byte(data))
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2: %+v", len(docs), docs)
	}
	if docs[0].line != 7 || string(docs[0].raw) != "a: 1\nb: |\n  --- not a separator\n---x\n" {
		t.Errorf("first document at %d: %q", docs[0].line, docs[0].raw)
	}
	if docs[1].line != 12 || string(docs[1].raw) != "  c: 2\n" {
		t.Errorf("second document at %d: %q", docs[1].line, docs[1].raw)
	}
}

// Every Istio API version meshcheck names decodes into its typed object.
func TestScenarioManifestIstioVersions(t *testing.T) {
	manifest := `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: a, namespace: ns}
spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: a, namespace: ns}
spec: {host: a, subsets: [{name: v1, labels: {version: v1}}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a, namespace: ns}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.local]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a, namespace: ns}
spec: {action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/ns/sa/caller]}}]}]}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: a, namespace: ns}
spec: {mtls: {mode: STRICT}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: caller, namespace: ns}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, namespace: ns}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: a, image: "meshcheck.local/fixture:v0.1.0"}]}
`
	objs, err := decodeManifest("m.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	want := []reflect.Type{
		reflect.TypeOf(&networkingv1alpha3.VirtualService{}), reflect.TypeOf(&networkingv1beta1.DestinationRule{}),
		reflect.TypeOf(&networkingv1.Gateway{}), reflect.TypeOf(&securityv1.AuthorizationPolicy{}),
		reflect.TypeOf(&securityv1beta1.PeerAuthentication{}), reflect.TypeOf(&corev1.ServiceAccount{}),
		reflect.TypeOf(&appsv1.Deployment{}),
	}
	wantLines := []int{1, 6, 11, 16, 21, 26, 30}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects, want %d", len(objs), len(want))
	}
	for i, o := range objs {
		if reflect.TypeOf(o.Object) != want[i] || o.Line != wantLines[i] || o.File != "m.yaml" {
			t.Errorf("object %d: %T at %s:%d, want %v at line %d", i, o.Object, o.File, o.Line, want[i], wantLines[i])
		}
	}
	if d := objs[6].Object.(*appsv1.Deployment); d.Spec.Replicas != nil {
		t.Errorf("decoding applied defaults: replicas %v", *d.Spec.Replicas)
	}
	ap := objs[3].Object.(*securityv1.AuthorizationPolicy)
	if got := ap.Spec.Rules[0].From[0].Source.Principals; !reflect.DeepEqual(got, []string{"cluster.local/ns/ns/sa/caller"}) {
		t.Errorf("principals %v", got)
	}
}

// Objects with the same group, kind, namespace and name replace each other
// in place whatever their API version; Delete removes them.
func TestScenarioStateAt(t *testing.T) {
	vs := func(version, weights string) string {
		return "apiVersion: networking.istio.io/" + version + "\nkind: VirtualService\nmetadata: {name: r, namespace: ns}\nspec: {hosts: [svc], http: [{route: [" + weights + "]}]}\n"
	}
	dir := writeScenario(t, map[string]string{
		"scenario.yaml": `apiVersion: meshcheck.dev/v1alpha1
kind: Scenario
metadata: {name: state, title: state}
spec:
  namespaces: [{name: ns, injection: true}]
  steps:
    - name: one
      apply: [a.yaml, b.yaml]
    - name: two
      apply: [c.yaml]
    - name: three
      delete: [b.yaml]
      probes:
        - name: p
          from: mesh
          request: {url: "http://svc.ns.svc.cluster.local/"}
          expect: {status: 200}
`,
		"a.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: ns}\nspec: {selector: {app: a}, ports: [{port: 80}]}\n",
		"b.yaml": vs("v1alpha3", "{destination: {host: svc}, weight: 100}"),
		"c.yaml": vs("v1", "{destination: {host: svc}, weight: 100}") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: ns}\n",
	})
	s, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := func(objs []Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, reflect.TypeOf(o.Object).String()+" "+filepath.Base(o.File))
		}
		return out
	}
	cases := []struct {
		step int
		want []string
	}{
		{-1, nil},
		{0, []string{"*v1.Service a.yaml", "*v1alpha3.VirtualService b.yaml"}},
		{1, []string{"*v1.Service a.yaml", "*v1.VirtualService c.yaml", "*v1.ConfigMap c.yaml"}},
		{2, []string{"*v1.Service a.yaml", "*v1.ConfigMap c.yaml"}},
		{7, []string{"*v1.Service a.yaml", "*v1.ConfigMap c.yaml"}},
	}
	for _, c := range cases {
		if got := names(s.StateAt(c.step)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("StateAt(%d) = %v, want %v", c.step, got, c.want)
		}
	}
}
