package image

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry starts go-containerregistry's in-process registry and
// returns its host:port.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// assembled is a small image of spec (no go build).
func assembled(t *testing.T, spec Spec) v1.Image {
	t.Helper()
	img, err := Assemble(spec, Platform{OS: "linux", Arch: "amd64"}, []byte("binary of "+spec.Name), []byte("certs"))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPushPullResolve pushes to the in-process registry, pulls back and
// compares digests; Resolve finds the same digest, and an image that was
// not pushed is an error saying how to push it.
func TestPushPullResolve(t *testing.T) {
	host := testRegistry(t)
	r := Remote{Registry: host + "/team"}
	spec := Defaults()[0]
	img := assembled(t, spec)
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Push(t.Context(), spec, img)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tag != host+"/team/fixture:"+Version || p.Digest != want.String() || p.Pinned() != host+"/team/fixture@"+want.String() {
		t.Errorf("pushed %+v (pinned %s), want tag %s/team/fixture:%s and digest %s", p, p.Pinned(), host, Version, want)
	}
	for _, ref := range []string{p.Tag, p.Pinned()} {
		parsed, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		back, err := remote.Image(parsed, remote.WithContext(t.Context()))
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		if got, err := back.Digest(); err != nil || got != want {
			t.Errorf("pulled %s: digest %s (%v), want %s", ref, got, err, want)
		}
		cf, err := back.ConfigFile()
		if err != nil || cf.Config.User != User || cf.Architecture != "amd64" {
			t.Errorf("pulled %s: config %+v (%v)", ref, cf, err)
		}
	}
	got, err := r.Resolve(t.Context(), spec)
	if err != nil || got != p {
		t.Errorf("Resolve = %+v, %v; want %+v", got, err, p)
	}
	if _, err := r.Resolve(t.Context(), Defaults()[1]); err == nil || !strings.Contains(err.Error(), "meshcheck images push --registry "+host+"/team") {
		t.Errorf("Resolve of an image not pushed = %v, want how to push it", err)
	}
}

// fakeImager assembles instead of building, and can fail.
type fakeImager struct {
	t     *testing.T
	fail  string
	built []string
}

func (f *fakeImager) Image(_ context.Context, s Spec, p Platform) (v1.Image, error) {
	f.built = append(f.built, s.Name+" "+p.String())
	if s.Name == f.fail {
		return nil, errors.New("go build failed")
	}
	return assembled(f.t, s), nil
}

func TestPushAll(t *testing.T) {
	host := testRegistry(t)
	f := &fakeImager{t: t}
	pushed, err := PushAll(t.Context(), f, Remote{Registry: host}, Defaults(), Platform{OS: "linux", Arch: "arm64"})
	if err != nil || len(pushed) != 2 || pushed[1].Tag != host+"/meshcheck:"+Version || strings.Join(f.built, ",") != "fixture linux/arm64,meshcheck linux/arm64" {
		t.Fatalf("PushAll = %+v, %v (built %q)", pushed, err, f.built)
	}
	f = &fakeImager{t: t, fail: "meshcheck"}
	if pushed, err := PushAll(t.Context(), f, Remote{Registry: host}, Defaults(), Platform{OS: "linux", Arch: "amd64"}); err == nil || len(pushed) != 1 {
		t.Errorf("PushAll with a failing build = %+v, %v; want the first pushed and the error", pushed, err)
	}
	if _, err := PushAll(t.Context(), f, Remote{Registry: host}, Defaults(), Platform{OS: "windows", Arch: "amd64"}); err == nil {
		t.Error("PushAll for windows: no error")
	}
}

func TestValidateRegistry(t *testing.T) {
	for _, ok := range []string{"registry.example", "localhost:5000", "127.0.0.1:5000/team/sub", "gcr.io/project"} {
		if err := ValidateRegistry(ok); err != nil {
			t.Errorf("ValidateRegistry(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "https://registry.example", "registry.example/", "reg@sha256:00", "Registry.Example/UPPER", "a b"} {
		if err := ValidateRegistry(bad); err == nil || !strings.Contains(err.Error(), "registry") {
			t.Errorf("ValidateRegistry(%q) = %v, want an error", bad, err)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	if p, err := ParsePlatform("linux/arm64"); err != nil || p != (Platform{OS: "linux", Arch: "arm64"}) {
		t.Errorf("ParsePlatform(linux/arm64) = %v, %v", p, err)
	}
	for _, bad := range []string{"linux", "darwin/arm64", "linux/386", ""} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q): no error", bad)
		}
	}
}

// FuzzValidateRegistry: user input never panics, and whatever is accepted
// makes valid references.
func FuzzValidateRegistry(f *testing.F) {
	for _, s := range []string{"localhost:5000", "registry.example/team", "https://x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateRegistry(s) != nil {
			return
		}
		for _, spec := range Defaults() {
			if _, err := name.NewTag(Remote{Registry: s}.Ref(spec), name.StrictValidation); err != nil {
				t.Errorf("registry %q accepted but %s is no reference: %v", s, Remote{Registry: s}.Ref(spec), err)
			}
		}
	})
}

// TestBuiltImageReadsTheTarball: a built image reads back from its tarball
// as the same image (its digest), ready to push; a missing tarball is an
// error naming it.
func TestBuiltImageReadsTheTarball(t *testing.T) {
	spec := Defaults()[0]
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tarball := t.TempDir() + "/fixture.tar"
	if err := WriteTarball(tarball, spec, img); err != nil {
		t.Fatal(err)
	}
	got, err := Built{Spec: spec, Tarball: tarball}.Image()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, err := got.Digest(); err != nil || d != want {
		t.Errorf("digest %v (%v), want %v", d, err, want)
	}
	if _, err := (Built{Spec: spec, Tarball: tarball + ".missing"}).Image(); err == nil || !strings.Contains(err.Error(), tarball+".missing") {
		t.Errorf("missing tarball: %v", err)
	}
}
