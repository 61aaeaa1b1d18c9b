package kind

import (
	"context"
	"fmt"
	"log/slog"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// CreateOptions are the arguments of one cluster creation.
type CreateOptions struct {
	ConfigYAML     []byte // v1alpha4 config, exactly as --dry-run prints it
	NodeImage      string // pinned by digest
	KubeconfigPath string // meshcheck's own kubeconfig; never empty
	Retain         bool   // keep the node containers if creation fails (--keep-on-failure)
}

// Provider is the part of kind's cluster.Provider meshcheck uses: the
// boundary to the container engine.
type Provider interface {
	List() ([]string, error)
	Create(name string, o CreateOptions) error
	Delete(name, kubeconfigPath string) error
	ExportKubeConfig(name, kubeconfigPath string) error
	ListInternalNodes(name string) ([]nodes.Node, error)
}

// kindProvider adapts *cluster.Provider (sigs.k8s.io/kind v0.30.0
// pkg/cluster/provider.go and createoption.go).
type kindProvider struct{ p *cluster.Provider }

// NewProvider returns kind's provider for engine, logging through log.
func NewProvider(engine Engine, log *slog.Logger) (Provider, error) {
	var opt cluster.ProviderOption
	switch engine.Name {
	case "docker":
		opt = cluster.ProviderWithDocker()
	case "podman":
		opt = cluster.ProviderWithPodman()
	case "nerdctl":
		opt = cluster.ProviderWithNerdctl(engine.Binary)
	default:
		return nil, fmt.Errorf("container engine %q: kind supports docker, podman and nerdctl", engine.Name)
	}
	return &kindProvider{p: cluster.NewProvider(cluster.ProviderWithLogger(slogLogger{log: log}), opt)}, nil
}

func (k *kindProvider) List() ([]string, error) { return k.p.List() }

// Create creates the cluster. The node image is given both in the config
// and as CreateWithNodeImage (which overrides every node's image). kind's
// WaitForReady is not used: it only logs on timeout and returns nil, so
// meshcheck checks readiness itself.
func (k *kindProvider) Create(name string, o CreateOptions) error {
	if o.KubeconfigPath == "" {
		return fmt.Errorf("create cluster %s: no kubeconfig path (kind would write ~/.kube/config)", name)
	}
	return k.p.Create(name,
		cluster.CreateWithRawConfig(o.ConfigYAML),
		cluster.CreateWithNodeImage(o.NodeImage),
		cluster.CreateWithKubeconfigPath(o.KubeconfigPath),
		cluster.CreateWithRetain(o.Retain),
		cluster.CreateWithWaitForReady(0),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
}

// Delete deletes the cluster and removes its entry from kubeconfigPath
// (which must be the path given to Create: with "" kind would edit
// $KUBECONFIG or ~/.kube/config).
func (k *kindProvider) Delete(name, kubeconfigPath string) error {
	if kubeconfigPath == "" {
		return fmt.Errorf("delete cluster %s: no kubeconfig path (kind would edit ~/.kube/config)", name)
	}
	return k.p.Delete(name, kubeconfigPath)
}

func (k *kindProvider) ExportKubeConfig(name, kubeconfigPath string) error {
	if kubeconfigPath == "" {
		return fmt.Errorf("export kubeconfig of %s: no path (kind would write ~/.kube/config)", name)
	}
	return k.p.ExportKubeConfig(name, kubeconfigPath, false)
}

func (k *kindProvider) ListInternalNodes(name string) ([]nodes.Node, error) {
	return k.p.ListInternalNodes(name)
}

// slogLogger sends kind's log lines to slog: V(0) at Info, higher levels at
// Debug.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) logger() *slog.Logger {
	if l.log == nil {
		return slog.Default()
	}
	return l.log
}

func (l slogLogger) Warn(m string) { l.logger().Warn(m, "source", "kind") }
func (l slogLogger) Warnf(f string, a ...any) {
	l.logger().Warn(fmt.Sprintf(f, a...), "source", "kind")
}
func (l slogLogger) Error(m string) { l.logger().Error(m, "source", "kind") }
func (l slogLogger) Errorf(f string, a ...any) {
	l.logger().Error(fmt.Sprintf(f, a...), "source", "kind")
}
func (l slogLogger) V(v kindlog.Level) kindlog.InfoLogger {
	level := slog.LevelInfo
	if v > 0 {
		level = slog.LevelDebug
	}
	return slogInfo{log: l.logger(), level: level}
}

type slogInfo struct {
	log   *slog.Logger
	level slog.Level
}

func (i slogInfo) Info(m string) { i.log.Log(context.Background(), i.level, m, "source", "kind") }
func (i slogInfo) Infof(f string, a ...any) {
	i.log.Log(context.Background(), i.level, fmt.Sprintf(f, a...), "source", "kind")
}
func (i slogInfo) Enabled() bool { return i.log.Enabled(context.Background(), i.level) }
