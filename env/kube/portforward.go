package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Forward listens on 127.0.0.1 and relays to port of the pod until
	// stop is called or ctx ends; it returns the local "host:port".
	Forward(ctx context.Context, namespace, pod string, port int) (addr string, stop func(), err error)
}

// SPDYForwarder forwards through the API server's pods/portforward
// subresource over SPDY (client-go tools/portforward).
type SPDYForwarder struct {
	// Client reaches the cluster.
	Client *Client
	// Log receives the forwarder's own messages; nil discards them.
	Log io.Writer
}

// Forward implements Forwarder.
func (f SPDYForwarder) Forward(ctx context.Context, namespace, pod string, port int) (string, func(), error) {
	transport, upgrader, err := spdy.RoundTripperFor(f.Client.Config)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	url := f.Client.Kube.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	out := f.Log
	if out == nil {
		out = io.Discard
	}
	stopCh := make(chan struct{})
	readyCh := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stopCh, readyCh, out, out)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stop := func() { once.Do(func() { close(stopCh) }) }
	select {
	case <-readyCh:
	case err := <-done:
		if err == nil {
			err = errors.New("forwarding ended before it was ready")
		}
		return "", nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, err)
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, fmt.Errorf("port-forward to %s/%s:%d: no local port: %v", namespace, pod, port, err)
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-stopCh:
		}
		stop()
	}()
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), stop, nil
}

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
