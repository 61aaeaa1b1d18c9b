package istiodtest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/mesh"
)

// The fence: objects of every kind Apply writes, changed on each Apply
// after everything else, so that seeing their latest generation in what
// istiod serves proves istiod has seen every earlier write of each kind
// (watch events of one resource arrive in order, and istiod builds a push
// from one snapshot of its stores).
const (
	fenceNamespace = "istiodtest-fence"
	fenceService   = "fence"
	fenceGateway   = "istiodtest-fence"
)

// fenceTimeout bounds how long Apply waits for istiod to serve its state.
const fenceTimeout = 90 * time.Second

func fenceHost(gen int) string { return "fence-g" + strconv.Itoa(gen) + ".istiodtest.invalid" }

func fenceSubset(gen int) string { return "g" + strconv.Itoa(gen) }

func fenceFQDN() string { return fenceService + "." + fenceNamespace + ".svc.cluster.local" }

func fenceCluster(gen int) string { return "outbound|80|" + fenceSubset(gen) + "|" + fenceFQDN() }

// fenceObjects are the fence of generation gen: a Service with one pod
// labelled gen, a DestinationRule whose only subset selects that label, a
// Gateway whose only host names gen, and a VirtualService binding that host
// and the Service (mesh and gateway) to the subset.
func (c *ControlPlane) fenceObjects(gen int) []runtime.Object {
	meta := func(name, ns string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	one := int32(1)
	labels := map[string]string{"app": fenceService, "gen": fenceSubset(gen)}
	return []runtime.Object{
		&corev1.Service{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(fenceService, fenceNamespace),
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": fenceService},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
		&appsv1.Deployment{
			TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta("fence-"+fenceSubset(gen), fenceNamespace),
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}}},
		},
		&networkingv1.DestinationRule{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"}, ObjectMeta: meta(fenceService, fenceNamespace),
			Spec: apinetworking.DestinationRule{Host: fenceFQDN(), Subsets: []*apinetworking.Subset{{Name: fenceSubset(gen), Labels: map[string]string{"gen": fenceSubset(gen)}}}},
		},
		&networkingv1.Gateway{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"}, ObjectMeta: meta(fenceGateway, istio.Namespace),
			Spec: apinetworking.Gateway{Selector: map[string]string{"istio": "ingressgateway"}, Servers: []*apinetworking.Server{{
				Port: &apinetworking.Port{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: []string{fenceHost(gen)}}}},
		},
		&networkingv1.VirtualService{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"}, ObjectMeta: meta(fenceService, fenceNamespace),
			Spec: apinetworking.VirtualService{
				Hosts:    []string{fenceFQDN(), fenceHost(gen)},
				Gateways: []string{"mesh", istio.Namespace + "/" + fenceGateway},
				Http: []*apinetworking.HTTPRoute{{Route: []*apinetworking.HTTPRouteDestination{{
					Destination: &apinetworking.Destination{Host: fenceFQDN(), Subset: fenceSubset(gen)}}}}},
			},
		},
	}
}

// waitFence reads the sidecar of the fence namespace and the ingress
// gateway until both serve fence generation gen, or fails at the deadline
// saying what they serve.
func (c *ControlPlane) waitFence(ctx context.Context, gen int) error {
	ctx, cancel := context.WithTimeout(ctx, fenceTimeout)
	defer cancel()
	sidecar, gw := Sidecar(fenceNamespace), c.gateway()
	podIP := c.podIP(fenceNamespace, fencePod(gen))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		if why, err := c.fenceServed(ctx, sidecar, gw, gen, podIP); err != nil {
			last = err.Error()
		} else if why == "" {
			return nil
		} else {
			last = why
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("istiod did not serve the applied state within %s: %s; istiod's last output:\n%s", fenceTimeout, last, c.istiod.logs)
		case <-tick.C:
		}
	}
}

// fencePod is the name of the fence pod of generation gen: the routing
// model's name for replica 0 of the fence Deployment.
func fencePod(gen int) string { return mesh.PodName("fence-"+fenceSubset(gen), 0) }

// fenceServed says what is missing for fence generation gen, "" if both
// proxies serve it.
func (c *ControlPlane) fenceServed(ctx context.Context, sidecar, gw Proxy, gen int, podIP string) (string, error) {
	s, err := c.Read(ctx, sidecar)
	if err != nil {
		return "", err
	}
	cluster := fenceCluster(gen)
	found := false
	for _, vh := range s.Routes["80"].GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			if d == fenceFQDN() {
				for _, r := range vh.GetRoutes() {
					found = found || r.GetRoute().GetCluster() == cluster
				}
			}
		}
	}
	if !found {
		return "the sidecar's route 80 does not send " + fenceFQDN() + " to " + cluster, nil
	}
	ok := false
	for _, l := range s.Endpoints[cluster].GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			ok = ok || e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress() == podIP
		}
	}
	if !ok {
		return "the sidecar's cluster " + cluster + " has no endpoint " + podIP, nil
	}
	g, err := c.Read(ctx, gw)
	if err != nil {
		return "", err
	}
	for _, rc := range g.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				if d == fenceHost(gen) {
					return "", nil
				}
			}
		}
	}
	return "the ingress gateway serves no virtual host " + fenceHost(gen), nil
}
