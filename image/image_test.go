package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	kindnodes "sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/exec"
)

// readBack opens a tarball written by WriteTarball the way a consumer does:
// by tag, with go-containerregistry.
func readBack(t *testing.T, filename, ref string) v1.Image {
	t.Helper()
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(filename, &tag)
	if err != nil {
		t.Fatalf("read back %s as %s: %v", filename, ref, err)
	}
	return img
}

// layerFiles maps each regular file of every layer to its content, and
// records the directories.
func layerFiles(t *testing.T, img v1.Image) (files map[string][]byte, modes map[string]int64, nLayers int) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	modes = map[string]int64{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Uid != 0 || h.Gid != 0 {
				t.Errorf("%s owned by %d:%d, want root", h.Name, h.Uid, h.Gid)
			}
			modes[h.Name] = h.Mode
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				files[h.Name] = b
			}
		}
		rc.Close()
	}
	return files, modes, len(layers)
}

func TestAssembleReadsBackWithConfigAndLayers(t *testing.T) {
	spec := Spec{Name: "fixture", Package: "./fixtures/cmd/fixture"}
	binary := []byte("\x7fELF not really a binary")
	certs := []byte("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
	img, err := Assemble(spec, Platform{OS: "linux", Arch: "arm64"}, binary, certs)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fixture.tar")
	if err := WriteTarball(out, spec, img); err != nil {
		t.Fatal(err)
	}
	got := readBack(t, out, "meshcheck.local/fixture:v0.1.0")
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64", cf.OS, cf.Architecture)
	}
	if cf.Config.User != "65532" {
		t.Errorf("user %q, want 65532", cf.Config.User)
	}
	if want := []string{"/usr/local/bin/fixture"}; !reflect.DeepEqual(cf.Config.Entrypoint, want) {
		t.Errorf("entrypoint %q, want %q", cf.Config.Entrypoint, want)
	}
	if len(cf.Config.Cmd) != 0 {
		t.Errorf("cmd %q, want none", cf.Config.Cmd)
	}
	files, modes, n := layerFiles(t, got)
	if n != 2 {
		t.Errorf("%d layers, want 2 (CA certificates, binary)", n)
	}
	if !bytes.Equal(files["usr/local/bin/fixture"], binary) {
		t.Errorf("binary layer holds %q", files["usr/local/bin/fixture"])
	}
	if modes["usr/local/bin/fixture"] != 0o755 {
		t.Errorf("binary mode %o, want 755", modes["usr/local/bin/fixture"])
	}
	if !bytes.Equal(files["etc/ssl/certs/ca-certificates.crt"], certs) {
		t.Errorf("certs layer holds %q", files["etc/ssl/certs/ca-certificates.crt"])
	}
	if len(files) != 2 {
		t.Errorf("files %v, want exactly the binary and the CA bundle", keys(files))
	}
	// Same inputs, same digest: builds are reproducible.
	again, err := Assemble(spec, Platform{OS: "linux", Arch: "arm64"}, binary, certs)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("digests differ for equal inputs: %s, %s", d1, d2)
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestSpecRejectsLatestAndBadInput(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Name: "fixture", Package: "./x", Tag: "latest"}, "never :latest"},
		{Spec{Name: "Fixture", Package: "./x"}, "lower-case"},
		{Spec{Name: "fixture"}, "no Go package"},
	} {
		err := tc.spec.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
	if _, err := Assemble(Spec{Name: "x", Package: "./x"}, Platform{OS: "windows", Arch: "amd64"}, []byte("b"), []byte("c")); err == nil {
		t.Error("windows platform accepted")
	}
	if got := (Spec{Name: "meshcheck", Package: "./cmd/meshcheck"}).Ref(); got != "meshcheck.local/meshcheck:v0.1.0" {
		t.Errorf("Ref() = %s", got)
	}
}

func TestDefaultsAreVersioned(t *testing.T) {
	want := []string{"meshcheck.local/fixture:v0.1.0", "meshcheck.local/meshcheck:v0.1.0"}
	var got []string
	for _, s := range Defaults() {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		got = append(got, s.Ref())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default images %v, want %v", got, want)
	}
}

// buildTarget is the package the real build test compiles: the fixture
// binary when it exists in this checkout, else meshcheck itself.
func buildTarget(t *testing.T, root string) Spec {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "fixtures", "cmd", "fixture")); err == nil {
		return Spec{Name: "fixture", Package: "./fixtures/cmd/fixture"}
	}
	return Spec{Name: "meshcheck", Package: "./cmd/meshcheck"}
}

func TestBuildCrossCompilesStaticBinaryIntoImage(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a Go program; skipped with -short")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	spec := buildTarget(t, root)
	certs := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(certs, []byte("test CA bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &Builder{ModuleDir: root, OutDir: t.TempDir(), CACerts: certs}
	// arm64 on any host: proves the cross-compilation, whatever runs the test.
	p := Platform{OS: "linux", Arch: "arm64"}
	built, err := b.Build(context.Background(), spec, p)
	if err != nil {
		t.Fatal(err)
	}
	img := readBack(t, built.Tarball, spec.Ref())
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != built.Digest {
		t.Errorf("read-back digest %s, Build reported %s", d, built.Digest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" || cf.OS != "linux" || cf.Config.User != User {
		t.Errorf("config os=%s arch=%s user=%s", cf.OS, cf.Architecture, cf.Config.User)
	}
	files, _, _ := layerFiles(t, img)
	bin := files[strings.TrimPrefix(spec.Entrypoint(), "/")]
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("binary in image is not ELF: %v", err)
	}
	if ef.Machine != elf.EM_AARCH64 {
		t.Errorf("binary machine %v, want EM_AARCH64", ef.Machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	if string(files["etc/ssl/certs/ca-certificates.crt"]) != "test CA bundle\n" {
		t.Errorf("CA bundle in image %q", files["etc/ssl/certs/ca-certificates.crt"])
	}
}

func TestBuildCommandIsStaticCrossCompile(t *testing.T) {
	b := &Builder{}
	argv, env := b.BuildCommand(Spec{Name: "fixture", Package: "./fixtures/cmd/fixture"}, Platform{OS: "linux", Arch: "amd64"}, "/out/fixture")
	if want := []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/fixture", "./fixtures/cmd/fixture"}; !reflect.DeepEqual(argv, want) {
		t.Errorf("argv %q, want %q", argv, want)
	}
	if want := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}; !reflect.DeepEqual(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{ModuleDir: root, OutDir: t.TempDir()}
	_, err = b.Build(context.Background(), Spec{Name: "nothing", Package: "./does/not/exist"}, Platform{OS: "linux", Arch: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "go build ./does/not/exist") {
		t.Fatalf("error %v, want one naming the package", err)
	}
}

// fakeNode is a kind node whose commands are recorded instead of run.
type fakeNode struct {
	name     string
	config   string // what `containerd config dump` prints
	uname    string
	failCtr  bool
	commands [][]string
	stdin    [][]byte
}

func (n *fakeNode) String() string              { return n.name }
func (n *fakeNode) Role() (string, error)       { return "control-plane", nil }
func (n *fakeNode) IP() (string, string, error) { return "172.18.0.2", "", nil }
func (n *fakeNode) SerialLogs(io.Writer) error  { return nil }
func (n *fakeNode) Command(c string, args ...string) exec.Cmd {
	return &fakeCmd{node: n, argv: append([]string{c}, args...)}
}
func (n *fakeNode) CommandContext(_ context.Context, c string, args ...string) exec.Cmd {
	return n.Command(c, args...)
}

func asNodes(ns ...*fakeNode) []kindnodes.Node {
	var out []kindnodes.Node
	for _, n := range ns {
		out = append(out, n)
	}
	return out
}

type fakeCmd struct {
	node   *fakeNode
	argv   []string
	stdin  io.Reader
	stdout io.Writer
}

func (c *fakeCmd) SetEnv(...string) exec.Cmd      { return c }
func (c *fakeCmd) SetStdin(r io.Reader) exec.Cmd  { c.stdin = r; return c }
func (c *fakeCmd) SetStdout(w io.Writer) exec.Cmd { c.stdout = w; return c }
func (c *fakeCmd) SetStderr(io.Writer) exec.Cmd   { return c }
func (c *fakeCmd) Run() error {
	c.node.commands = append(c.node.commands, c.argv)
	var in []byte
	if c.stdin != nil {
		in, _ = io.ReadAll(c.stdin)
	}
	c.node.stdin = append(c.node.stdin, in)
	switch strings.Join(c.argv, " ") {
	case "containerd config dump":
		fmt.Fprint(c.stdout, c.node.config)
		return nil
	case "uname -m":
		fmt.Fprintln(c.stdout, c.node.uname)
		return nil
	}
	if c.argv[0] == "ctr" && c.node.failCtr {
		return errors.New("ctr: image import failed")
	}
	return nil
}

const containerdV3 = `version = 3
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
`

func TestLoadImportsTarballIntoEveryNode(t *testing.T) {
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	content := []byte("tarball bytes")
	if err := os.WriteFile(tarPath, content, 0o644); err != nil {
		t.Fatal(err)
	}
	a := &fakeNode{name: "meshcheck-control-plane", config: containerdV3}
	b := &fakeNode{name: "meshcheck-worker", config: containerdV3}
	if err := Load(asNodes(a, b), tarPath); err != nil {
		t.Fatal(err)
	}
	wantCtr := []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--digests", "--snapshotter=overlayfs", "-"}
	for _, n := range []*fakeNode{a, b} {
		if len(n.commands) != 2 {
			t.Fatalf("node %s ran %q, want config dump then ctr import", n.name, n.commands)
		}
		if !reflect.DeepEqual(n.commands[1], wantCtr) {
			t.Errorf("node %s ran %q, want %q", n.name, n.commands[1], wantCtr)
		}
		if !bytes.Equal(n.stdin[1], content) {
			t.Errorf("node %s got stdin %q, want the tarball", n.name, n.stdin[1])
		}
	}
}

func TestLoadFailsWithNodeName(t *testing.T) {
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(tarPath, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &fakeNode{name: "meshcheck-control-plane", config: containerdV3, failCtr: true}
	err := Load(asNodes(n), tarPath)
	if err == nil || !strings.Contains(err.Error(), "meshcheck-control-plane") {
		t.Fatalf("error %v, want one naming the node", err)
	}
	if err := Load(nil, tarPath); err == nil {
		t.Error("Load into no nodes succeeded")
	}
}

func TestNodePlatform(t *testing.T) {
	for uname, want := range map[string]string{"x86_64": "linux/amd64", "aarch64": "linux/arm64"} {
		p, err := NodePlatform(&fakeNode{name: "n", uname: uname})
		if err != nil || p.String() != want {
			t.Errorf("uname %s: %v, %v; want %s", uname, p, err, want)
		}
	}
	if _, err := NodePlatform(&fakeNode{name: "n", uname: "s390x"}); err == nil {
		t.Error("s390x accepted")
	}
}
