package main

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/meshcheck/meshcheck/image"
)

// assemblingImager stands for the go build of the images.
type assemblingImager struct{ platforms []string }

func (a *assemblingImager) Image(_ context.Context, s image.Spec, p image.Platform) (v1.Image, error) {
	a.platforms = append(a.platforms, p.String())
	return image.Assemble(s, p, []byte("binary of "+s.Name), []byte("certs"))
}

// TestImagesPush pushes both images to go-containerregistry's in-process
// registry and prints each one's tag and digest, which pull back.
func TestImagesPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	fake := &assemblingImager{}
	saved := imagesImager
	imagesImager = func(string, string, *slog.Logger) image.Imager { return fake }
	defer func() { imagesImager = saved }()
	code, out, errLine, _ := upExec(t, nil, "images", "push", "--registry", u.Host+"/mc", "--platform", "linux/arm64")
	if code != ExitPass {
		t.Fatalf("exit %d: %s\n%s", code, errLine, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], u.Host+"/mc/fixture:"+image.Version+"@sha256:") ||
		!strings.HasPrefix(lines[1], u.Host+"/mc/meshcheck:"+image.Version+"@sha256:") || !strings.Contains(lines[2], "--image-registry "+u.Host+"/mc") {
		t.Fatalf("output:\n%s", out)
	}
	for _, l := range lines[:2] {
		tag, digest, _ := strings.Cut(l, "@")
		ref, err := name.ParseReference(tag)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref, remote.WithContext(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := img.Digest(); err != nil || d.String() != digest {
			t.Errorf("%s pulls back with digest %s (%v), printed %s", tag, d, err, digest)
		}
	}
	if strings.Join(fake.platforms, ",") != "linux/arm64,linux/arm64" {
		t.Errorf("built for %q, want --platform", fake.platforms)
	}
}

func TestImagesPushUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"images", "push"}, "--registry: give the registry"},
		{[]string{"images", "push", "--registry", "https://reg.example"}, "without scheme"},
		{[]string{"images", "push", "--registry", "reg.example", "--platform", "linux/386"}, "--platform"},
		{[]string{"images", "push", "--registry", "reg.example", "--source", "/"}, "--source /: no go.mod"},
		{[]string{"images"}, "give a subcommand"},
	} {
		code, _, errLine, _ := upExec(t, nil, c.args...)
		if code != ExitUsage || !strings.Contains(errLine, c.want) {
			t.Errorf("%q: exit %d, %q; want exit 2 naming %q", c.args, code, errLine, c.want)
		}
	}
}
