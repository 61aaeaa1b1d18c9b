package kind

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestNewPlansTheRun: run --env kind reuses the cluster of the name, with
// the options given, validated once: bad input is env.ErrInvalidOptions
// naming the flag, and nothing is created.
func TestNewPlansTheRun(t *testing.T) {
	dir := t.TempDir()
	deps := Deps{}
	k, err := New(WithName("ci-1"), WithStateDir(dir), WithSourceDir(sourceDir(t)), WithKeep(true), WithDeps(deps))
	if err != nil {
		t.Fatal(err)
	}
	if k.Name() != env.Kind || k.Emulated() {
		t.Errorf("Name %q, Emulated %v", k.Name(), k.Emulated())
	}
	p := k.Plan()
	o := p.Options
	if !o.Reuse || o.Name != "ci-1" || o.StateDir != dir || !o.Keep || o.KeepOnFailure || o.ReadinessTimeout != istio.DefaultReadinessTimeout {
		t.Errorf("plan options %+v", o)
	}
	if p.Layout.Kubeconfig() != filepath.Join(dir, "clusters", "ci-1", "kubeconfig") {
		t.Errorf("kubeconfig %s, want meshcheck's own under the state folder", p.Layout.Kubeconfig())
	}
	if ref, err := p.AgentImage(); err != nil || ref != "meshcheck.local/meshcheck:v0.1.0" {
		t.Errorf("AgentImage() = %q, %v", ref, err)
	}
	k, err = New(WithStateDir(dir), WithSourceDir(sourceDir(t)), WithReadyTimeout(time.Minute), WithKeepOnFailure(true), WithDeps(deps))
	if err != nil || k.Plan().Options.Name != DefaultName || k.Plan().Options.ReadinessTimeout != time.Minute || !k.Plan().Options.KeepOnFailure {
		t.Errorf("defaults: %v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	k, err = New(WithStateDir("relative"), WithSourceDir(sourceDir(t)), WithDeps(deps))
	if err != nil || k.Plan().Options.StateDir != filepath.Join(wd, "relative") {
		t.Errorf("a relative --kubeconfig-dir is made absolute: %v", err)
	}
	for _, c := range []struct {
		o    Option
		want string
	}{
		{WithName("Bad_Name"), "--name"},
		{WithSourceDir("/"), "--source"},
		{WithIstioctl("/does/not/exist"), "--istioctl"},
		{WithIstioctlAnyVersion(true), "--istioctl-any-version applies to --istioctl"},
		{WithReadyTimeout(-time.Second), "--readiness-timeout -1s"},
		{WithProgrammedTimeout(0), "--programmed-timeout 0s"},
	} {
		_, err := New(WithStateDir(dir), WithSourceDir(sourceDir(t)), WithDeps(deps), c.o)
		if !errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%s) = %v, want an invalid-options error naming it", c.want, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("planning created %d entries in %s", len(entries), dir)
	}
}

// TestDryRunPrintsThePlanAndTheManifests: the cluster plan, then the
// objects of each scenario with the agent image loaded into the nodes.
func TestDryRunPrintsThePlanAndTheManifests(t *testing.T) {
	dir := t.TempDir()
	k, err := New(WithName("ci-7"), WithStateDir(dir), WithSourceDir(sourceDir(t)), WithDeps(Deps{}))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := k.DryRun(&out, []*scenario.Scenario{s}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`the cluster "ci-7" is reused if it exists`, "kind: Cluster", "kind: IstioOperator", "apply VirtualService echo/echo-route", "image: meshcheck.local/meshcheck:v0.1.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run created %d entries in %s", len(entries), dir)
	}
}

// TestOpenWithoutEngine fails with exactly the line `meshcheck up` prints
// and touches neither kind nor the state folder.
func TestOpenWithoutEngine(t *testing.T) {
	w := newWorld()
	noEngine := &NoEngineError{Tried: []string{"docker: not on PATH", "nerdctl: not on PATH", "podman: not on PATH"}}
	w.prober = &fakeProber{err: noEngine}
	dir := t.TempDir()
	_, err := open(t, w.deps(), WithStateDir(dir))
	if !errors.Is(err, ErrNoEngine) || err.Error() != noEngine.Error() || errors.Is(err, env.ErrInvalidOptions) {
		t.Fatalf("Open without an engine: %v\nwant exactly: %v", err, noEngine)
	}
	if calls := w.provider.callList(); len(calls) != 0 {
		t.Errorf("kind called without an engine: %q", calls)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d entries created in %s without an engine", len(entries), dir)
	}
}

// TestOpenDeletesTheClusterItCreatedWhenTheClusterFails: after Provision,
// a cluster whose API cannot be reached is an environment error, and the
// cluster Open created is deleted.
func TestOpenDeletesTheClusterItCreatedWhenTheClusterFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	w := newWorld()
	w.provider.kubeconfigs = map[string][]byte{"meshcheck": []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: kind-meshcheck, cluster: {server: "http://%s"}}]
users: [{name: kind-meshcheck, user: {}}]
contexts: [{name: kind-meshcheck, context: {cluster: kind-meshcheck, user: kind-meshcheck}}]
current-context: kind-meshcheck
`, closed))}
	dir := t.TempDir()
	_, err = open(t, w.deps(), WithStateDir(dir), WithReadyTimeout(time.Minute))
	if err == nil || errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), `kind cluster "meshcheck"`) || !strings.Contains(err.Error(), "istiod") {
		t.Fatalf("Open on an unreachable cluster: %v, want an environment error naming the cluster and the Istio check", err)
	}
	calls := w.provider.callList()
	if last := calls[len(calls)-1]; last != "Delete meshcheck kubeconfig="+filepath.Join(dir, "clusters", "meshcheck", "kubeconfig") {
		t.Errorf("the cluster Open created was not deleted: %q", calls)
	}
	// A bare kubeconfig (no context) is meshcheck's fault, not the user's.
	w = newWorld()
	_, err = open(t, w.deps(), WithStateDir(t.TempDir()), WithReadyTimeout(time.Minute))
	if err == nil || errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), "no current context") {
		t.Errorf("Open with a kubeconfig without context: %v, want an environment error", err)
	}
}

// open provisions the environment with the deps d and a source tree.
func open(t *testing.T, d Deps, opts ...Option) (*Env, error) {
	t.Helper()
	k, err := New(append([]Option{WithSourceDir(sourceDir(t)), WithDeps(d)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return k.Provision(t.Context())
}

// TestCloseIsOnce: Close ends the session once.
func TestCloseIsOnce(t *testing.T) {
	f := &fakeProvider{clusters: []string{"meshcheck"}}
	l := Layout{StateDir: t.TempDir(), Name: "meshcheck"}
	e := &Env{session: &Session{Cluster: &Cluster{Name: "meshcheck", Layout: l, Created: true}, provider: f, log: discard()}}
	if e.Name() != "kind" || e.Emulated() {
		t.Errorf("Name %q, Emulated %v", e.Name(), e.Emulated())
	}
	for range 2 {
		if err := e.Close(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	if calls := f.callList(); len(calls) != 2 || calls[1] != "Delete meshcheck kubeconfig="+l.Kubeconfig() || e.Session() != nil {
		t.Errorf("calls %q, want one List and one Delete", calls)
	}
}
