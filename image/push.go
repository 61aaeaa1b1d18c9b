package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pushed is one image pushed to a registry.
type Pushed struct {
	Spec Spec
	// Tag is the reference it was pushed as, <registry>/<name>:<tag>.
	Tag string
	// Digest is its manifest digest, "sha256:...".
	Digest string
}

// Pinned is the digest reference, <registry>/<name>@sha256:..., the one
// clusters should pull.
func (p Pushed) Pinned() string { return repository(p.Tag) + "@" + p.Digest }

func repository(ref string) string {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i]
	}
	return ref
}

// Remote says how to reach a registry.
type Remote struct {
	// Registry is the registry host and optional path prefix, e.g.
	// registry.example:5000/team (the images go to <Registry>/<name>).
	Registry string
	// Insecure talks plain HTTP (go-containerregistry already does for
	// localhost and loopback addresses).
	Insecure bool
	// Options are extra go-containerregistry remote options (a transport,
	// say); credentials come from the Docker config's keychain
	// (authn.DefaultKeychain: ~/.docker/config.json, credential helpers).
	Options []remote.Option
}

// ValidateRegistry checks a --registry / --image-registry value: a host with
// an optional port and path, no scheme, tag or digest.
func ValidateRegistry(registry string) error {
	if registry == "" || strings.Contains(registry, "://") || strings.ContainsAny(registry, "@ ") || strings.HasSuffix(registry, "/") {
		return fmt.Errorf("registry %q: want a host[:port][/path] such as registry.example:5000/meshcheck, without scheme, tag or digest", registry)
	}
	if _, err := name.NewRepository(registry+"/meshcheck", name.StrictValidation); err != nil {
		return fmt.Errorf("registry %q: %w", registry, err)
	}
	return nil
}

// Ref is the reference of spec in the registry, <Registry>/<name>:<tag>.
func (r Remote) Ref(spec Spec) string { return r.Registry + "/" + spec.Name + ":" + spec.tag() }

func (r Remote) tag(spec Spec) (name.Tag, error) {
	if err := ValidateRegistry(r.Registry); err != nil {
		return name.Tag{}, err
	}
	opts := []name.Option{name.StrictValidation}
	if r.Insecure {
		opts = append(opts, name.Insecure)
	}
	t, err := name.NewTag(r.Ref(spec), opts...)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image reference %s: %w", r.Ref(spec), err)
	}
	return t, nil
}

func (r Remote) options(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, r.Options...)
}

// Push pushes img as spec's image to the registry (pkg/v1/remote.Write) and
// returns its tag and digest.
func (r Remote) Push(ctx context.Context, spec Spec, img v1.Image) (Pushed, error) {
	t, err := r.tag(spec)
	if err != nil {
		return Pushed{}, err
	}
	if err := remote.Write(t, img, r.options(ctx)...); err != nil {
		return Pushed{}, fmt.Errorf("push %s: %w", t, err)
	}
	d, err := img.Digest()
	if err != nil {
		return Pushed{}, fmt.Errorf("image %s digest: %w", t, err)
	}
	return Pushed{Spec: spec, Tag: t.String(), Digest: d.String()}, nil
}

// Resolve asks the registry for the digest of spec's tag (a HEAD of the
// manifest, pkg/v1/remote.Head) so that clusters pull the image pinned:
// an image not pushed there is an error saying how to push it.
func (r Remote) Resolve(ctx context.Context, spec Spec) (Pushed, error) {
	t, err := r.tag(spec)
	if err != nil {
		return Pushed{}, err
	}
	desc, err := remote.Head(t, r.options(ctx)...)
	if err != nil {
		return Pushed{}, fmt.Errorf("image %s is not in the registry (push meshcheck's images with `meshcheck images push --registry %s`): %w", t, r.Registry, err)
	}
	return Pushed{Spec: spec, Tag: t.String(), Digest: desc.Digest.String()}, nil
}

// Imager makes the image of a spec for a platform; *Builder is one.
type Imager interface {
	Image(ctx context.Context, spec Spec, p Platform) (v1.Image, error)
}

// PushAll builds each spec for platform p with b and pushes it to r, in
// order; it stops at the first error.
func PushAll(ctx context.Context, b Imager, r Remote, specs []Spec, p Platform) ([]Pushed, error) {
	if err := ValidateRegistry(r.Registry); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out []Pushed
	for _, s := range specs {
		img, err := b.Image(ctx, s, p)
		if err != nil {
			return out, err
		}
		pushed, err := r.Push(ctx, s, img)
		if err != nil {
			return out, err
		}
		out = append(out, pushed)
	}
	return out, nil
}

// ParsePlatform parses "os/arch" (--platform).
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	p := Platform{OS: os, Arch: arch}
	if !ok {
		return p, fmt.Errorf("platform %q: want os/arch such as linux/amd64", s)
	}
	return p, p.Validate()
}
