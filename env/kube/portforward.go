package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forwarder opens a local port to a pod's port, like `kubectl
// port-forward`. It needs a kubelet at the other end, so only real clusters
// can serve it; tests use a fake.
type Forwarder interface {
	// Forward listens on 127.0.0.1 and relays to port of the pod until the
	// tunnel is closed, ctx ends or the connection to the pod is lost
	// (Tunnel.Done).
	Forward(ctx context.Context, namespace, pod string, port int) (*Tunnel, error)
}

// ErrTunnelClosed is a Tunnel's Err after Close.
var ErrTunnelClosed = errors.New("port-forward closed")

// Tunnel is one open port-forward.
type Tunnel struct {
	// Addr is the local "127.0.0.1:port" that relays to the pod.
	Addr string
	// Target names the far end, "namespace/pod:port", for messages.
	Target string

	stop func()
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// NewTunnel returns an open tunnel at addr to target; stop releases what
// the forwarder holds and is called once, by Close. The forwarder calls End
// when the tunnel ends by itself.
func NewTunnel(addr, target string, stop func()) *Tunnel {
	if stop == nil {
		stop = func() {}
	}
	return &Tunnel{Addr: addr, Target: target, stop: stop, done: make(chan struct{})}
}

// End marks the tunnel ended because of err (nil reads as "ended"); later
// calls change nothing.
func (t *Tunnel) End(err error) {
	t.once.Do(func() {
		if err == nil {
			err = errors.New("forwarding ended")
		}
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		close(t.done)
	})
}

// Done is closed when the tunnel has ended: closed, or lost.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err says why the tunnel ended: ErrTunnelClosed after Close, the
// forwarder's error when the connection was lost, nil while it is open.
func (t *Tunnel) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Alive reports whether the tunnel is still open.
func (t *Tunnel) Alive() bool {
	select {
	case <-t.done:
		return false
	default:
		return true
	}
}

// Close ends the tunnel and releases it; it is safe to call more than once.
func (t *Tunnel) Close() {
	t.End(ErrTunnelClosed)
	t.stop()
	t.stop = func() {}
}

// SPDYForwarder forwards through the API server's pods/portforward
// subresource over SPDY (client-go tools/portforward).
type SPDYForwarder struct {
	// Client reaches the cluster.
	Client *Client
	// Log receives the forwarder's own messages ("Forwarding from ...",
	// "Handling connection ...", and errors of single connections) one
	// line at a time; nil discards them.
	Log *slog.Logger
}

// Forward implements Forwarder. The tunnel ends when client-go's
// ForwardPorts returns: since client-go v0.31 it does so when the
// connection to the kubelet is lost, and it closes the stream of a
// forwarded connection on any message on its error stream (containerd
// reports refused and reset upstream connections there:
// client-go tools/portforward/portforward.go handleConnection).
func (f SPDYForwarder) Forward(ctx context.Context, namespace, pod string, port int) (*Tunnel, error) {
	target := namespace + "/" + pod + ":" + strconv.Itoa(port)
	transport, upgrader, err := spdy.RoundTripperFor(f.Client.Config)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", target, err)
	}
	url := f.Client.Kube.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	log := f.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("port-forward", target)
	out, closeOut := logWriter(log, slog.LevelDebug)
	errOut, closeErr := logWriter(log, slog.LevelWarn)
	stopCh := make(chan struct{})
	readyCh := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stopCh, readyCh, out, errOut)
	if err != nil {
		closeOut()
		closeErr()
		return nil, fmt.Errorf("port-forward to %s: %w", target, err)
	}
	done := make(chan error, 1)
	go func() {
		done <- fw.ForwardPorts()
		closeOut()
		closeErr()
	}()
	var once sync.Once
	stop := func() { once.Do(func() { close(stopCh) }) }
	select {
	case <-readyCh:
	case err := <-done:
		if err == nil {
			err = errors.New("forwarding ended before it was ready")
		}
		return nil, fmt.Errorf("port-forward to %s: %w", target, err)
	case <-ctx.Done():
		stop()
		return nil, fmt.Errorf("port-forward to %s: %w", target, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return nil, fmt.Errorf("port-forward to %s: no local port: %v", target, err)
	}
	t := NewTunnel("127.0.0.1:"+strconv.Itoa(int(ports[0].Local)), target, stop)
	go func() {
		select {
		case <-ctx.Done():
			t.Close()
		case <-t.Done():
		case err := <-done:
			if err == nil {
				err = errors.New("the connection to the pod ended")
			}
			log.Warn("port-forward lost", "error", err)
			t.End(fmt.Errorf("port-forward to %s lost: %w", target, err))
		}
	}()
	return t, nil
}

// logWriter is an io.Writer that logs each line written to it at level;
// close flushes a last partial line.
func logWriter(log *slog.Logger, level slog.Level) (io.Writer, func()) {
	r, w := io.Pipe()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				log.Log(context.Background(), level, line)
			}
		}
		io.Copy(io.Discard, r) // a line beyond the scanner's buffer
	}()
	var once sync.Once
	return w, func() {
		once.Do(func() {
			w.Close()
			<-finished
		})
	}
}

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
