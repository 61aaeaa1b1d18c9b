package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/image"
)

// Options are the choices of `meshcheck up` (and of `run --env kind`).
type Options struct {
	Name             string        // cluster name; DefaultName when empty
	NodeImage        string        // DefaultNodeImage when empty
	StateDir         string        // DefaultStateDir() when empty
	HTTPPort         int           // host port for http; 0 = DefaultHTTPPort if free, else any free
	HTTPSPort        int           // host port for https; 0 = DefaultHTTPSPort if free, else any free
	Istioctl         string        // --istioctl; "" = the pinned release (IstioVersion)
	IstioVersion     string        // the pinned release; istio.DefaultVersion when empty
	AnyIstioctl      bool          // --istioctl-any-version: a --istioctl of another minor version is only warned about
	Reuse            bool          // use an existing cluster of the name
	Keep             bool          // never delete the cluster
	KeepOnFailure    bool          // keep it when something fails (kind retains failed nodes too)
	ReadinessTimeout time.Duration // nodes, istioctl --readiness-timeout, Istio Deployments
	Images           []image.Spec  // image.Defaults() when nil
	SourceDir        string        // meshcheck module to build images from
}

// Plan is everything `meshcheck up` will do, decided without changing
// anything: --dry-run prints it, Provision carries it out.
type Plan struct {
	Options       Options
	Layout        Layout
	Ports         Ports
	ConfigYAML    []byte
	OperatorYAML  []byte
	Istioctl      istio.Source
	IstioctlCache string
	Images        []image.Spec
	HostPlatform  image.Platform // the platform images are expected to need
}

// NewPlan validates the options and decides names, ports and files. It
// fails on bad input only (the caller's usage error).
func NewPlan(o Options) (*Plan, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if err := validateName(o.Name); err != nil {
		return nil, err
	}
	if o.NodeImage == "" {
		o.NodeImage = DefaultNodeImage
	}
	if !strings.Contains(o.NodeImage, "@sha256:") {
		return nil, fmt.Errorf("node image %q: pin it by digest (name:tag@sha256:...)", o.NodeImage)
	}
	if o.StateDir == "" {
		dir, err := DefaultStateDir()
		if err != nil {
			return nil, err
		}
		o.StateDir = dir
	}
	if o.IstioVersion == "" {
		o.IstioVersion = istio.DefaultVersion
	}
	if err := istio.ValidateVersion(o.IstioVersion); err != nil {
		return nil, fmt.Errorf("--istio-version: %w", err)
	}
	if o.ReadinessTimeout <= 0 {
		return nil, fmt.Errorf("--readiness-timeout %s: want a positive duration such as 5m", o.ReadinessTimeout)
	}
	if o.Images == nil {
		o.Images = image.Defaults()
	}
	for _, s := range o.Images {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	if o.SourceDir == "" {
		return nil, errors.New("no meshcheck source directory to build images from: run from a meshcheck checkout or pass --source")
	}
	if _, err := os.Stat(filepath.Join(o.SourceDir, "go.mod")); err != nil {
		return nil, fmt.Errorf("--source %s: no go.mod there: %w", o.SourceDir, err)
	}
	l := Layout{StateDir: o.StateDir, Name: o.Name}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	p := &Plan{Options: o, Layout: l, Images: o.Images,
		HostPlatform:  image.Platform{OS: "linux", Arch: runtime.GOARCH},
		IstioctlCache: filepath.Join(o.StateDir, "istioctl")}
	ports, err := planPorts(o, l)
	if err != nil {
		return nil, err
	}
	p.Ports = ports
	p.ConfigYAML, err = ConfigYAML(clusterConfig(o.Name, o.NodeImage, ports))
	if err != nil {
		return nil, err
	}
	p.OperatorYAML, err = istio.OperatorYAML(ports.Gateway())
	if err != nil {
		return nil, err
	}
	if o.AnyIstioctl && o.Istioctl == "" {
		return nil, errors.New("--istioctl-any-version applies to --istioctl: give --istioctl PATH too (without it the pinned release is used)")
	}
	p.Istioctl, err = p.locator(nil).Resolve()
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planPorts picks host ports; reusing a cluster meshcheck created keeps the
// ports it was created with.
func planPorts(o Options, l Layout) (Ports, error) {
	if o.Reuse {
		if st, err := loadState(l); err == nil {
			if o.HTTPPort != 0 && o.HTTPPort != st.Ports.HTTPHost {
				return Ports{}, fmt.Errorf("--http-port %d: cluster %q was created with %d and --reuse keeps it", o.HTTPPort, o.Name, st.Ports.HTTPHost)
			}
			if o.HTTPSPort != 0 && o.HTTPSPort != st.Ports.HTTPSHost {
				return Ports{}, fmt.Errorf("--https-port %d: cluster %q was created with %d and --reuse keeps it", o.HTTPSPort, o.Name, st.Ports.HTTPSHost)
			}
			return st.Ports, nil
		}
	}
	httpPort, err := pickPort("--http-port", o.HTTPPort, DefaultHTTPPort)
	if err != nil {
		return Ports{}, err
	}
	httpsPort, err := pickPort("--https-port", o.HTTPSPort, DefaultHTTPSPort)
	if err != nil {
		return Ports{}, err
	}
	if httpPort == httpsPort {
		return Ports{}, fmt.Errorf("--http-port and --https-port are both %d: they must differ", httpPort)
	}
	return Ports{HTTPHost: httpPort, HTTPSHost: httpsPort, HTTPNode: istio.DefaultHTTPNodePort, HTTPSNode: istio.DefaultHTTPSNodePort}, nil
}

func (p *Plan) locator(client *http.Client) *istio.Locator {
	return &istio.Locator{
		Flag:       p.Options.Istioctl,
		Version:    p.Options.IstioVersion,
		Platform:   istio.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH},
		Downloader: &istio.Downloader{CacheDir: p.IstioctlCache, Client: client},
	}
}

// IstioctlCommand is the install command line (istioctl as resolved).
func (p *Plan) IstioctlCommand() istio.Cmd {
	return istio.Cmd{Path: p.Istioctl.Path, Args: istio.InstallArgs(p.Layout.Operator(), p.Layout.Kubeconfig(), p.Options.ReadinessTimeout)}
}

// WriteDryRun prints, in order, the kind config, the IstioOperator, the
// istioctl command lines and the images to build, as YAML documents and
// comments.
func (p *Plan) WriteDryRun(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# kind cluster %q (sigs.k8s.io/kind v0.30.0, v1alpha4 config)\n", p.Options.Name)
	fmt.Fprintf(&b, "# kubeconfig: %s (mode 0600; ~/.kube/config is not touched)\n", p.Layout.Kubeconfig())
	fmt.Fprintf(&b, "# http:  %s -> node containerPort %d = gateway http2 nodePort\n", net.JoinHostPort(listenAddress, strconv.Itoa(p.Ports.HTTPHost)), p.Ports.HTTPNode)
	fmt.Fprintf(&b, "# https: %s -> node containerPort %d = gateway https nodePort\n", net.JoinHostPort(listenAddress, strconv.Itoa(p.Ports.HTTPSHost)), p.Ports.HTTPSNode)
	if p.Options.Reuse {
		b.WriteString("# --reuse: an existing cluster of this name is used as it is\n")
	}
	b.Write(p.ConfigYAML)
	b.WriteString("---\n")
	fmt.Fprintf(&b, "# IstioOperator, written to %s\n", p.Layout.Operator())
	b.Write(p.OperatorYAML)
	b.WriteString("---\n# istioctl command lines\n")
	fmt.Fprintf(&b, "# istioctl: %s\n", p.Istioctl)
	if p.Istioctl.Origin == istio.FromFlag {
		fmt.Fprintf(&b, "# first, its version: %s\n", istio.VersionCommand(p.Istioctl.Path))
		if p.Options.AnyIstioctl {
			fmt.Fprintf(&b, "#   Istio %s.x expected (the pinned %s); another version is only warned about (--istioctl-any-version)\n", istio.Minor(p.Options.IstioVersion), p.Options.IstioVersion)
		} else {
			fmt.Fprintf(&b, "#   must be Istio %s.x (the pinned %s), else meshcheck stops (--istioctl-any-version: warn instead)\n", istio.Minor(p.Options.IstioVersion), p.Options.IstioVersion)
		}
	} else {
		fmt.Fprintf(&b, "# the pinned release, Istio %s (istioctl on PATH is not used; --istioctl PATH picks another, version-checked)\n", p.Options.IstioVersion)
	}
	fmt.Fprintf(&b, "# %s\n", p.IstioctlCommand())
	fmt.Fprintf(&b, "# then: wait up to %s for Deployments %s/%s and %s/%s to be available\n", p.Options.ReadinessTimeout, istio.Namespace, istio.IstiodDeployment, istio.Namespace, istio.GatewayDeployment)
	b.WriteString("---\n# images: go build CGO_ENABLED=0 for the node's platform (expected ")
	fmt.Fprintf(&b, "%s), FROM scratch + CA certificates, user %s; loaded into every node\n", p.HostPlatform, image.User)
	for _, s := range p.Images {
		fmt.Fprintf(&b, "# %s <- %s (entrypoint %s)\n", s.Ref(), s.Package, s.Entrypoint())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Deps are the process boundaries Provision uses; DefaultDeps wires the real
// ones and tests substitute fakes.
type Deps struct {
	Prober       Prober
	NewProvider  func(Engine, *slog.Logger) (Provider, error)
	NewClient    func(kubeconfig string) (kubernetes.Interface, error)
	Runner       istio.Runner
	HTTPClient   *http.Client
	BuildImage   func(ctx context.Context, spec image.Spec, p image.Platform, sourceDir, outDir string) (image.Built, error)
	LoadImage    func(nodes []nodes.Node, tarball string) error
	NodePlatform func(nodes.Node) (image.Platform, error)
	// WriteNodeFile writes a file on a node (the in-cluster registry's
	// hosts.toml); writeNodeFile when nil.
	WriteNodeFile func(n nodes.Node, path string, data []byte) error
	Log           *slog.Logger
}

// DefaultDeps are the real boundaries: engine clients, kind, client-go,
// os/exec for istioctl and go build.
func DefaultDeps(log *slog.Logger) Deps {
	return Deps{
		Prober:      &CommandProber{},
		NewProvider: NewProvider,
		NewClient:   NewClient,
		Runner:      istio.ExecRunner{},
		BuildImage: func(ctx context.Context, spec image.Spec, p image.Platform, sourceDir, outDir string) (image.Built, error) {
			return (&image.Builder{ModuleDir: sourceDir, OutDir: outDir, Log: log}).Build(ctx, spec, p)
		},
		LoadImage:     image.Load,
		NodePlatform:  image.NodePlatform,
		WriteNodeFile: writeNodeFile,
		Log:           log,
	}
}

// NewClient is a client-go clientset for a kubeconfig file (that file only:
// no $KUBECONFIG, no ~/.kube/config).
func NewClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return kubernetes.NewForConfig(cfg)
}

// Session is a provisioned kind environment.
type Session struct {
	Cluster  *Cluster
	Engine   Engine
	Images   []image.Built
	timings  timings // of Provision's phases (timings.go)
	istioctl string  // the istioctl Istio was installed with, for debug.go
	runner   istio.Runner
	provider Provider
	opts     Options
	log      *slog.Logger
}

// Kubeconfig is meshcheck's kubeconfig of the cluster.
func (s *Session) Kubeconfig() string { return s.Cluster.Kubeconfig() }

// HTTPAddr is the ingress gateway's http address on this host.
func (s *Session) HTTPAddr() string {
	return net.JoinHostPort(listenAddress, strconv.Itoa(s.Cluster.Ports.HTTPHost))
}

// HTTPSAddr is the ingress gateway's https address on this host.
func (s *Session) HTTPSAddr() string {
	return net.JoinHostPort(listenAddress, strconv.Itoa(s.Cluster.Ports.HTTPSHost))
}

// Close ends a session of `run --env kind`: it deletes the cluster if this
// session created it, unless --keep, or --keep-on-failure after a failure.
// A reused cluster is never deleted.
func (s *Session) Close(failed bool) error {
	return teardown(s.provider, s.Cluster, s.opts, failed, s.log)
}

func teardown(p Provider, c *Cluster, o Options, failed bool, log *slog.Logger) error {
	switch {
	case c == nil || !c.Created:
		return nil
	case o.Keep:
		log.Info("keeping kind cluster (--keep)", "name", c.Name, "delete", "meshcheck down --name "+c.Name)
		return nil
	case failed && o.KeepOnFailure:
		log.Info("keeping kind cluster for inspection (--keep-on-failure)", "name", c.Name, "kubeconfig", c.Kubeconfig(), "delete", "meshcheck down --name "+c.Name)
		return nil
	}
	_, err := Delete(p, c.Layout, log)
	return err
}

// Provision carries out the plan: check the version of an istioctl given
// with --istioctl (checkIstioctl), find an engine, create (or reuse) the
// cluster, wait for its nodes, build and load the images, install Istio and
// wait for istiod and the gateway. When any step fails or ctx ends (SIGINT,
// SIGTERM), a cluster this call created is deleted before returning, unless
// Keep or KeepOnFailure.
func Provision(ctx context.Context, p *Plan, d Deps) (*Session, error) {
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	if err := checkIstioctl(ctx, p, d.Runner, log); err != nil {
		return nil, err
	}
	engine, err := d.Prober.Probe(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("container engine answers", "engine", engine.Name, "client", engine.Binary)
	provider, err := d.NewProvider(engine, log)
	if err != nil {
		return nil, err
	}
	o := p.Options
	var t timings
	t.start()
	c, err := createOrReuse(ctx, provider, clusterSpec{
		Name: o.Name, NodeImage: o.NodeImage, Layout: p.Layout, Ports: p.Ports,
		ConfigYAML: p.ConfigYAML, Reuse: o.Reuse, Retain: o.KeepOnFailure || o.Keep,
	}, log)
	fail := func(err error) (*Session, error) {
		// Cleanup must run even when ctx was cancelled by a signal; kind's
		// Delete takes no context.
		if terr := teardown(provider, c, o, true, log); terr != nil {
			return nil, fmt.Errorf("%w (and the cleanup failed: %v)", err, terr)
		}
		return nil, err
	}
	if err != nil {
		return fail(err)
	}
	s := &Session{Cluster: c, Engine: engine, timings: t, provider: provider, opts: o, log: log}
	if err := steps(ctx, p, d, s, log); err != nil {
		return fail(err)
	}
	log.Info("kind environment ready", "cluster", c.Name, "kubeconfig", c.Kubeconfig(), "http", s.HTTPAddr(), "https", s.HTTPSAddr())
	return s, nil
}

func steps(ctx context.Context, p *Plan, d Deps, s *Session, log *slog.Logger) error {
	o := p.Options
	client, err := d.NewClient(s.Kubeconfig())
	if err != nil {
		return err
	}
	if err := kube.WaitNodes(ctx, client, 1, kube.Wait{Timeout: o.ReadinessTimeout, Log: log}); err != nil {
		return fmt.Errorf("kind cluster %q: %w", o.Name, err)
	}
	s.timings.lap(phaseCluster)
	nodeList, err := s.provider.ListInternalNodes(o.Name)
	if err != nil {
		return fmt.Errorf("list nodes of cluster %q: %w", o.Name, err)
	}
	if len(nodeList) == 0 {
		return fmt.Errorf("cluster %q has no nodes", o.Name)
	}
	platform, err := d.NodePlatform(nodeList[0])
	if err != nil {
		return err
	}
	for _, spec := range p.Images {
		built, err := d.BuildImage(ctx, spec, platform, o.SourceDir, p.Layout.Images())
		if err != nil {
			return err
		}
		log.Info("loading image into nodes", "image", spec.Ref(), "nodes", len(nodeList))
		if err := d.LoadImage(nodeList, built.Tarball); err != nil {
			return err
		}
		s.Images = append(s.Images, built)
	}
	s.timings.lap(phaseImages)
	if err := os.WriteFile(p.Layout.Operator(), p.OperatorYAML, 0o600); err != nil {
		return fmt.Errorf("write IstioOperator: %w", err)
	}
	istioctl, err := p.locator(d.HTTPClient).Ensure(ctx)
	if err != nil {
		return fmt.Errorf("istioctl: %w", err)
	}
	in := &istio.Installer{Istioctl: istioctl, Kubeconfig: s.Kubeconfig(), ReadinessTimeout: o.ReadinessTimeout, Runner: d.Runner, Log: log}
	s.istioctl, s.runner = istioctl, d.Runner
	if err := in.Install(ctx, p.Layout.Operator()); err != nil {
		return err
	}
	if err := in.Verify(ctx, client); err != nil {
		return err
	}
	s.timings.lap(phaseIstio)
	return nil
}

// checkIstioctl runs an istioctl given with --istioctl for its version,
// before anything else: another Istio minor version than the pinned
// release is the user's input to fix (env.ErrInvalidOptions), unless
// AnyIstioctl, which logs a warning instead. The pinned release needs no
// check (it is the release's archive, checked against its sha256).
func checkIstioctl(ctx context.Context, p *Plan, r istio.Runner, log *slog.Logger) error {
	if p.Istioctl.Origin != istio.FromFlag {
		return nil
	}
	found, err := istio.CheckVersion(ctx, r, p.Istioctl.Path, p.Options.IstioVersion)
	var ve *istio.VersionError
	switch {
	case err == nil:
		log.Info("istioctl version checked", "istioctl", p.Istioctl.Path, "version", found, "pinned", p.Options.IstioVersion)
		return nil
	case errors.As(err, &ve) && p.Options.AnyIstioctl:
		log.Warn("using an istioctl of another Istio version than the pinned release (--istioctl-any-version)", "istioctl", p.Istioctl.Path, "version", found, "pinned", p.Options.IstioVersion)
		return nil
	case ctx.Err() != nil:
		return err
	}
	return env.InvalidOptions(err)
}
