// Package knative installs Knative Serving with net-istio, its Istio
// ingress, on a cluster (Install) from release manifests the user gives
// (LoadDir), and says whether a cluster has it (CheckInstalled). The
// Knative Service kind itself is backend/knative.
package knative

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	ksapi "github.com/meshcheck/meshcheck/backend/knative"
)

// Release is a pair of Knative Serving and net-istio releases: their
// tags and where their manifests are published.
type Release struct {
	// Serving is the knative/serving release tag, such as knative-v1.21.0.
	Serving string
	// NetIstio is the knative-extensions/net-istio release tag.
	NetIstio string
}

// Pinned is the release pair meshcheck is written against: Serving
// knative-v1.21.0 (its YAML install page, knative.dev/docs/install/
// yaml-install/serving/install-serving-with-yaml, applies
// .../serving/releases/download/knative-v1.21.0/serving-crds.yaml and
// serving-core.yaml) and net-istio knative-v1.21.3 (the v1.21 docs'
// "Installing Istio for Knative", knative.dev/v1.21-docs/install/
// installing-istio/, applies .../net-istio/releases/download/
// knative-v1.21.3/net-istio.yaml; net-istio's release-1.21 branch tests
// Istio 1.28, knative-extensions/net-istio#1541). No published sha256 of
// these files was found, so none is pinned: the manifests come from
// --knative-manifests DIR with a digest file (LoadDir).
var Pinned = Release{Serving: "knative-v1.21.0", NetIstio: "knative-v1.21.3"}

// The release files meshcheck applies, in this order.
const (
	// FileCRDs is Serving's CustomResourceDefinitions.
	FileCRDs = "serving-crds.yaml"
	// FileCore is Serving's core components (namespace knative-serving).
	FileCore = "serving-core.yaml"
	// FileNetIstio is net-istio's controller, webhook and gateways.
	FileNetIstio = "net-istio.yaml"
	// FileDigests is the digest file beside them: one "<sha256>  <file>"
	// line per file, the format of sha256sum.
	FileDigests = "SHA256SUMS"
)

// Files are the release files in apply order.
var Files = []string{FileCRDs, FileCore, FileNetIstio}

// URL is where file of r is published on GitHub releases.
func (r Release) URL(file string) string {
	if file == FileNetIstio {
		return "https://github.com/knative-extensions/net-istio/releases/download/" + r.NetIstio + "/" + file
	}
	return "https://github.com/knative/serving/releases/download/" + r.Serving + "/" + file
}

// Manifests are the decoded release files.
type Manifests struct {
	// Dir is the folder they were read from.
	Dir string
	// Digests are the files' sha256, by file name.
	Digests map[string]string
	// CRDs, Core and NetIstio are the objects of each file, in file order.
	CRDs, Core, NetIstio []*unstructured.Unstructured
}

// ErrManifests marks a --knative-manifests folder that cannot be used: a
// file missing, a digest that does not match, a file that does not decode.
var ErrManifests = errors.New("knative manifests")

var digestLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *]?(\S+)$`)

// ReadDigests parses a digest file: lines "<sha256 hex>  <file name>" (two
// spaces or " *", as sha256sum writes), blank lines and # comments
// ignored. source names the file in errors, with the line.
func ReadDigests(source string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := digestLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%w: %s:%d: %q: want \"<sha256, 64 lower-case hex digits>  <file>\", as sha256sum writes", ErrManifests, source, n, line)
		}
		name := m[2]
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: %s:%d: %s given twice", ErrManifests, source, n, name)
		}
		out[name] = m[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrManifests, source, err)
	}
	return out, nil
}

// LoadDir reads the release files from dir (the --knative-manifests
// flag), checks each file's sha256 against dir's digest file, and only then
// decodes them; serving-crds.yaml must define the Service CRD. Every
// problem wraps ErrManifests and names the flag, the file and what is
// wanted.
func LoadDir(dir string) (*Manifests, error) {
	where := func(f string) string { return "--knative-manifests " + filepath.Join(dir, f) }
	data, err := os.ReadFile(filepath.Join(dir, FileDigests))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w (want the sha256 of %s, one \"<sha256>  <file>\" line each)", ErrManifests, where(FileDigests), err, strings.Join(Files, ", "))
	}
	digests, err := ReadDigests(where(FileDigests), data)
	if err != nil {
		return nil, err
	}
	m := &Manifests{Dir: dir, Digests: map[string]string{}}
	for _, f := range Files {
		want, ok := digests[f]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no line for %s", ErrManifests, where(FileDigests), f)
		}
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w (want %s of %s)", ErrManifests, where(f), err, f, Pinned.URL(f))
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, fmt.Errorf("%w: %s: sha256 %s, but %s says %s: refusing to apply it", ErrManifests, where(f), got, FileDigests, want)
		}
		objs, err := Decode(where(f), data)
		if err != nil {
			return nil, err
		}
		m.Digests[f] = want
		switch f {
		case FileCRDs:
			m.CRDs = objs
		case FileCore:
			m.Core = objs
		case FileNetIstio:
			m.NetIstio = objs
		}
	}
	if !hasCRD(m.CRDs, ksapi.CRDName) {
		return nil, fmt.Errorf("%w: %s defines no CustomResourceDefinition %s: want Knative Serving's %s", ErrManifests, where(FileCRDs), ksapi.CRDName, FileCRDs)
	}
	return m, nil
}

// Decode reads the YAML documents of one release file into objects; empty
// documents are skipped, and every object needs apiVersion, kind and
// metadata.name. source names the file in errors.
func Decode(source string, data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: document %d: %w", ErrManifests, source, n, err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%w: %s: document %d: %w", ErrManifests, source, n, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("%w: %s: document %d: want apiVersion, kind and metadata.name", ErrManifests, source, n)
		}
		out = append(out, u)
	}
}

func hasCRD(objs []*unstructured.Unstructured, name string) bool {
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" && o.GetName() == name {
			return true
		}
	}
	return false
}
