package openfaas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/image"
)

// ErrNotInstalled marks a cluster without the OpenFaaS gateway.
var ErrNotInstalled = errors.New("OpenFaaS is not installed")

// CheckInstalled requires the gateway Service in Namespace; without it the
// error wraps ErrNotInstalled and says what is missing.
func CheckInstalled(ctx context.Context, client kubernetes.Interface) error {
	_, err := client.CoreV1().Services(Namespace).Get(ctx, GatewayDeployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: no Service %s in namespace %s (install chart %s %s from %s with gateway.directFunctions=true, or use --env kind, which installs it)",
			ErrNotInstalled, GatewayDeployment, Namespace, Pinned.Name, Pinned.Version, Pinned.Repository)
	}
	if err != nil {
		return fmt.Errorf("look for the OpenFaaS gateway Service %s/%s: %w", Namespace, GatewayDeployment, err)
	}
	return nil
}

// CheckPublicImages refuses functions whose image is one of meshcheck's own
// local images (image.Registry, loaded into the kind nodes and in no
// registry): faas-netes CE checks before each deploy that the image's
// manifest can be read anonymously from its registry, and otherwise answers
// 400 "the Community Edition license agreement only allows public images"
// (pkg/handlers/validate.go, isAnonymous); it also pulls every function
// image with imagePullPolicy Always (pkg/handlers/deploy.go).
func CheckPublicImages(fns []*fnapi.Function) error {
	for _, f := range fns {
		if strings.HasPrefix(f.Spec.Image, image.Registry+"/") {
			return fmt.Errorf("OpenFaaS CE deploys only public images (faas-netes refuses others: \"the Community Edition license agreement only allows public images\"), and function %s's image %s is loaded into the nodes, in no registry: push meshcheck's images to a public registry and run with --env existing --image-registry",
				f.Spec.Name, f.Spec.Image)
		}
	}
	return nil
}

// Functions deploys a scenario's Functions through the gateway, reached by
// a port-forward to a gateway pod, and remembers what it deployed for
// Teardown.
type Functions struct {
	client       *kube.Client
	fw           kube.Forwarder
	readyTimeout time.Duration
	log          *slog.Logger
	gw           Gateway
	tunnel       *kube.Tunnel
	deployed     []string
}

// Connect reads the gateway's credentials and opens a port-forward to a
// ready gateway pod. readyTimeout bounds each wait for a function (0 means
// kube.DefaultReadyTimeout).
func Connect(ctx context.Context, c *kube.Client, fw kube.Forwarder, readyTimeout time.Duration, log *slog.Logger) (*Functions, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if readyTimeout <= 0 {
		readyTimeout = kube.DefaultReadyTimeout
	}
	f := &Functions{client: c, fw: fw, readyTimeout: readyTimeout, log: log}
	if err := f.reconnect(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// reconnect (re)opens the port-forward and rereads the credentials.
func (f *Functions) reconnect(ctx context.Context) error {
	if f.tunnel != nil {
		f.tunnel.Close()
		f.tunnel = nil
	}
	user, pw, err := BasicAuth(ctx, f.client.Kube)
	if err != nil {
		return err
	}
	pod, err := GatewayPod(ctx, f.client.Kube)
	if err != nil {
		return err
	}
	t, err := f.fw.Forward(context.WithoutCancel(ctx), Namespace, pod, GatewayPort)
	if err != nil {
		return fmt.Errorf("reach the OpenFaaS gateway: %w", err)
	}
	f.tunnel = t
	f.gw = Gateway{URL: "http://" + t.Addr, User: user, Password: pw}
	return nil
}

// alive reopens a port-forward that has ended since it was opened.
func (f *Functions) alive(ctx context.Context) error {
	if f.tunnel != nil && f.tunnel.Alive() {
		return nil
	}
	f.log.Warn("the port-forward to the OpenFaaS gateway ended: reopening it")
	return f.reconnect(ctx)
}

// Deploy deploys (or updates) each function through the gateway, then
// waits until each has an available replica.
func (f *Functions) Deploy(ctx context.Context, fns []*fnapi.Function) error {
	if err := f.alive(ctx); err != nil {
		return err
	}
	for _, x := range fns {
		if err := f.gw.Deploy(ctx, x.Spec.Name, fnapi.Deployment(x)); err != nil {
			return err
		}
		if !slices.Contains(f.deployed, x.Spec.Name) {
			f.deployed = append(f.deployed, x.Spec.Name)
		}
		f.log.Info("deployed OpenFaaS function", "function", x.Spec.Name, "image", x.Spec.Image)
	}
	for _, x := range fns {
		if err := f.gw.WaitReady(ctx, x.Spec.Name, f.readyTimeout); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes each function through the gateway.
func (f *Functions) Delete(ctx context.Context, fns []*fnapi.Function) error {
	names := make([]string, 0, len(fns))
	for _, x := range fns {
		names = append(names, x.Spec.Name)
	}
	return f.deleteNames(ctx, names)
}

func (f *Functions) deleteNames(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if err := f.alive(ctx); err != nil {
		return err
	}
	for _, name := range names {
		if err := f.gw.Delete(ctx, name); err != nil {
			return err
		}
		f.deployed = slices.DeleteFunc(f.deployed, func(n string) bool { return n == name })
		f.log.Info("deleted OpenFaaS function", "function", name)
	}
	return nil
}

// Teardown deletes every function Deploy deployed and not deleted since,
// and closes the port-forward.
func (f *Functions) Teardown(ctx context.Context) error {
	err := f.deleteNames(ctx, slices.Clone(f.deployed))
	if f.tunnel != nil {
		f.tunnel.Close()
		f.tunnel = nil
	}
	return err
}
