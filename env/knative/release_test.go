package knative

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// Small stand-ins for the three release files: the Service CRD, Knative's
// namespace with config-network and config-deployment and one Deployment,
// and a net-istio Deployment.
const (
	testCRDs = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: services.serving.knative.dev
spec:
  group: serving.knative.dev
  scope: Namespaced
  names: {plural: services, singular: service, kind: Service, listKind: ServiceList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
	testCore = `apiVersion: v1
kind: Namespace
metadata:
  name: knative-serving
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-network
  namespace: knative-serving
data:
  _example: "a comment"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-deployment
  namespace: knative-serving
data:
  registries-skipping-tag-resolving: "kind.local,ko.local,dev.local"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller
  namespace: knative-serving
spec:
  selector: {matchLabels: {app: controller}}
  template:
    metadata: {labels: {app: controller}}
    spec:
      containers: [{name: controller, image: registry.example/controller:v1}]
`
	testNetIstio = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: net-istio-controller
  namespace: knative-serving
spec:
  selector: {matchLabels: {app: net-istio-controller}}
  template:
    metadata: {labels: {app: net-istio-controller}}
    spec:
      containers: [{name: controller, image: registry.example/net-istio:v1}]
`
)

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// writeRelease writes the three files and a digest file for them into a
// new folder; edit may change the files (by name) before the digests are
// written.
func writeRelease(t *testing.T, edit func(files map[string]string)) string {
	t.Helper()
	files := map[string]string{FileCRDs: testCRDs, FileCore: testCore, FileNetIstio: testNetIstio}
	if edit != nil {
		edit(files)
	}
	dir := t.TempDir()
	var sums strings.Builder
	sums.WriteString("# sha256 of the release files\n")
	for _, f := range Files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(files[f]), 0o600); err != nil {
			t.Fatal(err)
		}
		sums.WriteString(digest(files[f]) + "  " + f + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, FileDigests), []byte(sums.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	dir := writeRelease(t, nil)
	m, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.CRDs) != 1 || len(m.Core) != 4 || len(m.NetIstio) != 1 {
		t.Fatalf("objects: %d CRDs, %d core, %d net-istio", len(m.CRDs), len(m.Core), len(m.NetIstio))
	}
	if m.Digests[FileCore] != digest(testCore) || m.Dir != dir {
		t.Errorf("digests %v", m.Digests)
	}
}

func TestLoadDirErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		want string
	}{
		{"no folder", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") }, "SHA256SUMS: open"},
		{"changed file", func(t *testing.T) string {
			dir := writeRelease(t, nil)
			if err := os.WriteFile(filepath.Join(dir, FileCore), []byte(testCore+"# changed\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "serving-core.yaml: sha256 " + digest(testCore+"# changed\n") + ", but SHA256SUMS says " + digest(testCore) + ": refusing to apply it"},
		{"missing file", func(t *testing.T) string {
			dir := writeRelease(t, nil)
			if err := os.Remove(filepath.Join(dir, FileNetIstio)); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "net-istio.yaml: open"},
		{"no digest line", func(t *testing.T) string {
			dir := writeRelease(t, nil)
			if err := os.WriteFile(filepath.Join(dir, FileDigests), []byte(digest(testCRDs)+"  "+FileCRDs+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "SHA256SUMS has no line for serving-core.yaml"},
		{"bad digest line", func(t *testing.T) string {
			dir := writeRelease(t, nil)
			if err := os.WriteFile(filepath.Join(dir, FileDigests), []byte("\nabc serving-crds.yaml\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, `SHA256SUMS:2: "abc serving-crds.yaml": want`},
		{"no service CRD", func(t *testing.T) string {
			return writeRelease(t, func(f map[string]string) {
				f[FileCRDs] = strings.Replace(testCRDs, "name: services.serving.knative.dev", "name: routes.serving.knative.dev", 1)
			})
		}, "defines no CustomResourceDefinition services.serving.knative.dev"},
		{"bad yaml", func(t *testing.T) string {
			return writeRelease(t, func(f map[string]string) { f[FileNetIstio] = "kind: [\n" })
		}, "net-istio.yaml: document 1"},
		{"no name", func(t *testing.T) string {
			return writeRelease(t, func(f map[string]string) { f[FileNetIstio] = "apiVersion: v1\nkind: ConfigMap\n" })
		}, "want apiVersion, kind and metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDir(tc.dir(t))
			if !errors.Is(err, ErrManifests) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--knative-manifests ") {
				t.Fatalf("LoadDir = %v, want ErrManifests naming the flag and containing %q", err, tc.want)
			}
		})
	}
}

func TestReadDigests(t *testing.T) {
	got, err := ReadDigests("s", []byte(digest("a")+"  a.yaml\n"+digest("b")+" *b.yaml\n\n# c\n"))
	if err != nil || got["a.yaml"] != digest("a") || got["b.yaml"] != digest("b") || len(got) != 2 {
		t.Fatalf("ReadDigests = %v, %v", got, err)
	}
	if _, err := ReadDigests("s", []byte(digest("a")+"  a\n"+digest("b")+"  a\n")); err == nil || !strings.Contains(err.Error(), "s:2: a given twice") {
		t.Errorf("duplicate: %v", err)
	}
}

func TestConfigure(t *testing.T) {
	objs, err := Decode("core", []byte(testCore))
	if err != nil {
		t.Fatal(err)
	}
	set, err := Configure(objs, "meshcheck.local")
	if err != nil {
		t.Fatal(err)
	}
	if set[ConfigNetwork][KeyIngressClass] != IngressClassIstio || set[ConfigDeployment][KeySkipTagResolving] != "kind.local,ko.local,dev.local,meshcheck.local" {
		t.Errorf("set %v", set)
	}
	data := objs[1].Object["data"].(map[string]any)
	if data[KeyIngressClass] != IngressClassIstio || data["_example"] != "a comment" {
		t.Errorf("config-network data %v, want ingress-class set and the rest kept", data)
	}
	// Again: the registry is not added twice.
	if set, err = Configure(objs, "meshcheck.local"); err != nil || set[ConfigDeployment][KeySkipTagResolving] != "kind.local,ko.local,dev.local,meshcheck.local" {
		t.Errorf("second Configure: %v, %v", set, err)
	}
	if _, err := Configure(objs[2:], ""); !errors.Is(err, ErrManifests) || !strings.Contains(err.Error(), "no ConfigMap knative-serving/config-network") {
		t.Errorf("without config-network: %v", err)
	}
	if got := SkipTagResolving("", "r"); got != DefaultSkipTagResolving+",r" {
		t.Errorf("SkipTagResolving of nothing = %s", got)
	}
}

// CheckInstalled: a cluster whose API does not serve the Service kind
// wraps ErrNotInstalled and names the CRD; one that does passes.
func TestCheckInstalled(t *testing.T) {
	cs := fake.NewClientset()
	dc := cs.Discovery().(*fakediscovery.FakeDiscovery)
	err := CheckInstalled(dc)
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "no CRD services.serving.knative.dev") {
		t.Fatalf("empty cluster: %v", err)
	}
	dc.Resources = []*metav1.APIResourceList{{GroupVersion: "serving.knative.dev/v1", APIResources: []metav1.APIResource{{Name: "routes", Kind: "Route"}}}}
	if err := CheckInstalled(dc); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("routes only: %v", err)
	}
	dc.Resources[0].APIResources = append(dc.Resources[0].APIResources, metav1.APIResource{Name: "services", Kind: "Service", Namespaced: true})
	if err := CheckInstalled(dc); err != nil {
		t.Fatalf("with the CRD: %v", err)
	}
}

func TestURL(t *testing.T) {
	if got := Pinned.URL(FileNetIstio); got != "https://github.com/knative-extensions/net-istio/releases/download/knative-v1.21.3/net-istio.yaml" {
		t.Errorf("net-istio URL %s", got)
	}
	if got := Pinned.URL(FileCore); got != "https://github.com/knative/serving/releases/download/knative-v1.21.0/serving-core.yaml" {
		t.Errorf("serving URL %s", got)
	}
}

// FuzzReadDigests: whatever a digest file holds, ReadDigests either fails
// naming the file or returns only 64-hex digests of named files.
func FuzzReadDigests(f *testing.F) {
	f.Add([]byte(digest("a") + "  serving-crds.yaml\n# x\n"))
	f.Add([]byte(digest("a") + " *a\n" + digest("a") + "  a\n"))
	f.Add([]byte("zz  a\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ReadDigests("SUMS", in)
		if err != nil {
			if !errors.Is(err, ErrManifests) || !strings.Contains(err.Error(), "SUMS") {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		for name, d := range got {
			if name == "" || len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
				t.Fatalf("entry %q %q", name, d)
			}
		}
	})
}

// FuzzDecode: whatever a release file holds, Decode fails naming it or
// returns objects with apiVersion, kind and name.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(testCore))
	f.Add([]byte(testCRDs + "---\n---\n"))
	f.Add([]byte("a: [\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		objs, err := Decode("f.yaml", in)
		if err != nil {
			if !errors.Is(err, ErrManifests) || !strings.Contains(err.Error(), "f.yaml") {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		for _, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
				t.Fatalf("object %v", o.Object)
			}
		}
	})
}

func TestServiceReady(t *testing.T) {
	svc := func(gen, observed int64, conds ...any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "s", "generation": gen}}}
		st := map[string]any{"observedGeneration": observed}
		if conds != nil {
			st["conditions"] = conds
		}
		u.Object["status"] = st
		return u
	}
	for _, c := range []struct {
		u     *unstructured.Unstructured
		ready bool
		why   string
	}{
		{svc(1, 1, map[string]any{"type": "Ready", "status": "True"}), true, ""},
		{svc(2, 1, map[string]any{"type": "Ready", "status": "True"}), false, "observedGeneration 1 < generation 2"},
		{svc(1, 1), false, "no condition Ready"},
		{svc(1, 1, map[string]any{"type": "RoutesReady", "status": "True"}, map[string]any{"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "image pull"}), false, "condition Ready is False (RevisionFailed): image pull"},
	} {
		ready, why := ServiceReady(c.u)
		if ready != c.ready || !strings.Contains(why, c.why) || (c.ready && why != "") {
			t.Errorf("ServiceReady(%v) = %v, %q; want %v, %q", c.u.Object["status"], ready, why, c.ready, c.why)
		}
	}
}

// WaitServed: a cluster that never serves the Service kind fails after the
// timeout naming the resource (and still wraps ErrNotInstalled); one that
// serves it passes at once; a discovery error other than the missing kind
// ends the wait with that error.
func TestWaitServed(t *testing.T) {
	opts := InstallOptions{ReadyTimeout: 30 * time.Millisecond, PollInterval: 5 * time.Millisecond}
	dc := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	err := WaitServed(t.Context(), dc, opts)
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "does not serve services in serving.knative.dev/v1 after 30ms") {
		t.Fatalf("never served: %v", err)
	}
	dc.Resources = []*metav1.APIResourceList{{GroupVersion: "serving.knative.dev/v1", APIResources: []metav1.APIResource{{Name: "services", Kind: "Service", Namespaced: true}}}}
	if err := WaitServed(t.Context(), dc, opts); err != nil {
		t.Fatalf("served: %v", err)
	}
	broken := errors.New("discovery is down")
	if err := WaitServed(t.Context(), brokenDiscovery{dc, broken}, opts); !errors.Is(err, broken) || errors.Is(err, ErrNotInstalled) {
		t.Fatalf("discovery error: %v", err)
	}
}

// brokenDiscovery fails every ServerGroups call with err.
type brokenDiscovery struct {
	*fakediscovery.FakeDiscovery
	err error
}

func (b brokenDiscovery) ServerGroups() (*metav1.APIGroupList, error) { return nil, b.err }
