package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kind"
)

func init() { register(newUpCommand) }

// upKindDeps builds the process boundaries of `up` and `down`; tests replace
// it with fakes.
var upKindDeps = kind.DefaultDeps

type upFlags struct {
	name             string
	kubeconfigDir    string
	source           string
	httpPort         int
	httpsPort        int
	istioctl         string
	anyIstioctl      bool
	istioVersion     string
	reuse            bool
	keep             bool
	keepOnFailure    bool
	readinessTimeout time.Duration
	dryRun           bool
}

func newUpCommand() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create a kind cluster with Istio and meshcheck's images (needs Docker)",
		Long: `Create a kind cluster (sigs.k8s.io/kind v0.30.0, node image pinned by digest),
install Istio with istioctl (profile default, the ingress gateway as a
NodePort Service whose http2 and https nodePorts are mapped to 127.0.0.1 on
this host), and build and load meshcheck's own images into the node.

The kubeconfig is meshcheck's own file under --kubeconfig-dir (mode 0600);
~/.kube/config is never read or written. istioctl is the pinned release
(--istio-version), downloaded from GitHub and checked against its published
sha256; an istioctl on PATH is not used. --istioctl PATH uses another one,
after "istioctl version --remote=false -o json": one of another Istio minor
version than the pinned release is refused (exit 2) unless
--istioctl-any-version, which warns instead. Images are built from the
meshcheck source tree (--source, default: the checkout around the working
directory).

If anything fails or meshcheck is interrupted, the cluster it created is
deleted unless --keep-on-failure (or --keep). After success it stays up for
meshcheck run --env kind; delete it with meshcheck down.

--dry-run prints the kind config, the IstioOperator, which istioctl and its
command lines (the version check first), and the images, and changes nothing
(no container engine needed).

Exit codes: 0 ready, 2 usage error (also an --istioctl of another version),
4 environment error (no container engine, kind, istioctl or readiness
failure).`,
		Example: `  meshcheck up --dry-run
  meshcheck up --http-port 8080
  meshcheck up --reuse --istioctl ~/bin/istioctl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", kind.DefaultName, "kind cluster name")
	fl.StringVar(&f.kubeconfigDir, "kubeconfig-dir", "", "folder for meshcheck's kubeconfig and cluster files (default: the user cache dir + /meshcheck)")
	fl.StringVar(&f.source, "source", "", "meshcheck source tree to build the images from (default: the checkout around the working directory)")
	fl.IntVar(&f.httpPort, "http-port", 0, fmt.Sprintf("host port (127.0.0.1) of the gateway's http; 0: %d if free, else any free port", kind.DefaultHTTPPort))
	fl.IntVar(&f.httpsPort, "https-port", 0, fmt.Sprintf("host port (127.0.0.1) of the gateway's https; 0: %d if free, else any free port", kind.DefaultHTTPSPort))
	fl.StringVar(&f.istioctl, "istioctl", "", "istioctl to use instead of the pinned release; its Istio minor version must be the pinned one's (default: the pinned release, downloaded and verified; never istioctl on PATH)")
	fl.BoolVar(&f.anyIstioctl, "istioctl-any-version", false, "accept an --istioctl of another Istio minor version than the pinned release, with a warning")
	fl.StringVar(&f.istioVersion, "istio-version", istio.DefaultVersion, "the pinned Istio release: downloaded when --istioctl is not given, and the version --istioctl must match")
	fl.BoolVar(&f.reuse, "reuse", false, "use an existing cluster of the name (created by meshcheck) instead of failing")
	fl.BoolVar(&f.keep, "keep", false, "never delete the cluster, not even on failure")
	fl.BoolVar(&f.keepOnFailure, "keep-on-failure", false, "keep the cluster (and kind's failed nodes) for inspection when something fails")
	fl.DurationVar(&f.readinessTimeout, "readiness-timeout", istio.DefaultReadinessTimeout, "how long to wait for the nodes, and for Istio (istioctl --readiness-timeout, then istiod and the gateway)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be done, change nothing")
	return cmd
}

func runUp(cmd *cobra.Command, f upFlags) error {
	stateDir, err := kind.ResolveStateDir(f.kubeconfigDir)
	if err != nil {
		return usageError(err)
	}
	source := f.source
	if source == "" {
		// A missing checkout is reported by NewPlan with the --source hint.
		source, _ = kind.FindSourceDir(".")
	} else if source, err = filepath.Abs(source); err != nil {
		return usageError(fmt.Errorf("--source: %w", err))
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	deps := upKindDeps(log)
	plan, err := kind.NewPlan(kind.Options{
		Name:             f.name,
		StateDir:         stateDir,
		HTTPPort:         f.httpPort,
		HTTPSPort:        f.httpsPort,
		Istioctl:         f.istioctl,
		AnyIstioctl:      f.anyIstioctl,
		IstioVersion:     f.istioVersion,
		Reuse:            f.reuse,
		Keep:             f.keep,
		KeepOnFailure:    f.keepOnFailure,
		ReadinessTimeout: f.readinessTimeout,
		SourceDir:        source,
	})
	if err != nil {
		return usageError(err)
	}
	out := cmd.OutOrStdout()
	if f.dryRun {
		return plan.WriteDryRun(out)
	}
	s, err := kind.Provision(cmd.Context(), plan, deps)
	if errors.Is(err, env.ErrInvalidOptions) {
		return usageError(err)
	}
	if err != nil {
		return envError(err)
	}
	fmt.Fprintf(out, "kind cluster %q is ready\n", s.Cluster.Name)
	fmt.Fprintf(out, "istioctl       %s\n", plan.Istioctl)
	fmt.Fprintf(out, "kubeconfig     %s\n", s.Kubeconfig())
	fmt.Fprintf(out, "ingress http   http://%s\n", s.HTTPAddr())
	fmt.Fprintf(out, "ingress https  https://%s\n", s.HTTPSAddr())
	for _, b := range s.Images {
		fmt.Fprintf(out, "image          %s (%s, %s)\n", b.Spec.Ref(), b.Platform, b.Digest)
	}
	fmt.Fprintf(out, "delete it with: meshcheck down --name %s\n", s.Cluster.Name)
	return nil
}
