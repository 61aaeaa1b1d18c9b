package image

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Builder cross-compiles our binaries and packages them as image tarballs.
type Builder struct {
	ModuleDir string       // root of the meshcheck module (where go.mod is)
	OutDir    string       // where binaries and tarballs are written
	Go        string       // the go command; "go" when empty
	CACerts   string       // CA bundle on the build host; CACertsPath when empty
	Log       *slog.Logger // progress; slog.Default() when nil
}

// Built is one image written to disk.
type Built struct {
	Spec     Spec
	Platform Platform
	Tarball  string // `docker save`-compatible tarball
	Digest   string // image (manifest) digest, "sha256:..."
}

// Image reads the image back from its tarball (pkg/v1/tarball), to push
// it to a registry.
func (b Built) Image() (v1.Image, error) {
	tag, err := name.NewTag(b.Spec.Ref(), name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("image reference %s: %w", b.Spec.Ref(), err)
	}
	img, err := tarball.ImageFromPath(b.Tarball, &tag)
	if err != nil {
		return nil, fmt.Errorf("read image %s from %s: %w", b.Spec.Ref(), b.Tarball, err)
	}
	return img, nil
}

// BuildCommand is the `go build` argv Build runs for spec, and the
// environment it adds: a static binary for the platform.
func (b *Builder) BuildCommand(spec Spec, p Platform, out string) (argv, env []string) {
	gobin := b.Go
	if gobin == "" {
		gobin = "go"
	}
	argv = []string{gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, spec.Package}
	env = []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Arch}
	return argv, env
}

// Build compiles spec for platform p and writes its image tarball under
// OutDir as <name>-<tag>-<os>-<arch>.tar.
func (b *Builder) Build(ctx context.Context, spec Spec, p Platform) (Built, error) {
	img, err := b.Image(ctx, spec, p)
	if err != nil {
		return Built{}, err
	}
	base := fmt.Sprintf("%s-%s-%s-%s", spec.Name, spec.tag(), p.OS, p.Arch)
	tarPath := filepath.Join(b.OutDir, base+".tar")
	if err := WriteTarball(tarPath, spec, img); err != nil {
		return Built{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Built{}, fmt.Errorf("image %s digest: %w", spec.Ref(), err)
	}
	b.log().Info("image written", "image", spec.Ref(), "digest", digest.String(), "tarball", tarPath)
	return Built{Spec: spec, Platform: p, Tarball: tarPath, Digest: digest.String()}, nil
}

func (b *Builder) log() *slog.Logger {
	if b.Log == nil {
		return slog.Default()
	}
	return b.Log
}

// Image compiles spec for platform p (the binary goes to OutDir and is
// removed again) and assembles its image in memory.
func (b *Builder) Image(ctx context.Context, spec Spec, p Platform) (v1.Image, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	log := b.log()
	if err := os.MkdirAll(b.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("image output directory: %w", err)
	}
	base := fmt.Sprintf("%s-%s-%s-%s", spec.Name, spec.tag(), p.OS, p.Arch)
	binPath := filepath.Join(b.OutDir, base+".bin")
	argv, env := b.BuildCommand(spec, p, binPath)
	log.Info("building image binary", "image", spec.Ref(), "package", spec.Package, "platform", p.String())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = b.ModuleDir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s for %s (image %s): %w: %s", spec.Package, p, spec.Ref(), err, strings.TrimSpace(out.String()))
	}
	binary, err := readFile("built binary", binPath)
	if err != nil {
		return nil, err
	}
	certsFile := b.CACerts
	if certsFile == "" {
		certsFile = CACertsPath
	}
	certs, err := readFile("CA certificates (install ca-certificates on the build host)", certsFile)
	if err != nil {
		return nil, err
	}
	img, err := Assemble(spec, p, binary, certs)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(binPath); err != nil {
		return nil, fmt.Errorf("remove intermediate binary: %w", err)
	}
	return img, nil
}
