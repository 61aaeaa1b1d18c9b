package istiodtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

// BinEnv is the environment variable naming the folder with pilot-discovery
// and istioctl; it overrides the repository's cache folder.
const BinEnv = "ISTIO_BIN_DIR"

// CacheDir is where `make istio-bins` puts the binaries, relative to the
// repository root.
const CacheDir = ".cache/istio/bin"

// Version is the Istio release the binaries are built from; the proxies
// this package impersonates report it.
const Version = "1.31.0"

// readyTimeout bounds how long Start waits for istiod's /ready.
const readyTimeout = 60 * time.Second

// Binary returns the path of one of the built Istio binaries
// ("pilot-discovery" or "istioctl"): in $ISTIO_BIN_DIR when set, else in the
// repository's .cache/istio/bin. The error says how to build it.
func Binary(name string) (string, error) {
	dir := os.Getenv(BinEnv)
	source := "$" + BinEnv
	if dir == "" {
		root, err := apiservertest.RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, CacheDir)
		source = "the repository cache"
	}
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("no executable %s in %s (%s): run `make istio-bins` to build istiod and istioctl for the control-plane test tier", name, dir, source)
	}
	return path, nil
}

// istiod is one running pilot-discovery process.
type istiod struct {
	grpcAddr string // plaintext xDS
	httpAddr string // /ready and /debug
	dir      string
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	logs     *tailBuffer
}

// startIstiod starts pilot-discovery with its own kubeconfig (a copy of
// kubeconfig, mode 0600) and working directory under a new temporary
// folder, every port on 127.0.0.1, and waits until /ready answers 200.
func startIstiod(ctx context.Context, kubeconfig string) (*istiod, error) {
	bin, err := Binary("pilot-discovery")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "istiodtest-")
	if err != nil {
		return nil, fmt.Errorf("istiod working folder: %w", err)
	}
	d := &istiod{dir: dir, done: make(chan struct{}), logs: &tailBuffer{keep: 40}}
	fail := func(err error) (*istiod, error) { return nil, errors.Join(err, d.stop()) }
	kc, err := os.ReadFile(kubeconfig)
	if err != nil {
		return fail(fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err))
	}
	files := map[string][]byte{
		"kubeconfig": kc,
		// Defaults, spelled out: the root namespace holds the ingress
		// gateway and mesh-wide rules.
		"mesh.yaml":     []byte("rootNamespace: istio-system\ntrustDomain: cluster.local\n"),
		"networks.yaml": []byte("networks: {}\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fail(fmt.Errorf("write istiod %s: %w", name, err))
		}
	}
	ports, err := freePorts(6)
	if err != nil {
		return fail(err)
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	d.httpAddr, d.grpcAddr = addr(0), addr(1)
	d.cmd = exec.Command(bin, "discovery",
		"--kubeconfig", filepath.Join(dir, "kubeconfig"),
		"--meshConfig", filepath.Join(dir, "mesh.yaml"),
		"--networksConfig", filepath.Join(dir, "networks.yaml"),
		"--httpAddr", d.httpAddr,
		"--grpcAddr", d.grpcAddr,
		"--secureGRPCAddr", addr(2),
		"--httpsAddr", addr(3),
		"--monitoringAddr", addr(4),
		"--ctrlz_address", "127.0.0.1",
		"--ctrlz_port", strconv.Itoa(ports[5]),
		"--domain", "cluster.local",
		"--log_output_level", "default:warn",
	)
	// istiod writes ./var/run/secrets and friends: keep them in the folder.
	d.cmd.Dir = dir
	d.cmd.Env = append(os.Environ(), "POD_NAMESPACE=istio-system", "POD_NAME=istiod-istiodtest", "CLUSTER_ID=Kubernetes")
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		return fail(fmt.Errorf("start %s: %w", bin, err))
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	if err := d.waitReady(ctx); err != nil {
		return fail(err)
	}
	return d, nil
}

// waitReady polls /ready until it answers 200, istiod exits, or the
// deadline passes.
func (d *istiod) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	url := "http://" + d.httpAddr + "/ready"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("istiod exited before it was ready (%v); its last output:\n%s", d.waitErr, d.logs)
		case <-ctx.Done():
			return fmt.Errorf("istiod did not answer 200 on %s within %s; its last output:\n%s", url, readyTimeout, d.logs)
		case <-tick.C:
		}
	}
}

// stop kills istiod, waits for it and removes its folder.
func (d *istiod) stop() error {
	var errs []error
	if d.cmd != nil && d.cmd.Process != nil {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}
	if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove istiod folder: %w", err))
		}
	}
	return errors.Join(errs...)
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1 and releases
// them for the caller to bind.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tailBuffer keeps the last lines written to it, for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	keep  int
	buf   bytes.Buffer
	lines []string
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for {
		line, err := b.buf.ReadString('\n')
		if err != nil {
			b.buf.Reset()
			b.buf.WriteString(line)
			break
		}
		b.lines = append(b.lines, strings.TrimRight(line, "\n"))
		if len(b.lines) > b.keep {
			b.lines = b.lines[len(b.lines)-b.keep:]
		}
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(append(append([]string(nil), b.lines...), b.buf.String()), "\n")
}
