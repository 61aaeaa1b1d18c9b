package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// runRate is the request rate of the acceptance runs: an emulated request
// costs about half a millisecond (docs/benchmarks/local.md), so a probe
// decides in seconds. Under -short (make race: the race detector makes each
// request several times dearer) it is 400, which two cores keep up with;
// at 2000 the emulated mesh's queue grows until requests time out.
func runRate() string {
	if testing.Short() {
		return "400"
	}
	return "2000"
}

// runExec runs meshcheck in-process and returns its exit code, stdout and
// stderr (with the one-line error main would print).
func runExec(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code = ExitPass
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			if ee.err != nil {
				errb.WriteString("meshcheck: " + ee.err.Error() + "\n")
			}
		} else {
			code = ExitUsage
			errb.WriteString("meshcheck: " + err.Error() + "\n")
		}
	}
	return code, out.String(), errb.String()
}

// copyScenario copies a scenario folder into a temporary one and applies
// edit to one of its files (old must occur in it).
func copyScenario(t *testing.T, src, file, old, new string) string {
	t.Helper()
	dst := scenarioCopy(t, src, "")
	path := filepath.Join(dst, file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", filepath.Join(src, file), old)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// verdicts returns the "probe <title>" lines and their verdict lines.
func verdicts(stdout string) (titles []string, results []string) {
	for _, line := range strings.Split(stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "probe "):
			titles = append(titles, line)
		case strings.HasPrefix(line, "verdict "):
			results = append(results, strings.Fields(line)[1])
		}
	}
	return titles, results
}

func TestRunEchoLocal(t *testing.T) {
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--env", "local", "--rate", runRate())
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	titles, results := verdicts(out)
	want := []string{"probe echo / split-75-25 / ingress", "probe echo / split-75-25 / in-mesh"}
	if strings.Join(titles, "|") != strings.Join(want, "|") || strings.Join(results, " ") != "PASS PASS" {
		t.Errorf("verdict tables %q %q, want %q both PASS\n%s", titles, results, want, out)
	}
	for _, w := range []string{"LINE", "EXPECTED", "emulated", "requests     ", "stopped: verdict decided", "summary      PASS"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	// Every report shows the requests and the time its verdict took.
	if n := len(regexp.MustCompile(`(?m)^requests +[0-9,]+ in [0-9.]+(ms|s)`).FindAllString(out, -1)); n != 2 {
		t.Errorf("%d requests-and-time lines, want one per probe:\n%s", n, out)
	}
}

func TestRunHelloLocal(t *testing.T) {
	code, out, errOut := runExec(t, "run", "../../scenarios/hello", "--env", "local", "--rate", runRate())
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	titles, results := verdicts(out)
	if len(titles) != 6 || strings.Count(strings.Join(results, " "), "PASS") != 6 {
		t.Errorf("want 6 verdict tables, all PASS (3 steps x ingress, in-mesh); got %q %q\n%s", titles, results, out)
	}
	for _, step := range []string{"split-100-0", "split-50-50", "split-0-100"} {
		for _, vantage := range []string{"ingress", "in-mesh"} {
			if !strings.Contains(out, "probe hello / "+step+" / "+vantage+"\n") {
				t.Errorf("no verdict table for %s / %s", step, vantage)
			}
		}
	}
}

// TestRunWithoutMeshGateway is the tutorial's lesson: without "mesh" in the
// VirtualService's gateways, in-mesh traffic ignores it; the run fails and
// the in-mesh report says why in one sentence.
func TestRunWithoutMeshGateway(t *testing.T) {
	dir := copyScenario(t, "../../scenarios/echo", filepath.Join("manifests", "routing.yaml"), "    - mesh\n", "")
	code, out, errOut := runExec(t, "run", dir, "--env", "local", "--rate", runRate())
	if code != ExitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	inMesh := out[strings.Index(out, "probe echo / split-75-25 / in-mesh"):]
	inMesh = inMesh[:strings.Index(inMesh, "\n\n")]
	if !strings.Contains(inMesh, "verdict      FAIL") {
		t.Errorf("in-mesh probe did not fail:\n%s", inMesh)
	}
	var note string
	for _, line := range strings.Split(inMesh, "\n") {
		if strings.HasPrefix(line, "note ") {
			note = strings.TrimSpace(strings.TrimPrefix(line, "note"))
		}
	}
	for _, w := range []string{"ignore VirtualService echo/echo-route", "gateways do not include mesh", "v1 50%, v2 50%"} {
		if !strings.Contains(note, w) {
			t.Errorf("in-mesh note %q does not say %q", note, w)
		}
	}
	if strings.Count(note, ". ") > 0 {
		t.Errorf("in-mesh note is more than one sentence: %q", note)
	}
	ingress := out[:strings.Index(out, "probe echo / split-75-25 / in-mesh")]
	if !strings.Contains(ingress, "verdict      PASS") {
		t.Errorf("the ingress probe (its VirtualService still applies there) did not pass:\n%s", ingress)
	}
}

func TestRunMisspeltField(t *testing.T) {
	dir := copyScenario(t, "../../scenarios/echo", "scenario.yaml", "podLabel: version", "podLable: version")
	data, err := os.ReadFile(filepath.Join(dir, "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(string(data[:bytes.Index(data, []byte("podLable"))]), "\n")
	code, out, errOut := runExec(t, "run", dir, "--env", "local", "--rate", runRate())
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "scenario.yaml:" + strconv.Itoa(line) + ":"; !strings.Contains(errOut, want) || !strings.Contains(errOut, "podLable") {
		t.Errorf("stderr %q does not name %s and the field podLable", errOut, want)
	}
	if out != "" {
		t.Errorf("a scenario that does not load ran anyway: %s", out)
	}
}

// TestRunUndefinedSubset: a VirtualService naming a subset no
// DestinationRule defines gets 503s, counted as errors and never as a
// version; the validation warns before the run.
func TestRunUndefinedSubset(t *testing.T) {
	dir := copyScenario(t, "../../scenarios/echo", filepath.Join("manifests", "routing.yaml"), "subset: v2", "subset: v3")
	code, out, errOut := runExec(t, "run", dir, "--env", "local", "--rate", runRate(), "-o", "json")
	if code != ExitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	warn := strings.Index(errOut, "warning: ")
	firstProbe := strings.Index(errOut, "msg=probe ")
	if warn < 0 || !strings.Contains(errOut, "subset v3") || firstProbe < 0 || warn > firstProbe {
		t.Errorf("no warning about subset v3 before the first probe:\n%s", errOut)
	}
	doc, err := report.Decode(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if doc.Verdict != verify.Fail || len(doc.Probes) != 2 || !doc.Emulated || doc.Environment != "local" {
		t.Fatalf("document: verdict %v, %d probes, emulated %v, environment %q", doc.Verdict, len(doc.Probes), doc.Emulated, doc.Environment)
	}
	for _, p := range doc.Probes {
		if p.Stats.StatusCodes[503] == 0 || p.Result.Errors.BadStatus != p.Stats.StatusCodes[503] {
			t.Errorf("probe %s: %d 503s, %d bad-status errors: every 503 must count as an error", p.Name, p.Stats.StatusCodes[503], p.Result.Errors.BadStatus)
		}
		for _, l := range p.Result.Lines {
			if l.Kind == verify.KindVersion && l.Name == "v2" && l.Count != 0 {
				t.Errorf("probe %s: %d responses counted as v2, which no route reaches", p.Name, l.Count)
			}
			if l.Kind == verify.KindErrors && l.State != verify.Fail {
				t.Errorf("probe %s: errors line %v, want FAIL", p.Name, l.State)
			}
		}
		if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "subset v3") {
			t.Errorf("probe %s: notes %q do not explain the 503s", p.Name, p.Notes)
		}
	}
}

// TestRunKindWithoutEngine runs `run --env kind` with the real boundaries.
// Where no container engine answers (meshcheck's development machines: the
// docker client is installed, no engine runs) it exits 4 with the very line
// `meshcheck up` prints, and creates nothing.
func TestRunKindWithoutEngine(t *testing.T) {
	if e, err := (&kind.CommandProber{}).Probe(context.Background()); err == nil {
		t.Skipf("a container engine answers here (%s): run --env kind would create a real cluster", e.Name)
	}
	dir := t.TempDir()
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--env", "kind", "--kubeconfig-dir", dir)
	if code != ExitEnvironment || out != "" {
		t.Fatalf("exit %d, stdout %q; want 4 and nothing\nstderr:\n%s", code, out, errOut)
	}
	upCode, _, upLine, _ := upExec(t, kind.DefaultDeps, "up", "--kubeconfig-dir", dir)
	if upCode != ExitEnvironment {
		t.Fatalf("up: exit %d, %q", upCode, upLine)
	}
	if errOut != "meshcheck: "+upLine+"\n" {
		t.Errorf("run --env kind printed\n%q\nwant the line up prints:\n%q", errOut, "meshcheck: "+upLine+"\n")
	}
	if !strings.Contains(upLine, "no container engine answers") || !strings.Contains(upLine, "--env local") || !strings.Contains(upLine, "--env existing") {
		t.Errorf("up's line %q does not name the problem and the alternatives", upLine)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d entries created in %s without an engine", len(entries), dir)
	}
}

// TestRunKindDryRun prints the cluster plan and then, per step, the
// manifests as meshcheck would apply them; it needs no engine and changes
// nothing.
func TestRunKindDryRun(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--env", "kind", "--dry-run", "--kubeconfig-dir", dir, "--name", "ci-7")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	kubeconfig := filepath.Join(dir, "clusters", "ci-7", "kubeconfig")
	plan := strings.Index(out, "kind: Cluster\n")
	install := strings.Index(out, "install -y -f "+filepath.Join(dir, "clusters", "ci-7", "istio-operator.yaml")+" --kubeconfig "+kubeconfig)
	images := strings.Index(out, "meshcheck.local/meshcheck:v0.1.0 <- ./cmd/meshcheck")
	ns := strings.Index(out, "# scenario echo, setup: phase make: apply Namespace echo\n")
	dr := strings.Index(out, "# scenario echo, step 1/1 split-75-25: phase make: apply DestinationRule echo/echo")
	vs := strings.Index(out, "# scenario echo, step 1/1 split-75-25: phase route: apply VirtualService echo/echo-route\n")
	agent := strings.Index(out, "in-mesh agent for probes from mesh, in namespace echo: apply Deployment echo/meshcheck-agent\n")
	if plan < 0 || install < plan || images < install || ns < images || dr < ns || vs < dr || agent < vs {
		t.Errorf("dry run lacks a part or has them out of order (cluster %d, istioctl %d, images %d, namespace %d, DestinationRule %d, VirtualService %d, agent %d):\n%s",
			plan, install, images, ns, dr, vs, agent, out)
	}
	for _, w := range []string{`cluster "ci-7" is reused if it exists, else created as below and deleted after the run`, "name: ci-7\n",
		"app.kubernetes.io/managed-by: meshcheck\n", "meshcheck.dev/scenario: echo\n", "image: meshcheck.local/meshcheck:v0.1.0\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run lacks %q", w)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run created %d entries in %s", len(entries), dir)
	}
	// existing: the manifests only, the cluster not contacted.
	code, out, errOut = runExec(t, "run", "../../scenarios/echo", "--env", "existing", "--dry-run", "--kubeconfig", filepath.Join(dir, "absent"), "--agent-image", "registry.example/meshcheck:v0.1.0")
	if code != ExitPass || !strings.Contains(out, "not contacted by --dry-run") || !strings.Contains(out, "apply VirtualService echo/echo-route") ||
		!strings.Contains(out, "image: registry.example/meshcheck:v0.1.0\n") || strings.Contains(out, "kind: Cluster") {
		t.Errorf("existing --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	// existing with --image-registry: the agent and the fixtures from it.
	code, out, errOut = runExec(t, "run", "../../scenarios/hello", "--env", "existing", "--dry-run", "--image-registry", "reg.example/mc")
	if code != ExitPass || !strings.Contains(out, "image: reg.example/mc/fixture:v0.1.0\n") || !strings.Contains(out, "image: reg.example/mc/meshcheck:v0.1.0\n") ||
		strings.Contains(out, "meshcheck.local/") {
		t.Errorf("existing --dry-run --image-registry: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestRunEnvironmentFlags: a flag of another environment, or a bad value,
// is a usage error naming the flag; nothing is contacted.
func TestRunEnvironmentFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "local", "--kubeconfig", "k"}, "--kubeconfig is for --env existing"},
		{[]string{"--env", "kind", "--image-registry", "reg.example", "--kubeconfig-dir", dir}, "--image-registry is for --env existing"},
		{[]string{"--env", "existing", "--image-registry", "reg.example", "--agent-image", "a/b:v1", "--dry-run"}, "--agent-image and --image-registry"},
		{[]string{"--kubeconfig-dir", dir}, "--kubeconfig-dir is for --env kind"},
		{[]string{"--env", "existing", "--name", "x", "--keep"}, "--keep is for --env kind; --name is for --env kind"},
		{[]string{"--env", "kind", "--ingress-url", "http://gw", "--kubeconfig-dir", dir}, "--ingress-url is for --env existing"},
		{[]string{"--env", "local", "--dry-run"}, "--dry-run is for --env kind or --env existing"},
		{[]string{"--env", "kind", "--dry-run", "-o", "json", "--kubeconfig-dir", dir}, "-o json does not apply"},
		{[]string{"--env", "existing", "--dry-run", "--save", dir}, "--save does not apply"},
		{[]string{"--env", "existing", "--programmed-timeout", "0s"}, "--programmed-timeout 0s"},
		{[]string{"--env", "existing", "--readiness-timeout", "-1s"}, "--readiness-timeout -1s"},
		{[]string{"--env", "kind", "--name", "Bad_Name", "--kubeconfig-dir", dir}, "--name"},
		{[]string{"--env", "kind", "--source", "/", "--kubeconfig-dir", dir}, "--source"},
		{[]string{"--env", "kind", "--name", "Bad_Name", "--dry-run", "--kubeconfig-dir", dir}, "--name"},
		{[]string{"--env", "existing", "--kubeconfig", filepath.Join(dir, "absent")}, "--kubeconfig " + filepath.Join(dir, "absent")},
		{[]string{"--env", "existing", "--kubeconfig", filepath.Join(dir, "absent"), "--ingress-url", "gw.example"}, `--ingress-url "gw.example"`},
	} {
		args := append([]string{"run", "../../scenarios/echo"}, c.args...)
		code, out, errOut := runExec(t, args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line naming %q", c.args, code, errOut, c.want)
		}
		if out != "" {
			t.Errorf("%q printed %q", c.args, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors created %d entries in %s", len(entries), dir)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "no scenario folder"},
		{[]string{"run", "../../scenarios/echo", "--env", "docker"}, `--env "docker"`},
		{[]string{"run", "../../scenarios/echo", "-o", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: want text, json, junit, markdown or html`},
		{[]string{"run", "../../scenarios/echo", "--report-file", "out.yaml"}, "--report-format"},
		{[]string{"run", "../../scenarios/echo", "--report-file", "no/such/folder/r.xml"}, "its folder no/such/folder does not exist"},
		{[]string{"run", "../../scenarios/echo", "--report-format", "junit"}, "give --report-file too"},
		{[]string{"run", "../../scenarios/echo", "--rate", "-5"}, "--rate -5"},
		{[]string{"run", "../../scenarios/echo", "--max-requests", "-1"}, "--max-requests -1"},
		{[]string{"run", "../../scenarios/echo", "--rate", "fast"}, "--rate"},
		{[]string{"run", "no/such/scenario"}, "no/such/scenario"},
	} {
		code, _, errOut := runExec(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %q", c.args, code, errOut, c.want)
		}
	}
}

func TestRunSaveAndJSON(t *testing.T) {
	save := filepath.Join(t.TempDir(), "results")
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--rate", runRate(), "--max-requests", "5000", "--save", save, "-o", "json")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	doc, err := report.Decode(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatalf("-o json is not one report: %v\n%s", err, out)
	}
	if doc.Verdict != verify.Pass || len(doc.Probes) != 2 {
		t.Errorf("document verdict %v with %d probes", doc.Verdict, len(doc.Probes))
	}
	for _, p := range doc.Probes {
		if p.Stats.Requests == 0 || p.Stats.Duration <= 0 || !p.Emulated {
			t.Errorf("probe %s: requests %d, duration %v, emulated %v", p.Name, p.Stats.Requests, p.Stats.Duration, p.Emulated)
		}
		files, _ := filepath.Glob(filepath.Join(save, "*-echo", "1-echo.split-75-25."+p.Name+".ndjson"))
		if len(files) != 1 {
			t.Errorf("probe %s: results files %v, want one in the run's folder", p.Name, files)
			continue
		}
		file := files[0]
		data, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("results file: %v", err)
			continue
		}
		if lines := int64(bytes.Count(data, []byte("\n"))); lines < p.Stats.Requests {
			t.Errorf("%s holds %d records, the verdict saw %d", file, lines, p.Stats.Requests)
		}
	}
}

// thermoRate is the rate of the thermometer runs: each control request
// makes two more through the emulated sidecars, so a lower rate keeps its
// latency far from control's call timeout on a busy machine (and under
// the race detector, which cuts the local environment's capacity to about
// 200 control requests per second on two cores).
const thermoRate = "80"

// Tutorial 004 in the local environment: temp splits 90/10 at both
// vantages, the thermostat refuses the agent with 403 and admits control's
// identity, and control reports temp's versions 90/10.
func TestRunThermoLocal(t *testing.T) {
	code, out, errOut := runExec(t, "run", "../../scenarios/thermo", "--env", "local", "--rate", thermoRate)
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	titles, results := verdicts(out)
	if len(titles) != 5 || strings.Count(strings.Join(results, " "), "PASS") != 5 {
		t.Errorf("want 5 verdict tables, all PASS; got %q %q\n%s", titles, results, out)
	}
	if !strings.Contains(out, `body: "RBAC: access denied"`) {
		t.Errorf("the thermostat-denied report does not show Envoy's RBAC body:\n%s", out)
	}
}

// The acceptance test of tutorial 004's lesson: with an AuthorizationPolicy
// that allows everyone, the 403 probe fails and its report names the policy
// that let the request in.
func TestRunThermoPolicyAllowsEveryone(t *testing.T) {
	dir := copyScenario(t, "../../scenarios/thermo", filepath.Join("manifests", "policy.yaml"),
		"  rules:\n    - from:\n        - source:\n            principals:\n              - cluster.local/ns/thermo/sa/control\n", "  rules:\n    - {}\n")
	code, out, errOut := runExec(t, "run", dir, "--env", "local", "--rate", thermoRate)
	if code != ExitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	titles, results := verdicts(out)
	if len(titles) != 5 {
		t.Fatalf("%d verdict tables, want 5:\n%s", len(titles), out)
	}
	// The policy's own probes; the temp and control ones do not depend on it.
	want := map[string]string{"thermostat-denied": "FAIL", "thermostat-as-control": "PASS"}
	for i, title := range titles {
		name := title[strings.LastIndex(title, "/ ")+2:]
		if w, ok := want[name]; ok && results[i] != w {
			t.Errorf("%s: %s, want %s\n%s", title, results[i], w, out)
		}
	}
	denied := out[strings.Index(out, "probe thermo / split-90-10-thermostat-for-control / thermostat-denied"):]
	denied = denied[:strings.Index(denied, "\n\n")]
	var note string
	for _, line := range strings.Split(denied, "\n") {
		if strings.HasPrefix(line, "note ") {
			note = strings.TrimSpace(strings.TrimPrefix(line, "note"))
		}
	}
	for _, w := range []string{"not the expected status 403", "ALLOW AuthorizationPolicy thermo/thermostat rules[0] matches"} {
		if !strings.Contains(note, w) {
			t.Errorf("thermostat-denied note %q does not say %q\n%s", note, w, denied)
		}
	}
	if !strings.Contains(errOut, "probe thermostat-denied expects status 403 but the model predicts") {
		t.Errorf("no validation warning before the run:\n%s", errOut)
	}
}
