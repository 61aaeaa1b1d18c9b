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
)

// TestRegisteredAsKind: the environment registers itself under "kind".
func TestRegisteredAsKind(t *testing.T) {
	if !env.Registered(env.Kind) {
		t.Fatal("the kind environment is not registered")
	}
}

// TestPlanForRun: run --env kind reuses the cluster of the name, with the
// options given, and rejects the existing environment's options.
func TestPlanForRun(t *testing.T) {
	dir := t.TempDir()
	p, err := PlanFor(env.Options{Name: "ci-1", StateDir: dir, SourceDir: sourceDir(t), Keep: true}, onPath)
	if err != nil {
		t.Fatal(err)
	}
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
	p, err = PlanFor(env.Options{StateDir: dir, SourceDir: sourceDir(t), ReadyTimeout: time.Minute, KeepOnFailure: true}, onPath)
	if err != nil || p.Options.Name != DefaultName || p.Options.ReadinessTimeout != time.Minute || !p.Options.KeepOnFailure {
		t.Errorf("defaults: %+v, %v", p.Options, err)
	}
	for _, c := range []struct {
		o    env.Options
		want string
	}{
		{env.Options{Kubeconfig: "/home/u/.kube/config"}, "for --env existing"},
		{env.Options{Context: "prod"}, "for --env existing"},
		{env.Options{IngressURL: "http://gw"}, "for --env existing"},
		{env.Options{AgentImage: "x:v1"}, "for --env existing"},
		{env.Options{Name: "Bad_Name"}, "--name"},
		{env.Options{StateDir: "relative"}, "--kubeconfig-dir"},
		{env.Options{SourceDir: "/"}, "--source"},
		{env.Options{Istioctl: "/does/not/exist"}, "--istioctl"},
	} {
		if c.o.StateDir == "" {
			c.o.StateDir = dir
		}
		if c.o.SourceDir == "" {
			c.o.SourceDir = sourceDir(t)
		}
		_, err := PlanFor(c.o, onPath)
		if !errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PlanFor(%+v) = %v, want an invalid-options error naming %s", c.o, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("planning created %d entries in %s", len(entries), dir)
	}
}

// TestOpenWithoutEngine fails with exactly the line `meshcheck up` prints
// and touches neither kind nor the state folder.
func TestOpenWithoutEngine(t *testing.T) {
	w := newWorld()
	noEngine := &NoEngineError{Tried: []string{"docker: not on PATH", "nerdctl: not on PATH", "podman: not on PATH"}}
	w.prober = &fakeProber{err: noEngine}
	dir := t.TempDir()
	_, err := Open(t.Context(), env.Options{StateDir: dir, SourceDir: sourceDir(t)}, w.deps())
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
	_, err = Open(t.Context(), env.Options{StateDir: dir, SourceDir: sourceDir(t), ReadyTimeout: time.Minute}, w.deps())
	if err == nil || errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), `kind cluster "meshcheck"`) || !strings.Contains(err.Error(), "istiod") {
		t.Fatalf("Open on an unreachable cluster: %v, want an environment error naming the cluster and the Istio check", err)
	}
	calls := w.provider.callList()
	if last := calls[len(calls)-1]; last != "Delete meshcheck kubeconfig="+filepath.Join(dir, "clusters", "meshcheck", "kubeconfig") {
		t.Errorf("the cluster Open created was not deleted: %q", calls)
	}
	// A bare kubeconfig (no context) is meshcheck's fault, not the user's.
	w = newWorld()
	_, err = Open(t.Context(), env.Options{StateDir: t.TempDir(), SourceDir: sourceDir(t), ReadyTimeout: time.Minute}, w.deps())
	if err == nil || errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), "no current context") {
		t.Errorf("Open with a kubeconfig without context: %v, want an environment error", err)
	}
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
