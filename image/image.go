// Package image builds OCI images of meshcheck's own Go binaries in-process,
// without `docker build`, loads them into kind nodes, and pushes them to a
// registry for other clusters (go-containerregistry's pkg/v1/remote).
//
// An image is FROM scratch plus two layers: the build host's CA bundle at
// /etc/ssl/certs/ca-certificates.crt (where Go's crypto/x509 looks first on
// Linux) and one static binary (CGO_ENABLED=0) at /usr/local/bin/<name>. It
// runs as the numeric non-root user 65532 with the binary as entrypoint. Tags
// are versioned (Version), never :latest, so manifests can use
// imagePullPolicy: IfNotPresent on images loaded into the nodes.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Version is the tag of every image meshcheck builds of itself.
const Version = "v0.1.0"

// Registry is the registry host part of our image references as the
// manifests write them. Nothing is pushed there: on kind the images are
// loaded into the nodes directly; for other clusters `meshcheck images push`
// pushes them to a real registry (Remote) and `run --image-registry` deploys
// them from there.
const Registry = "meshcheck.local"

// User is the numeric user the images run as (non-root; the "nonroot" UID of
// distroless images).
const User = "65532"

// CACertsPath is where the CA bundle is put in the image, and where it is read
// from on the build host by default.
const CACertsPath = "/etc/ssl/certs/ca-certificates.crt"

// BinDir is the directory of the binary inside the image.
const BinDir = "/usr/local/bin"

// layerTime is the modification time of every file in our layers, so that
// equal inputs give equal digests.
var layerTime = time.Unix(0, 0).UTC()

// Spec names one image: the Go package to build and the reference to tag.
type Spec struct {
	Name    string // binary and repository name, e.g. "fixture"
	Package string // Go package path relative to the module root, e.g. "./fixtures/cmd/fixture"
	Tag     string // versioned tag; Version when empty
}

// Defaults are the images `meshcheck up` builds: the fixture workloads and
// meshcheck itself (the in-mesh agent runs `meshcheck agent`).
func Defaults() []Spec {
	return []Spec{
		{Name: "fixture", Package: "./fixtures/cmd/fixture", Tag: Version},
		{Name: "meshcheck", Package: "./cmd/meshcheck", Tag: Version},
	}
}

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)
	tagRE  = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+([.-][0-9A-Za-z.-]+)?$`)
)

// Validate reports whether the spec names a valid repository, a Go package
// path and a versioned tag (never "latest").
func (s Spec) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("image name %q: want lower-case letters, digits and single '.', '_' or '-' separators", s.Name)
	}
	if s.Package == "" {
		return fmt.Errorf("image %s: no Go package to build", s.Name)
	}
	if tag := s.tag(); !tagRE.MatchString(tag) {
		return fmt.Errorf("image %s: tag %q is not a version like %s (never :latest)", s.Name, tag, Version)
	}
	return nil
}

func (s Spec) tag() string {
	if s.Tag == "" {
		return Version
	}
	return s.Tag
}

// Ref is the image reference, e.g. "meshcheck.local/fixture:v0.1.0".
func (s Spec) Ref() string { return Registry + "/" + s.Name + ":" + s.tag() }

// Entrypoint is the binary's path inside the image.
func (s Spec) Entrypoint() string { return path.Join(BinDir, s.Name) }

// Platform is an OS/architecture pair in Go and OCI spelling.
type Platform struct {
	OS   string // "linux"
	Arch string // "amd64", "arm64"
}

// String is "os/arch".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Validate accepts the platforms kind nodes run on: linux/amd64, linux/arm64.
func (p Platform) Validate() error {
	if p.OS != "linux" || (p.Arch != "amd64" && p.Arch != "arm64") {
		return fmt.Errorf("platform %s: want linux/amd64 or linux/arm64 (what kind nodes and meshcheck images run on)", p)
	}
	return nil
}

// Assemble builds the image of spec from a binary and a CA bundle.
func Assemble(spec Spec, p Platform, binary, caCerts []byte) (v1.Image, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(binary) == 0 {
		return nil, fmt.Errorf("image %s: empty binary", spec.Name)
	}
	if len(caCerts) == 0 {
		return nil, fmt.Errorf("image %s: empty CA bundle", spec.Name)
	}
	certs, err := layer([]file{{Path: CACertsPath, Mode: 0o644, Data: caCerts}})
	if err != nil {
		return nil, fmt.Errorf("image %s: CA certificates layer: %w", spec.Name, err)
	}
	bin, err := layer([]file{{Path: spec.Entrypoint(), Mode: 0o755, Data: binary}})
	if err != nil {
		return nil, fmt.Errorf("image %s: binary layer: %w", spec.Name, err)
	}
	img, err := mutate.AppendLayers(empty.Image, certs, bin)
	if err != nil {
		return nil, fmt.Errorf("image %s: layers: %w", spec.Name, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", spec.Name, err)
	}
	cf = cf.DeepCopy()
	cf.OS = p.OS
	cf.Architecture = p.Arch
	cf.Created = v1.Time{Time: layerTime}
	cf.Config.User = User
	cf.Config.Entrypoint = []string{spec.Entrypoint()}
	cf.Config.Cmd = nil
	cf.Config.Env = []string{"PATH=" + BinDir, "SSL_CERT_FILE=" + CACertsPath}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   spec.Name,
		"org.opencontainers.image.version": spec.tag(),
		"dev.meshcheck.package":            spec.Package,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", spec.Name, err)
	}
	return img, nil
}

// WriteTarball writes img as a `docker save`-compatible tarball tagged with
// spec's reference.
func WriteTarball(filename string, spec Spec, img v1.Image) error {
	tag, err := name.NewTag(spec.Ref(), name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image reference %s: %w", spec.Ref(), err)
	}
	if err := tarball.WriteToFile(filename, tag, img); err != nil {
		return fmt.Errorf("write image tarball %s: %w", filename, err)
	}
	return nil
}

type file struct {
	Path string
	Mode int64
	Data []byte
}

// layer makes an uncompressed layer tar holding files and their parent
// directories, owned by root, with fixed timestamps.
func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, f := range files {
		var dirs []string
		for d := path.Dir(f.Path); d != "/" && d != "."; d = path.Dir(d) {
			dirs = append([]string{d}, dirs...)
		}
		for _, d := range dirs {
			if seen[d] {
				continue
			}
			seen[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: layerTime, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path[1:], Mode: f.Mode, Size: int64(len(f.Data)), ModTime: layerTime, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// readFile reads a file the image needs, naming its role in errors.
func readFile(role, filename string) ([]byte, error) {
	b, err := os.ReadFile(filename)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", role, err)
	}
	return b, nil
}
