package openfaas

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestPinnedChart(t *testing.T) {
	if got, want := Pinned.URL(), "https://openfaas.github.io/faas-netes/openfaas-15.0.6.tgz"; got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}
	if len(Pinned.Digest) != 64 || strings.Trim(Pinned.Digest, "0123456789abcdef") != "" {
		t.Errorf("digest %q is not a hex sha256", Pinned.Digest)
	}
}

func TestLoadRefusesDigestMismatchBeforeLoading(t *testing.T) {
	data, pin := testPin(t, "https://charts.example/")
	// Not even an archive: a digest mismatch must be reported before the
	// loader would complain about the format.
	_, err := pin.Load("x.tgz", []byte("not a chart"))
	var de *DigestError
	if !errors.As(err, &de) {
		t.Fatalf("Load(garbage) = %v, want a *DigestError", err)
	}
	for _, want := range []string{"x.tgz", pin.Digest, "0.0.1-test", "refusing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := pin.Load("ok.tgz", data); err != nil {
		t.Fatalf("Load(pinned) = %v", err)
	}
	other := pin
	other.Version = "0.0.2"
	if _, err := other.Load("ok.tgz", data); err == nil || !strings.Contains(err.Error(), `version "0.0.1-test", want openfaas 0.0.2`) {
		t.Errorf("Load with a pin of another version = %v, want a version error", err)
	}
}

func byRef(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName()] = o
	}
	return m
}

func TestRenderAppliesValues(t *testing.T) {
	data, pin := testPin(t, "https://charts.example/")
	ch, err := pin.Load("test.tgz", data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(ch, Values())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.PreInstall) != 1 || r.PreInstall[0].GetName() != BasicAuthSecret || r.PreInstall[0].GetNamespace() != Namespace {
		t.Fatalf("pre-install hooks = %v, want Secret openfaas/basic-auth", byRef(r.PreInstall))
	}
	objs := byRef(r.Objects)
	for _, want := range []string{"Deployment openfaas/gateway", "Service openfaas/gateway"} {
		if objs[want] == nil {
			t.Errorf("rendered objects lack %s: %v", want, objs)
		}
	}
	if len(objs) != 2 {
		t.Errorf("rendered %d objects, want 2 (NOTES.txt dropped, no PeerAuthentication with istio.mtls=false): %v", len(objs), objs)
	}
	env := map[string]string{}
	cs, _, _ := unstructured.NestedSlice(objs["Deployment openfaas/gateway"].Object, "spec", "template", "spec", "containers")
	for _, e := range cs[0].(map[string]any)["env"].([]any) {
		m := e.(map[string]any)
		env[m["name"].(string)] = m["value"].(string)
	}
	if env["direct_functions"] != "true" || env["function_namespace"] != FunctionNamespace || env["pro"] != "false" {
		t.Errorf("gateway env = %v, want direct_functions=true function_namespace=openfaas-fn pro=false", env)
	}
	// Helm's install order: Service before Deployment.
	if r.Objects[0].GetKind() != "Service" {
		t.Errorf("first object is %s, want the Service (releaseutil.InstallOrder)", r.Objects[0].GetKind())
	}

	// istio.mtls=true renders the STRICT PeerAuthentications the scenarios
	// apply themselves.
	on := Values()
	on["istio"] = map[string]any{"mtls": true}
	r, err = Render(ch, on)
	if err != nil {
		t.Fatal(err)
	}
	objs = byRef(r.Objects)
	for _, want := range []string{"PeerAuthentication openfaas/default", "PeerAuthentication openfaas-fn/default"} {
		if objs[want] == nil {
			t.Errorf("istio.mtls=true did not render %s: %v", want, objs)
		}
	}
}

func TestRenderRefusesOtherHooks(t *testing.T) {
	files := map[string]string{}
	for k, v := range testChartFiles {
		files[k] = v
	}
	files["openfaas/templates/job.yaml"] = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: openfaas\n  annotations:\n    helm.sh/hook: post-upgrade\nspec: {}\n"
	data := buildArchive(t, files)
	_, pin := testPin(t, "")
	pin.Digest = sha(data)
	ch, err := pin.Load("hooks.tgz", data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(ch, Values()); err == nil || !strings.Contains(err.Error(), "hook Job migrate runs on [post-upgrade]") {
		t.Errorf("Render with a post-upgrade hook = %v, want it refused by name", err)
	}
}

func TestFetcherDownloadsVerifiesAndCaches(t *testing.T) {
	var hits atomic.Int32
	var served []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/charts/openfaas-0.0.1-test.tgz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(served)
	}))
	defer srv.Close()
	data, pin := testPin(t, srv.URL+"/charts/")
	served = data
	dir := t.TempDir()
	f := Fetcher{Pin: pin, CacheDir: dir, HTTP: srv.Client()}
	ctx := context.Background()
	if _, err := f.Fetch(ctx); err != nil {
		t.Fatalf("Fetch = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pin.Archive())); err != nil {
		t.Fatalf("archive not cached: %v", err)
	}
	if _, err := f.Fetch(ctx); err != nil || hits.Load() != 1 {
		t.Fatalf("second Fetch = %v after %d downloads, want the cached archive and 1 download", err, hits.Load())
	}

	// A tampered download is refused and not cached.
	served = append([]byte(nil), data...)
	served[len(served)-1] ^= 0xff
	f.CacheDir = t.TempDir()
	var de *DigestError
	if _, err := f.Fetch(ctx); !errors.As(err, &de) {
		t.Fatalf("Fetch of a tampered archive = %v, want a *DigestError", err)
	}
	if _, err := os.Stat(filepath.Join(f.CacheDir, pin.Archive())); !os.IsNotExist(err) {
		t.Errorf("tampered archive cached: %v", err)
	}

	f.Pin.Repository = srv.URL + "/missing/"
	if _, err := f.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Fetch of a missing archive = %v, want the 404 named", err)
	}
}

func TestFetcherLocalArchive(t *testing.T) {
	data, pin := testPin(t, "https://charts.example/")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tgz")
	if err := os.WriteFile(good, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := Fetcher{Pin: pin, Local: good}.Fetch(context.Background())
	if err != nil || ch.Metadata.Version != pin.Version {
		t.Fatalf("Fetch(local) = %v, %v", ch, err)
	}
	other := buildArchive(t, map[string]string{"openfaas/Chart.yaml": "apiVersion: v2\nname: openfaas\nversion: 9.9.9\n"})
	bad := filepath.Join(dir, "other.tgz")
	if err := os.WriteFile(bad, other, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Fetcher{Pin: pin, Local: bad}.Fetch(context.Background())
	var de *DigestError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "--openfaas-chart "+bad) {
		t.Errorf("Fetch(other version) = %v, want a *DigestError naming --openfaas-chart", err)
	}
	if _, err := (Fetcher{Pin: pin, Local: filepath.Join(dir, "none.tgz")}).Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "--openfaas-chart") {
		t.Errorf("Fetch(missing file) = %v, want an error naming the flag", err)
	}
}
