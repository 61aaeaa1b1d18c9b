package kind

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultStateDir is where meshcheck keeps per-cluster files (kubeconfig,
// IstioOperator, state, image tarballs, under clusters/<name>) and
// downloaded istioctl releases (under istioctl/): the user cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS) plus
// "meshcheck".
func DefaultStateDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("user cache directory (set XDG_CACHE_HOME or pass --kubeconfig-dir): %w", err)
	}
	return filepath.Join(dir, "meshcheck"), nil
}

// ResolveStateDir resolves --kubeconfig-dir: "" is DefaultStateDir, a
// relative folder is made absolute.
func ResolveStateDir(dir string) (string, error) {
	if dir == "" {
		return DefaultStateDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--kubeconfig-dir %s: %w", dir, err)
	}
	return abs, nil
}

// Layout names the files of one cluster under a state directory.
type Layout struct {
	StateDir string // e.g. ~/.cache/meshcheck
	Name     string // cluster name
}

// Dir is the cluster's own directory, <StateDir>/clusters/<Name>.
func (l Layout) Dir() string { return filepath.Join(l.StateDir, "clusters", l.Name) }

// Kubeconfig is the cluster's kubeconfig: kind writes it there (mode 0600)
// and removes the cluster's entry from it on delete.
func (l Layout) Kubeconfig() string { return filepath.Join(l.Dir(), "kubeconfig") }

// Operator is the IstioOperator file given to istioctl.
func (l Layout) Operator() string { return filepath.Join(l.Dir(), "istio-operator.yaml") }

// State is the record of what meshcheck created (ports), read back by --reuse.
func (l Layout) State() string { return filepath.Join(l.Dir(), "cluster.json") }

// Images is where image tarballs are written.
func (l Layout) Images() string { return filepath.Join(l.Dir(), "images") }

// Validate requires an absolute state directory. The kubeconfig is always
// <StateDir>/clusters/<Name>/kubeconfig, so it is never ~/.kube/config.
func (l Layout) Validate() error {
	if !filepath.IsAbs(l.StateDir) {
		return fmt.Errorf("--kubeconfig-dir %q: want an absolute path", l.StateDir)
	}
	return validateName(l.Name)
}

// State is what meshcheck records about a cluster it created.
type State struct {
	Name      string `json:"name"`
	NodeImage string `json:"nodeImage"`
	Ports     Ports  `json:"ports"`
}

// saveState writes s to the layout's state file (mode 0600).
func saveState(l Layout, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.State(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save cluster state: %w", err)
	}
	return nil
}

// errNoState means meshcheck has no record of the cluster.
var errNoState = errors.New("no meshcheck state for the cluster")

// loadState reads the layout's state file.
func loadState(l Layout) (State, error) {
	b, err := os.ReadFile(l.State())
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%w (%s)", errNoState, l.State())
	}
	if err != nil {
		return State{}, fmt.Errorf("read cluster state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%s: %w", l.State(), err)
	}
	return s, nil
}

// pickPort chooses a host port on 127.0.0.1. An explicit request (> 0) must
// be free; 0 means the preferred port if it is free, else one the system
// picks. flag names the option in errors.
func pickPort(flag string, requested, preferred int) (int, error) {
	if requested < 0 || requested > 65535 {
		return 0, fmt.Errorf("%s %d: want a port 1-65535, or 0 for %d if free else any free port", flag, requested, preferred)
	}
	if requested > 0 {
		if err := portFree(requested); err != nil {
			return 0, fmt.Errorf("%s %d: %s:%d is in use; choose another port or pass 0 for a free one", flag, requested, listenAddress, requested)
		}
		return requested, nil
	}
	if portFree(preferred) == nil {
		return preferred, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(listenAddress, "0"))
	if err != nil {
		return 0, fmt.Errorf("%s: no free port on %s: %w", flag, listenAddress, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(listenAddress, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// ModulePath is the Go module whose source `meshcheck up` builds images from.
const ModulePath = "github.com/meshcheck/meshcheck"

// FindSourceDir returns the nearest directory at or above start whose go.mod
// declares ModulePath.
func FindSourceDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s checkout at or above %s: run from one or pass --source", ModulePath, start)
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}
