package image

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// Load imports an image tarball into every node, as `kind load image-archive`
// does (kind v0.30.0 pkg/cmd/kind/load/image-archive: one
// nodeutils.LoadImageArchive per node, which runs
// `ctr --namespace=k8s.io images import ... -` on the node).
func Load(nodeList []nodes.Node, tarball string) error {
	if len(nodeList) == 0 {
		return fmt.Errorf("load %s: the cluster has no nodes", tarball)
	}
	for _, n := range nodeList {
		if err := loadOne(n, tarball); err != nil {
			return err
		}
	}
	return nil
}

func loadOne(n nodes.Node, tarball string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("load image into node %s: %w", n, err)
	}
	defer f.Close()
	if err := nodeutils.LoadImageArchive(n, f); err != nil {
		return fmt.Errorf("load image %s into node %s: %w", tarball, n, err)
	}
	return nil
}

// NodePlatform asks a node for its architecture (`uname -m`), so images are
// built for the node and not for the host.
func NodePlatform(n nodes.Node) (Platform, error) {
	var out bytes.Buffer
	if err := n.Command("uname", "-m").SetStdout(&out).Run(); err != nil {
		return Platform{}, fmt.Errorf("node %s architecture (uname -m): %w", n, err)
	}
	machine := strings.TrimSpace(out.String())
	switch machine {
	case "x86_64", "amd64":
		return Platform{OS: "linux", Arch: "amd64"}, nil
	case "aarch64", "arm64":
		return Platform{OS: "linux", Arch: "arm64"}, nil
	}
	return Platform{}, fmt.Errorf("node %s architecture %q: kind nodes are x86_64 or aarch64", n, machine)
}
