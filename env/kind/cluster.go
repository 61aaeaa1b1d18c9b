package kind

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
)

// ErrClusterExists is returned when a cluster of the name exists and
// --reuse was not given.
var ErrClusterExists = errors.New("kind cluster already exists")

// Cluster is a kind cluster meshcheck works with.
type Cluster struct {
	Name    string
	Layout  Layout
	Ports   Ports
	Created bool // created by this run; false when an existing one is reused
}

// Kubeconfig is meshcheck's kubeconfig of the cluster.
func (c *Cluster) Kubeconfig() string { return c.Layout.Kubeconfig() }

// clusterSpec is what to create (or reuse).
type clusterSpec struct {
	Name       string
	NodeImage  string
	Layout     Layout
	Ports      Ports
	ConfigYAML []byte
	Reuse      bool // use an existing cluster of the name instead of failing
	Retain     bool // keep node containers when creation fails
}

// createOrReuse creates the cluster, or with Reuse adopts an existing one of
// the name (exporting its kubeconfig to meshcheck's file). kind's Create
// fails when the name exists, so the names are listed first.
func createOrReuse(ctx context.Context, p Provider, s clusterSpec, log *slog.Logger) (*Cluster, error) {
	if err := s.Layout.Validate(); err != nil {
		return nil, err
	}
	names, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	if err := os.MkdirAll(s.Layout.Dir(), 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	c := &Cluster{Name: s.Name, Layout: s.Layout, Ports: s.Ports}
	if slices.Contains(names, s.Name) {
		if !s.Reuse {
			return nil, fmt.Errorf("%w: %q; pass --reuse to use it, or delete it with `meshcheck down --name %s`", ErrClusterExists, s.Name, s.Name)
		}
		st, err := loadState(s.Layout)
		if err != nil {
			return nil, fmt.Errorf("reuse cluster %q: meshcheck did not create it here, so its port mappings are unknown (%v); delete it with `meshcheck down --name %s` or choose another --name", s.Name, err, s.Name)
		}
		c.Ports = st.Ports
		log.Info("reusing kind cluster", "name", s.Name, "kubeconfig", c.Kubeconfig())
		if err := p.ExportKubeConfig(s.Name, c.Kubeconfig()); err != nil {
			return nil, fmt.Errorf("export kubeconfig of cluster %q: %w", s.Name, err)
		}
		return c, securePerm(c.Kubeconfig())
	}
	// A kubeconfig left from an earlier cluster of the name is stale: kind
	// would merge into it.
	if err := os.Remove(c.Kubeconfig()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale kubeconfig: %w", err)
	}
	if err := saveState(s.Layout, State{Name: s.Name, NodeImage: s.NodeImage, Ports: s.Ports}); err != nil {
		return nil, err
	}
	log.Info("creating kind cluster", "name", s.Name, "image", s.NodeImage, "kubeconfig", c.Kubeconfig())
	c.Created = true
	err = p.Create(s.Name, CreateOptions{ConfigYAML: s.ConfigYAML, NodeImage: s.NodeImage, KubeconfigPath: c.Kubeconfig(), Retain: s.Retain})
	if err != nil {
		return c, fmt.Errorf("create kind cluster %q: %w", s.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return c, fmt.Errorf("create kind cluster %q: %w", s.Name, err)
	}
	return c, securePerm(c.Kubeconfig())
}

// securePerm makes the kubeconfig readable by the user only (kind writes new
// files 0600 but keeps the mode of an existing file).
func securePerm(path string) error {
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return nil
}

// Delete deletes the cluster and meshcheck's files of it, and reports
// whether the cluster existed. A cluster that does not exist (kind: deleting
// an unknown cluster is not an error; it may also vanish between List and
// Delete) counts as deleted.
func Delete(p Provider, l Layout, log *slog.Logger) (existed bool, err error) {
	if err := l.Validate(); err != nil {
		return false, err
	}
	names, err := p.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	existed = slices.Contains(names, l.Name)
	if existed {
		log.Info("deleting kind cluster", "name", l.Name)
		if err := p.Delete(l.Name, l.Kubeconfig()); err != nil {
			after, lerr := p.List()
			if lerr != nil || slices.Contains(after, l.Name) {
				return true, fmt.Errorf("delete kind cluster %q: %w", l.Name, err)
			}
			log.Info("kind cluster is gone despite the delete error", "name", l.Name, "error", err)
		}
	} else {
		log.Info("kind cluster does not exist; nothing to delete", "name", l.Name)
	}
	for _, f := range []string{l.Kubeconfig(), l.State(), l.Operator()} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return existed, fmt.Errorf("remove %s: %w", f, err)
		}
	}
	if err := os.RemoveAll(l.Images()); err != nil {
		return existed, fmt.Errorf("remove image tarballs: %w", err)
	}
	return existed, nil
}
