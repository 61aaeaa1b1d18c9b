// Package openfaas installs OpenFaaS Community Edition on a cluster with the
// Helm Go SDK (no helm binary) and deploys functions through the OpenFaaS
// gateway's REST API, as `faas-cli deploy` does.
//
// The chart is pinned by version and sha256 digest; an archive whose digest
// differs is refused before it is loaded. Rendering is client-only (no
// release Secrets, no cluster contact); the rendered objects are applied
// with meshcheck's own server-side apply (env/kube).
package openfaas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
)

// The pinned OpenFaaS chart: the newest `openfaas` entry of the chart
// repository's index (docs/index.yaml of github.com/openfaas/faas-netes,
// served at ChartRepository) at source commit ChartSourceCommit, with the
// index's digest, which is the sha256 of the archive's bytes.
const (
	// ChartName is the chart's name in the repository.
	ChartName = "openfaas"
	// ChartRepository is the OpenFaaS chart repository.
	ChartRepository = "https://openfaas.github.io/faas-netes/"
	// ChartVersion is the pinned chart version.
	ChartVersion = "15.0.6"
	// ChartDigest is the sha256 of openfaas-15.0.6.tgz, as the index lists it.
	ChartDigest = "937d0672524fefb7177e0153f45d44ba0cde026ed8d0bfb723207e39c1119d6c"
	// ChartSourceCommit is the faas-netes commit whose docs/index.yaml and
	// docs/openfaas-15.0.6.tgz were read.
	ChartSourceCommit = "662ce9ce36ec4a32467773c308807bd5d58f5ae6"
)

// Where OpenFaaS is installed: backend/openfaas's names.
const (
	// Namespace holds the OpenFaaS control plane (the Helm release
	// namespace).
	Namespace = fnapi.GatewayNamespace
	// FunctionNamespace holds the functions (the chart's functionNamespace;
	// faas-netes CE refuses any other: pkg/handlers/deploy.go, "namespace
	// must be").
	FunctionNamespace = fnapi.FunctionNamespace
	// ReleaseName is the Helm release name the chart is rendered with.
	ReleaseName = "openfaas"
)

// Pin names one chart archive by version and digest.
type Pin struct {
	// Name is the chart's name.
	Name string
	// Repository is the chart repository's URL, ending in "/".
	Repository string
	// Version is the chart's version.
	Version string
	// Digest is the hex sha256 of the archive.
	Digest string
}

// Pinned is the chart meshcheck installs.
var Pinned = Pin{Name: ChartName, Repository: ChartRepository, Version: ChartVersion, Digest: ChartDigest}

// Archive is the archive's file name, as the repository index lists it.
func (p Pin) Archive() string { return p.Name + "-" + p.Version + ".tgz" }

// URL is where the repository serves the archive.
func (p Pin) URL() string { return p.Repository + p.Archive() }

// Values are the chart values meshcheck sets (the chart's values.yaml gives
// the rest), documented in the chart's README.md "Configuration" tables:
//   - openfaasPro=false: Community Edition.
//   - gateway.directFunctions=true: the gateway calls the function's Service,
//     so the mesh, not faas-netes, balances (README "Service meshes").
//   - istio.mtls=false: with true, templates/istio-mtls.yaml adds a STRICT
//     PeerAuthentication named default in both namespaces and nothing else;
//     the README says Istio needs OpenFaaS Pro, so CE's mTLS is the
//     scenario's own: scenarios apply those same PeerAuthentications
//     (scenarios/openfaas manifests/mtls.yaml), where the routing model
//     sees them, and objects of the install could not be theirs too.
//   - functionNamespace=openfaas-fn.
//   - exposeServices=false: no NodePort Service; meshcheck reaches the
//     gateway through a port-forward.
//   - generateBasicAuth=true: the pre-install hook Secret basic-auth.
func Values() map[string]any {
	return map[string]any{
		"openfaasPro":       false,
		"functionNamespace": FunctionNamespace,
		"exposeServices":    false,
		"generateBasicAuth": true,
		"gateway":           map[string]any{"directFunctions": true},
		"istio":             map[string]any{"mtls": false},
	}
}

// DigestError is an archive whose sha256 is not the pin's.
type DigestError struct {
	// Source names the archive (a file or a URL).
	Source string
	// Got is the archive's sha256; Want the pin's.
	Got, Want string
	// Pin is the chart the archive should have been.
	Pin Pin
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: sha256 %s, but chart %s %s (%s) is sha256 %s: refusing to load it; give the archive %s of version %s",
		e.Source, e.Got, e.Pin.Name, e.Pin.Version, e.Pin.URL(), e.Want, e.Pin.Archive(), e.Pin.Version)
}

// Verify checks that data is the pinned archive.
func (p Pin) Verify(source string, data []byte) error {
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if got != p.Digest {
		return &DigestError{Source: source, Got: got, Want: p.Digest, Pin: p}
	}
	return nil
}

// Load verifies data against the pin, and only then loads it as a chart
// archive (loader.LoadArchive), checking that the chart inside is the pin's
// name and version.
func (p Pin) Load(source string, data []byte) (*chart.Chart, error) {
	if err := p.Verify(source, data); err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: load chart archive: %w", source, err)
	}
	if ch.Metadata == nil || ch.Metadata.Name != p.Name || ch.Metadata.Version != p.Version {
		name, version := "", ""
		if ch.Metadata != nil {
			name, version = ch.Metadata.Name, ch.Metadata.Version
		}
		return nil, fmt.Errorf("%s: holds chart %q version %q, want %s %s", source, name, version, p.Name, p.Version)
	}
	return ch, nil
}

// Fetcher gets the pinned archive: from a local file when one is given,
// else from the cache folder, else over HTTPS from the chart repository
// (cached afterwards). Every archive is digest-checked.
type Fetcher struct {
	// Pin is the chart to get.
	Pin Pin
	// Local is a local archive (--openfaas-chart); "" downloads.
	Local string
	// CacheDir holds downloaded archives; "" means DefaultCacheDir.
	CacheDir string
	// HTTP downloads; nil means http.DefaultClient.
	HTTP *http.Client
}

// DefaultCacheDir is meshcheck's folder in the user's cache folder
// (os.UserCacheDir), where downloaded charts are kept.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user's cache folder for the OpenFaaS chart: %w", err)
	}
	return filepath.Join(dir, "meshcheck", "charts"), nil
}

// Fetch returns the loaded, verified chart. A local archive whose digest
// is not the pin's is a *DigestError: the caller's input is wrong.
func (f Fetcher) Fetch(ctx context.Context) (*chart.Chart, error) {
	if f.Local != "" {
		data, err := os.ReadFile(f.Local)
		if err != nil {
			return nil, fmt.Errorf("--openfaas-chart: %w", err)
		}
		return f.Pin.Load("--openfaas-chart "+f.Local, data)
	}
	dir := f.CacheDir
	if dir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	cached := filepath.Join(dir, f.Pin.Archive())
	if data, err := os.ReadFile(cached); err == nil && f.Pin.Verify(cached, data) == nil {
		return f.Pin.Load(cached, data)
	}
	data, err := f.download(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := f.Pin.Load(f.Pin.URL(), data)
	if err != nil {
		return nil, err
	}
	if err := writeCache(dir, cached, data); err != nil {
		return nil, err
	}
	return ch, nil
}

// maxArchive bounds a downloaded archive (the pinned one is 65 kB).
const maxArchive = 16 << 20

func (f Fetcher) download(ctx context.Context) ([]byte, error) {
	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	url := f.Pin.URL()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("download the OpenFaaS chart: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download the OpenFaaS chart (or give --openfaas-chart FILE.tgz): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download the OpenFaaS chart: GET %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxArchive+1))
	if err != nil {
		return nil, fmt.Errorf("download the OpenFaaS chart: GET %s: %w", url, err)
	}
	if len(data) > maxArchive {
		return nil, fmt.Errorf("download the OpenFaaS chart: GET %s: larger than %d bytes", url, maxArchive)
	}
	return data, nil
}

// writeCache writes a verified archive into the cache through a temporary
// file, so that a partial write is never taken for the archive.
func writeCache(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cache the OpenFaaS chart: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return fmt.Errorf("cache the OpenFaaS chart: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache the OpenFaaS chart: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache the OpenFaaS chart: %w", err)
	}
	return nil
}

// Rendered is a chart rendered for installation.
type Rendered struct {
	// CRDs are the objects of the chart's crds/ folder, which Helm installs
	// before anything else.
	CRDs []*unstructured.Unstructured
	// PreInstall are the pre-install hooks, in Helm's hook order: created
	// only when absent, as Helm runs them on install only.
	PreInstall []*unstructured.Unstructured
	// Objects are the templates' objects in Helm's install order
	// (releaseutil.InstallOrder).
	Objects []*unstructured.Unstructured
}

// Render renders ch with values (coalesced with the chart's own, as
// chartutil.ToRenderValues does for `helm install`) for release
// ReleaseName in Namespace, client-only: the capabilities are Helm's
// defaults and nothing is contacted. Hooks other than pre-install are
// refused: meshcheck runs no Helm release lifecycle.
func Render(ch *chart.Chart, values map[string]any) (Rendered, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{
		Name: ReleaseName, Namespace: Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return Rendered{}, fmt.Errorf("chart %s: values: %w", ch.Name(), err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return Rendered{}, fmt.Errorf("chart %s: render: %w", ch.Name(), err)
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return Rendered{}, fmt.Errorf("chart %s: sort manifests: %w", ch.Name(), err)
	}
	var r Rendered
	for _, c := range ch.CRDObjects() {
		objs, err := decode(c.Filename, string(c.File.Data))
		if err != nil {
			return Rendered{}, err
		}
		r.CRDs = append(r.CRDs, objs...)
	}
	for _, h := range hooks {
		if !slices.Equal(h.Events, []release.HookEvent{release.HookPreInstall}) {
			return Rendered{}, fmt.Errorf("chart %s: %s: hook %s %s runs on %v: meshcheck runs only pre-install hooks", ch.Name(), h.Path, h.Kind, h.Name, h.Events)
		}
		objs, err := decode(h.Path, h.Manifest)
		if err != nil {
			return Rendered{}, err
		}
		r.PreInstall = append(r.PreInstall, objs...)
	}
	for _, m := range manifests {
		objs, err := decode(m.Name, m.Content)
		if err != nil {
			return Rendered{}, err
		}
		r.Objects = append(r.Objects, objs...)
	}
	return r, nil
}

// decode reads the YAML documents of one rendered file.
func decode(file, content string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range releaseutil.SplitManifests(content) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}
