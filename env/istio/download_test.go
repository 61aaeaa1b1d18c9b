package istio

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeRelease builds a release archive holding one istioctl file.
func fakeRelease(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// releaseServer serves /<version>/<archive> and its .sha256 like GitHub
// releases do; checksum overrides the published sum when non-empty.
type releaseServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newReleaseServer(t *testing.T, version, archiveName string, archive []byte, checksumLine string) *releaseServer {
	t.Helper()
	rs := &releaseServer{}
	if checksumLine == "" {
		checksumLine = fmt.Sprintf("%x %s\n", sha256.Sum256(archive), archiveName)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+version+"/"+archiveName, func(w http.ResponseWriter, r *http.Request) {
		rs.requests.Add(1)
		w.Write(archive)
	})
	mux.HandleFunc("/"+version+"/"+archiveName+".sha256", func(w http.ResponseWriter, r *http.Request) {
		rs.requests.Add(1)
		fmt.Fprint(w, checksumLine)
	})
	rs.Server = httptest.NewServer(mux)
	t.Cleanup(rs.Close)
	return rs
}

var linuxAMD64 = Platform{OS: "linux", Arch: "amd64"}

func TestFetchVerifiesChecksumAndCaches(t *testing.T) {
	archive := fakeRelease(t, map[string]string{"istioctl": "#!/bin/sh\necho fake istioctl\n"})
	srv := newReleaseServer(t, "1.31.0", "istioctl-1.31.0-linux-amd64.tar.gz", archive, "")
	d := &Downloader{BaseURL: srv.URL, CacheDir: t.TempDir(), Client: srv.Client()}
	got, err := d.Fetch(context.Background(), "1.31.0", linuxAMD64)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(d.CacheDir, "1.31.0", "linux-amd64", "istioctl"); got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	b, err := os.ReadFile(got)
	if err != nil || string(b) != "#!/bin/sh\necho fake istioctl\n" {
		t.Fatalf("cached istioctl %q, %v", b, err)
	}
	fi, _ := os.Stat(got)
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %o, want 755", fi.Mode().Perm())
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (checksum, archive)", n)
	}
	if _, err := d.Fetch(context.Background(), "1.31.0", linuxAMD64); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("second Fetch made %d more requests, want 0 (cached)", n-2)
	}
	entries, _ := os.ReadDir(filepath.Dir(got))
	if len(entries) != 1 {
		t.Errorf("cache dir holds %d entries, want only istioctl (no temporary files left)", len(entries))
	}
}

func TestFetchRejectsWrongChecksum(t *testing.T) {
	archive := fakeRelease(t, map[string]string{"istioctl": "tampered"})
	wrong := strings.Repeat("ab", 32) + " istioctl-1.31.0-linux-amd64.tar.gz\n"
	srv := newReleaseServer(t, "1.31.0", "istioctl-1.31.0-linux-amd64.tar.gz", archive, wrong)
	d := &Downloader{BaseURL: srv.URL, CacheDir: t.TempDir(), Client: srv.Client()}
	_, err := d.Fetch(context.Background(), "1.31.0", linuxAMD64)
	if err == nil || !strings.Contains(err.Error(), "does not match the published") {
		t.Fatalf("error %v, want a checksum mismatch", err)
	}
	if d.Cached("1.31.0", linuxAMD64) {
		t.Error("a binary with a wrong checksum was cached")
	}
	entries, _ := os.ReadDir(filepath.Join(d.CacheDir, "1.31.0", "linux-amd64"))
	if len(entries) != 0 {
		t.Errorf("cache dir holds %d entries after a rejected download", len(entries))
	}
}

func TestFetchFailures(t *testing.T) {
	good := fakeRelease(t, map[string]string{"istioctl": "x"})
	noBinary := fakeRelease(t, map[string]string{"README": "x"})
	for _, tc := range []struct {
		name     string
		served   string // version the server has
		archive  []byte
		checksum string
		want     string
	}{
		{"unknown version", "1.31.1", good, "", "HTTP 404"},
		{"archive without istioctl", "1.31.0", noBinary, "", "no istioctl file"},
		{"checksum for another file", "1.31.0", good, strings.Repeat("00", 32) + " istioctl-1.31.0-osx-arm64.tar.gz", "names \"istioctl-1.31.0-osx-arm64.tar.gz\""},
		{"garbage checksum", "1.31.0", good, "<html>not found</html>", "not a hex SHA-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newReleaseServer(t, tc.served, "istioctl-"+tc.served+"-linux-amd64.tar.gz", tc.archive, tc.checksum)
			d := &Downloader{BaseURL: srv.URL, CacheDir: t.TempDir(), Client: srv.Client()}
			_, err := d.Fetch(context.Background(), "1.31.0", linuxAMD64)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if d.Cached("1.31.0", linuxAMD64) {
				t.Error("binary cached after a failed download")
			}
		})
	}
}

func TestFetchEnforcesSizeLimit(t *testing.T) {
	archive := fakeRelease(t, map[string]string{"istioctl": strings.Repeat("x", 4096)})
	srv := newReleaseServer(t, "1.31.0", "istioctl-1.31.0-linux-amd64.tar.gz", archive, "")
	d := &Downloader{BaseURL: srv.URL, CacheDir: t.TempDir(), Client: srv.Client(), MaxBytes: 10}
	if _, err := d.Fetch(context.Background(), "1.31.0", linuxAMD64); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Fatalf("error %v, want a size error", err)
	}
}

func TestArchiveName(t *testing.T) {
	for _, tc := range []struct {
		p    Platform
		want string
	}{
		{Platform{"linux", "amd64"}, "istioctl-1.31.0-linux-amd64.tar.gz"},
		{Platform{"linux", "arm64"}, "istioctl-1.31.0-linux-arm64.tar.gz"},
		{Platform{"darwin", "amd64"}, "istioctl-1.31.0-osx-amd64.tar.gz"},
		{Platform{"darwin", "arm64"}, "istioctl-1.31.0-osx-arm64.tar.gz"},
	} {
		got, err := ArchiveName("1.31.0", tc.p)
		if err != nil || got != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
	for _, p := range []Platform{{"windows", "amd64"}, {"linux", "386"}} {
		if _, err := ArchiveName("1.31.0", p); err == nil || !strings.Contains(err.Error(), "--istioctl") {
			t.Errorf("%v: error %v, want one suggesting --istioctl", p, err)
		}
	}
	if _, err := ArchiveName("latest", linuxAMD64); err == nil {
		t.Error("version \"latest\" accepted")
	}
	d := &Downloader{}
	url, err := d.URL("1.31.0", linuxAMD64)
	if err != nil || url != "https://github.com/istio/istio/releases/download/1.31.0/istioctl-1.31.0-linux-amd64.tar.gz" {
		t.Errorf("default URL %q, %v", url, err)
	}
}

func TestParseChecksum(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	for _, ok := range []string{sum + " a.tar.gz\n", sum + "  *a.tar.gz", sum + "\n", sum + " ./dist/a.tar.gz"} {
		if _, err := parseChecksum(ok, "a.tar.gz"); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", sum[:63] + " a.tar.gz", sum + " b.tar.gz", sum + " a.tar.gz extra", "zz" + sum[2:]} {
		if _, err := parseChecksum(bad, "a.tar.gz"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseChecksum(f *testing.F) {
	f.Add(strings.Repeat("0f", 32)+" istioctl-1.31.0-linux-amd64.tar.gz\n", "istioctl-1.31.0-linux-amd64.tar.gz")
	f.Add("", "x")
	f.Add("deadbeef", "x")
	f.Fuzz(func(t *testing.T, content, want string) {
		sum, err := parseChecksum(content, want)
		if err == nil && len(sum) != sha256.Size {
			t.Fatalf("accepted a %d-byte sum", len(sum))
		}
	})
}

func FuzzValidateVersion(f *testing.F) {
	for _, s := range []string{"1.31.0", "1.31.0-rc.0", "latest", "1.31.0/../../x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ValidateVersion(v) != nil {
			return
		}
		name, err := ArchiveName(v, linuxAMD64)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(v, "/\\ ") || !strings.HasPrefix(name, "istioctl-"+v+"-") {
			t.Fatalf("version %q gives archive %q", v, name)
		}
	})
}
