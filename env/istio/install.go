package istio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshcheck/meshcheck/env/kube"
)

// Origin says where an istioctl comes from.
type Origin string

// Where istioctl can come from, in the order Locator tries them.
const (
	FromFlag     Origin = "--istioctl"
	FromCache    Origin = "cache"
	FromDownload Origin = "download"
)

// Locator finds the istioctl to run: the --istioctl flag, else the pinned
// release in the cache, else that release downloaded. An istioctl on PATH
// is never used: its version is whatever the machine happens to have, and
// istioctl installs its own release's Istio. One given with --istioctl is
// version-checked before use (CheckVersion).
type Locator struct {
	Flag       string   // --istioctl value, "" when unset
	Version    string   // release to download
	Platform   Platform // host platform of the download
	Downloader *Downloader
}

// Source is a located (or to-be-downloaded) istioctl.
type Source struct {
	Path   string
	Origin Origin
	URL    string // archive URL when Origin is FromDownload
}

// String says which istioctl and where it comes from (for logs and --dry-run).
func (s Source) String() string {
	switch s.Origin {
	case FromDownload:
		return fmt.Sprintf("%s (downloaded from %s, sha256 checked against %s.sha256)", s.Path, s.URL, s.URL)
	case FromCache:
		return s.Path + " (cached release)"
	}
	return fmt.Sprintf("%s (from %s)", s.Path, s.Origin)
}

// Resolve decides which istioctl to use without changing anything.
func (l *Locator) Resolve() (Source, error) {
	if l.Flag != "" {
		fi, err := os.Stat(l.Flag)
		if err != nil {
			return Source{}, fmt.Errorf("--istioctl %s: %w", l.Flag, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return Source{}, fmt.Errorf("--istioctl %s: not an executable file", l.Flag)
		}
		abs, err := filepath.Abs(l.Flag)
		if err != nil {
			return Source{}, fmt.Errorf("--istioctl %s: %w", l.Flag, err)
		}
		return Source{Path: abs, Origin: FromFlag}, nil
	}
	if l.Downloader == nil {
		return Source{}, errors.New("no --istioctl and no download of the pinned release is configured: pass --istioctl")
	}
	if l.Downloader.Cached(l.Version, l.Platform) {
		return Source{Path: l.Downloader.Path(l.Version, l.Platform), Origin: FromCache}, nil
	}
	url, err := l.Downloader.URL(l.Version, l.Platform)
	if err != nil {
		return Source{}, err
	}
	return Source{Path: l.Downloader.Path(l.Version, l.Platform), Origin: FromDownload, URL: url}, nil
}

// Ensure resolves istioctl and downloads it when needed; it returns its path.
func (l *Locator) Ensure(ctx context.Context) (string, error) {
	src, err := l.Resolve()
	if err != nil {
		return "", err
	}
	if src.Origin != FromDownload {
		return src.Path, nil
	}
	return l.Downloader.Fetch(ctx, l.Version, l.Platform)
}

// DefaultReadinessTimeout is istioctl's own default for --readiness-timeout.
const DefaultReadinessTimeout = 5 * time.Minute

// InstallArgs is the argv (without istioctl itself) of the install:
// `istioctl install -y -f <IstioOperator file>` against meshcheck's own
// kubeconfig, waiting for readiness up to timeout (istioctl 1.31
// operator/cmd/mesh/install.go flags -y, -f, --readiness-timeout; istioctl
// --kubeconfig).
func InstallArgs(operatorFile, kubeconfig string, timeout time.Duration) []string {
	return []string{"install", "-y", "-f", operatorFile, "--kubeconfig", kubeconfig, "--readiness-timeout", timeout.String()}
}

// Installer runs `istioctl install` and checks the result.
type Installer struct {
	Istioctl         string // path of istioctl
	Kubeconfig       string // meshcheck's kubeconfig (never ~/.kube/config)
	ReadinessTimeout time.Duration
	Runner           Runner
	Log              *slog.Logger
	// Grace is added to ReadinessTimeout to bound the whole istioctl run;
	// 2 minutes when 0.
	Grace time.Duration
	// TailLines is how many of istioctl's last output lines an error
	// shows; 20 when 0.
	TailLines int
}

// Command is the istioctl process Install runs.
func (in *Installer) Command(operatorFile string) Cmd {
	env := append(os.Environ(), "KUBECONFIG="+in.Kubeconfig)
	return Cmd{Path: in.Istioctl, Args: InstallArgs(operatorFile, in.Kubeconfig, in.timeout()), Env: env}
}

func (in *Installer) timeout() time.Duration {
	if in.ReadinessTimeout <= 0 {
		return DefaultReadinessTimeout
	}
	return in.ReadinessTimeout
}

// Install runs istioctl install with the IstioOperator file, streaming its
// output to the log. On failure the error carries istioctl's last lines.
func (in *Installer) Install(ctx context.Context, operatorFile string) error {
	if in.Kubeconfig == "" {
		return errors.New("istioctl install: no kubeconfig (meshcheck never uses ~/.kube/config)")
	}
	log := in.Log
	if log == nil {
		log = slog.Default()
	}
	keep := in.TailLines
	if keep == 0 {
		keep = 20
	}
	grace := in.Grace
	if grace == 0 {
		grace = 2 * time.Minute
	}
	out := newLineLog(log, "istioctl", keep)
	cmd := in.Command(operatorFile)
	cmd.Stdout, cmd.Stderr = out, out
	log.Info("installing Istio", "command", cmd.String())
	runCtx, cancel := context.WithTimeout(ctx, in.timeout()+grace)
	defer cancel()
	err := in.Runner.Run(runCtx, cmd)
	if err == nil {
		return nil
	}
	tail := out.Last()
	var what string
	switch {
	case ctx.Err() != nil:
		what = "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		what = fmt.Sprintf("did not finish within %s (--readiness-timeout %s plus %s)", in.timeout()+grace, in.timeout(), grace)
	default:
		what = "failed"
	}
	if len(tail) == 0 {
		return fmt.Errorf("istioctl install %s: %w (no output)", what, err)
	}
	return fmt.Errorf("istioctl install %s: %w; its last %d lines:\n  %s", what, err, len(tail), strings.Join(tail, "\n  "))
}

// Verify waits, up to the readiness timeout, until istiod and the ingress
// gateway Deployments are ready by meshcheck's one readiness rule
// (kube.WaitDeployments: rolled out, available, their pods ready).
func (in *Installer) Verify(ctx context.Context, client kubernetes.Interface) error {
	deployment := appsv1.SchemeGroupVersion.WithKind("Deployment")
	refs := []kube.Ref{
		{GVK: deployment, Namespace: Namespace, Name: IstiodDeployment},
		{GVK: deployment, Namespace: Namespace, Name: GatewayDeployment},
	}
	if err := kube.WaitDeployments(ctx, client, refs, kube.Wait{Timeout: in.timeout(), Log: in.Log}); err != nil {
		return fmt.Errorf("istio: %w", err)
	}
	return nil
}
