package istio

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultVersion is the Istio release meshcheck installs, the same release
// the control-plane test tier builds istiod and istioctl from (tools/istio).
// Istio 1.31 supports Kubernetes 1.32 and later: its istioctl's
// MinK8SVersion is 32 (istio/istio istioctl/pkg/install/k8sversion/version.go
// at eed52ebb66ad, the commit tag 1.31.0 names), it is built on k8s.io/*
// v0.36.1, and its own kind tests run a v1.35.0 node (prow/integ-suite-kind.sh),
// so it covers the kind v0.30.0 node image, Kubernetes 1.34.
const DefaultVersion = "1.31.0"

// defaultReleaseURL is where Istio publishes release artifacts:
// <base>/<version>/istioctl-<version>-<os>-<arch>.tar.gz and a .sha256 file
// next to it (istio/release-builder pkg/build/archive.go
// createStandaloneIstioctl, pkg/util/files.go CreateSha; the same URL as
// istio/istio release/downloadIstioCtl.sh).
const defaultReleaseURL = "https://github.com/istio/istio/releases/download"

var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)\.[0-9]+)?$`)

// ValidateVersion accepts Istio release versions like 1.31.0 or 1.32.0-rc.0.
func ValidateVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("istio version %q: want a release like %s", v, DefaultVersion)
	}
	return nil
}

// Platform is the OS/architecture of the host that runs istioctl, in Go's
// spelling (runtime.GOOS, runtime.GOARCH).
type Platform struct{ OS, Arch string }

// ArchiveName is the standalone istioctl archive of a release for a host
// platform. Release builder archs: linux-amd64, linux-arm64, linux-armv7,
// osx-amd64, osx-arm64 (tar.gz) and win-amd64 (zip, not supported here).
func ArchiveName(version string, p Platform) (string, error) {
	if err := ValidateVersion(version); err != nil {
		return "", err
	}
	var osName string
	switch p.OS {
	case "linux":
		osName = "linux"
	case "darwin":
		osName = "osx"
	default:
		return "", fmt.Errorf("no istioctl download for %s/%s: releases exist for linux and darwin (amd64, arm64); pass --istioctl", p.OS, p.Arch)
	}
	if p.Arch != "amd64" && p.Arch != "arm64" {
		return "", fmt.Errorf("no istioctl download for %s/%s: releases exist for amd64 and arm64; pass --istioctl", p.OS, p.Arch)
	}
	return fmt.Sprintf("istioctl-%s-%s-%s.tar.gz", version, osName, p.Arch), nil
}

// parseChecksum reads a release .sha256 file: "<64 hex digits> <file name>"
// (the name may carry sha256sum's "*" binary marker). If the file names an
// archive, it must be want.
func parseChecksum(content, want string) ([]byte, error) {
	fields := strings.Fields(content)
	if len(fields) == 0 || len(fields) > 2 {
		return nil, fmt.Errorf("checksum file: want \"<sha256> <file>\", got %q", truncate(content, 120))
	}
	sum, err := hex.DecodeString(fields[0])
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("checksum file: %q is not a hex SHA-256", truncate(fields[0], 80))
	}
	if len(fields) == 2 {
		if got := strings.TrimPrefix(fields[1], "*"); path.Base(got) != want {
			return nil, fmt.Errorf("checksum file names %q, want %q", truncate(got, 80), want)
		}
	}
	return sum, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Downloader fetches istioctl releases into a cache directory.
type Downloader struct {
	BaseURL  string        // defaultReleaseURL when empty
	CacheDir string        // binaries go to <CacheDir>/<version>/<os>-<arch>/istioctl
	Client   *http.Client  // http.DefaultClient when nil
	MaxBytes int64         // archive size limit; 512 MiB when 0
	Timeout  time.Duration // whole download; 10 minutes when 0
	Log      *slog.Logger
}

// Path is where the istioctl of version for p is (or will be) cached.
func (d *Downloader) Path(version string, p Platform) string {
	return filepath.Join(d.CacheDir, version, p.OS+"-"+p.Arch, "istioctl")
}

// URL is the archive's download address.
func (d *Downloader) URL(version string, p Platform) (string, error) {
	archive, err := ArchiveName(version, p)
	if err != nil {
		return "", err
	}
	base := d.BaseURL
	if base == "" {
		base = defaultReleaseURL
	}
	return strings.TrimSuffix(base, "/") + "/" + version + "/" + archive, nil
}

// Cached reports whether the binary is already in the cache.
func (d *Downloader) Cached(version string, p Platform) bool {
	fi, err := os.Stat(d.Path(version, p))
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o100 != 0
}

// Fetch returns the cached istioctl, downloading the release archive and its
// published .sha256 first when the cache lacks it. The archive must match the
// checksum before anything is extracted; the binary appears in the cache
// only complete (written to a temporary file, then renamed).
func (d *Downloader) Fetch(ctx context.Context, version string, p Platform) (string, error) {
	dst := d.Path(version, p)
	if d.Cached(version, p) {
		return dst, nil
	}
	url, err := d.URL(version, p)
	if err != nil {
		return "", err
	}
	archive := path.Base(url)
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log.Info("downloading istioctl", "version", version, "url", url)
	sumFile, err := d.get(ctx, url+".sha256", 4096)
	if err != nil {
		return "", err
	}
	want, err := parseChecksum(string(sumFile), archive)
	if err != nil {
		return "", fmt.Errorf("%s.sha256: %w", url, err)
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("istioctl cache: %w", err)
	}
	tmpArchive, err := os.CreateTemp(dir, archive+".*")
	if err != nil {
		return "", fmt.Errorf("istioctl cache: %w", err)
	}
	defer os.Remove(tmpArchive.Name())
	defer tmpArchive.Close()
	h := sha256.New()
	if err := d.download(ctx, url, io.MultiWriter(tmpArchive, h)); err != nil {
		return "", err
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return "", fmt.Errorf("%s: sha256 %x does not match the published %x; not using it", url, got, want)
	}
	if _, err := tmpArchive.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if err := extractIstioctl(tmpArchive, dst); err != nil {
		return "", fmt.Errorf("%s: %w", archive, err)
	}
	log.Info("istioctl cached", "path", dst, "sha256", hex.EncodeToString(want))
	return dst, nil
}

func (d *Downloader) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return http.DefaultClient
}

func (d *Downloader) get(ctx context.Context, url string, limit int64) ([]byte, error) {
	var sb strings.Builder
	if err := d.fetch(ctx, url, &sb, limit); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

func (d *Downloader) download(ctx context.Context, url string, w io.Writer) error {
	limit := d.MaxBytes
	if limit == 0 {
		limit = 512 << 20
	}
	return d.fetch(ctx, url, w, limit)
}

func (d *Downloader) fetch(ctx context.Context, url string, w io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP %s (check --istio-version)", url, resp.Status)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if n > limit {
		return fmt.Errorf("download %s: larger than %d bytes", url, limit)
	}
	return nil
}

// maxBinary bounds the extracted istioctl (a binary of tens of megabytes).
const maxBinary = 1 << 30

// extractIstioctl writes the archive's "istioctl" entry to dst, mode 0755.
func extractIstioctl(r io.Reader, dst string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return errors.New("no istioctl file in the archive")
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg || path.Clean(h.Name) != "istioctl" {
			continue
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), "istioctl.*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		n, err := io.Copy(tmp, io.LimitReader(tr, maxBinary+1))
		if err == nil && n > maxBinary {
			err = fmt.Errorf("larger than %d bytes", maxBinary)
		}
		if err != nil {
			tmp.Close()
			return fmt.Errorf("extract istioctl: %w", err)
		}
		if err := tmp.Chmod(0o755); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), dst)
	}
}
