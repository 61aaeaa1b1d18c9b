package istio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeRunner records the command and plays a scripted istioctl.
type fakeRunner struct {
	calls     []Cmd
	output    string // written to stdout
	errOutput string // written to stderr
	err       error  // returned; nil = exit 0
	block     bool   // wait for the context to end (a hung istioctl)
}

func (r *fakeRunner) Run(ctx context.Context, c Cmd) error {
	r.calls = append(r.calls, c)
	fmt.Fprint(c.Stdout, r.output)
	fmt.Fprint(c.Stderr, r.errOutput)
	if r.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return r.err
}

func testLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestInstallRunsExactCommand(t *testing.T) {
	log, logs := testLogger()
	r := &fakeRunner{output: "✔ Istio core installed\n✔ Istiod installed\n✔ Installation complete\n"}
	in := &Installer{Istioctl: "/cache/istioctl", Kubeconfig: "/state/meshcheck/kubeconfig", ReadinessTimeout: 3 * time.Minute, Runner: r, Log: log}
	if err := in.Install(context.Background(), "/state/meshcheck/istio-operator.yaml"); err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 1 {
		t.Fatalf("%d runs, want 1", len(r.calls))
	}
	c := r.calls[0]
	if c.Path != "/cache/istioctl" {
		t.Errorf("path %s", c.Path)
	}
	want := []string{"install", "-y", "-f", "/state/meshcheck/istio-operator.yaml", "--kubeconfig", "/state/meshcheck/kubeconfig", "--readiness-timeout", "3m0s"}
	if !reflect.DeepEqual(c.Args, want) {
		t.Errorf("argv %q, want %q", c.Args, want)
	}
	if !slices.Contains(c.Env, "KUBECONFIG=/state/meshcheck/kubeconfig") {
		t.Errorf("env lacks KUBECONFIG=/state/meshcheck/kubeconfig")
	}
	if !strings.Contains(logs.String(), "Istiod installed") || !strings.Contains(logs.String(), "source=istioctl") {
		t.Errorf("istioctl output not streamed to the log:\n%s", logs)
	}
	if got := c.String(); got != "/cache/istioctl install -y -f /state/meshcheck/istio-operator.yaml --kubeconfig /state/meshcheck/kubeconfig --readiness-timeout 3m0s" {
		t.Errorf("command line %s", got)
	}
}

func TestInstallExitOneShowsLastLines(t *testing.T) {
	log, _ := testLogger()
	var out strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&out, "line %d\n", i)
	}
	out.WriteString("Error: failed to install manifests: context deadline exceeded") // no final newline
	r := &fakeRunner{output: out.String(), err: &ExitError{Code: 1}}
	in := &Installer{Istioctl: "istioctl", Kubeconfig: "/k", Runner: r, Log: log, TailLines: 5}
	err := in.Install(context.Background(), "/op.yaml")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("error %v, want one wrapping exit status 1", err)
	}
	msg := err.Error()
	for _, want := range []string{"istioctl install failed: exit status 1", "last 5 lines", "line 27", "line 30", "Error: failed to install manifests"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 26\n") {
		t.Errorf("error shows more than the last 5 lines:\n%s", msg)
	}
}

func TestInstallTimeout(t *testing.T) {
	log, _ := testLogger()
	r := &fakeRunner{output: "Processing resources for Istiod.\n", block: true}
	in := &Installer{Istioctl: "istioctl", Kubeconfig: "/k", Runner: r, Log: log, ReadinessTimeout: 20 * time.Millisecond, Grace: 10 * time.Millisecond}
	err := in.Install(context.Background(), "/op.yaml")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not finish within 30ms") || !strings.Contains(err.Error(), "Processing resources for Istiod.") {
		t.Fatalf("error %v, want a timeout with the last output", err)
	}
}

func TestInstallInterrupted(t *testing.T) {
	log, _ := testLogger()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &fakeRunner{block: true}
	in := &Installer{Istioctl: "istioctl", Kubeconfig: "/k", Runner: r, Log: log}
	err := in.Install(ctx, "/op.yaml")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("error %v, want interrupted", err)
	}
}

func TestInstallRefusesWithoutKubeconfig(t *testing.T) {
	r := &fakeRunner{}
	in := &Installer{Istioctl: "istioctl", Runner: r}
	if err := in.Install(context.Background(), "/op.yaml"); err == nil || len(r.calls) != 0 {
		t.Fatalf("ran istioctl without a kubeconfig: %v", err)
	}
}

func TestExecRunner(t *testing.T) {
	var out bytes.Buffer
	r := ExecRunner{}
	err := r.Run(context.Background(), Cmd{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2; exit 3"}, Stdout: &out, Stderr: &out})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("error %v, want exit status 3", err)
	}
	if out.String() != "out\nerr\n" {
		t.Errorf("output %q", out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Run(ctx, Cmd{Path: "/bin/sh", Args: []string{"-c", "exec sleep 30"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	if err := r.Run(context.Background(), Cmd{Path: "/bin/sh", Args: []string{"-c", "exit 0"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), Cmd{Path: "/does/not/exist"}); err == nil || errors.As(err, &ee) {
		t.Fatalf("error %v, want a start failure", err)
	}
}

func TestLocatorOrder(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "istioctl")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExe := filepath.Join(dir, "notexe")
	if err := os.WriteFile(notExe, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An istioctl on PATH is never picked: the pinned release is.
	t.Setenv("PATH", dir)
	d := &Downloader{CacheDir: filepath.Join(dir, "cache")}

	src, err := (&Locator{Flag: exe, Downloader: d, Version: "1.31.0", Platform: linuxAMD64}).Resolve()
	if err != nil || src.Origin != FromFlag || src.Path != exe {
		t.Errorf("flag: %+v, %v", src, err)
	}
	if _, err := (&Locator{Flag: notExe}).Resolve(); err == nil || !strings.Contains(err.Error(), "--istioctl") {
		t.Errorf("non-executable --istioctl: %v", err)
	}
	if _, err := (&Locator{Flag: filepath.Join(dir, "missing")}).Resolve(); err == nil {
		t.Error("missing --istioctl accepted")
	}
	src, err = (&Locator{Downloader: d, Version: "1.31.0", Platform: linuxAMD64}).Resolve()
	if err != nil || src.Origin != FromDownload || src.Path != d.Path("1.31.0", linuxAMD64) || src.URL != "https://github.com/istio/istio/releases/download/1.31.0/istioctl-1.31.0-linux-amd64.tar.gz" {
		t.Errorf("download, with istioctl on PATH: %+v, %v", src, err)
	}
	cached := d.Path("1.31.0", linuxAMD64)
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err = (&Locator{Downloader: d, Version: "1.31.0", Platform: linuxAMD64}).Resolve()
	if err != nil || src.Origin != FromCache || src.Path != cached {
		t.Errorf("cache, with istioctl on PATH: %+v, %v", src, err)
	}
}

func TestLocatorEnsureDownloads(t *testing.T) {
	archive := fakeRelease(t, map[string]string{"istioctl": "bin"})
	srv := newReleaseServer(t, "1.31.0", "istioctl-1.31.0-linux-amd64.tar.gz", archive, "")
	d := &Downloader{BaseURL: srv.URL, CacheDir: t.TempDir(), Client: srv.Client()}
	l := &Locator{Downloader: d, Version: "1.31.0", Platform: linuxAMD64}
	p, err := l.Ensure(context.Background())
	if err != nil || p != d.Path("1.31.0", linuxAMD64) {
		t.Fatalf("Ensure: %s, %v", p, err)
	}
}

// istioObjects are istio-system, the Deployment name with the selector
// app=name, and when ready its status as the controller reports an
// available rollout and one ready pod of it: ready by kube.WaitDeployments.
func istioObjects(name string, ready bool) []runtime.Object {
	one := int32(1)
	sel := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Generation: 1},
		Spec:       appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel}},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 1},
	}
	objs := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}}
	if ready {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}}
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: Namespace, Labels: sel},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	return append(objs, d)
}

func TestVerifyWaitsForIstiodAndGateway(t *testing.T) {
	objs := istioObjects("istiod", true)
	client := fake.NewClientset(append(objs, istioObjects("istio-ingressgateway", false)[1:]...)...)
	polled := make(chan struct{}, 1)
	client.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "istio-ingressgateway" {
			select {
			case polled <- struct{}{}:
			default:
			}
		}
		return false, nil, nil
	})
	in := &Installer{ReadinessTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- in.Verify(t.Context(), client) }()
	// The gateway becomes ready once Verify has seen it not ready.
	<-polled
	ready := istioObjects("istio-ingressgateway", true)
	if _, err := client.CoreV1().Pods(Namespace).Create(t.Context(), ready[1].(*corev1.Pod), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AppsV1().Deployments(Namespace).UpdateStatus(t.Context(), ready[2].(*appsv1.Deployment), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestVerifyTimesOutNamingWhatIsMissing(t *testing.T) {
	client := fake.NewClientset(istioObjects("istiod", false)...)
	in := &Installer{ReadinessTimeout: 50 * time.Millisecond}
	err := in.Verify(t.Context(), client)
	if err == nil {
		t.Fatal("Verify passed without a gateway")
	}
	for _, want := range []string{"Deployment istio-system/istio-ingressgateway: not found", "Deployment istio-system/istiod: 0 of 1 replicas updated"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
