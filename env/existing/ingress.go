package existing

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/env/kube"
)

// ingressBase returns the base URL (no path) of the ingress gateway's HTTP
// port, in this order: the configured ingress URL; the load-balancer address
// of istio-system/istio-ingressgateway; a port-forward to a ready gateway
// pod's HTTP target port.
func (e *Env) ingressBase(ctx context.Context) (string, error) {
	if e.opts.ingressURL != "" {
		return trimSlash(e.opts.ingressURL), nil
	}
	if e.ingress != nil && e.ingress.tunnel.Alive() {
		return e.ingress.url(), nil
	}
	if e.ingress != nil {
		e.log.Warn("the port-forward to the ingress gateway ended: reopening it", "pod", istioNamespace+"/"+e.ingress.pod, "error", e.ingress.tunnel.Err())
		e.ingress.tunnel.Close()
		e.ingress = nil
	}
	svc, err := e.client.Kube.CoreV1().Services(istioNamespace).Get(ctx, ingressGatewayService, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("find the ingress gateway: Service %s/%s: %w (install Istio's ingress gateway, or give --ingress-url)", istioNamespace, ingressGatewayService, err)
	}
	port, err := httpPort(svc)
	if err != nil {
		return "", err
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			host := ing.IP
			if host == "" {
				host = ing.Hostname
			}
			if host == "" {
				continue
			}
			if port.Port == 80 {
				return "http://" + hostForURL(host), nil
			}
			return "http://" + net.JoinHostPort(host, strconv.Itoa(int(port.Port))), nil
		}
	}
	pod, target, err := e.gatewayPod(ctx, svc, port)
	if err != nil {
		return "", err
	}
	t, err := e.forwarder().Forward(context.WithoutCancel(ctx), istioNamespace, pod, target)
	if err != nil {
		return "", fmt.Errorf("reach the ingress gateway: %w", err)
	}
	e.ingress = &forward{pod: pod, tunnel: t}
	return e.ingress.url(), nil
}

// httpPort returns the gateway Service's HTTP port: the one named http2
// (Istio's name), else port 80.
func httpPort(svc *corev1.Service) (corev1.ServicePort, error) {
	for _, p := range svc.Spec.Ports {
		if p.Name == "http2" {
			return p, nil
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == 80 {
			return p, nil
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("Service %s/%s has no port named http2 and no port 80", svc.Namespace, svc.Name)
}

// gatewayPod picks a ready pod behind the gateway Service and resolves the
// HTTP port's target port on it.
func (e *Env) gatewayPod(ctx context.Context, svc *corev1.Service, port corev1.ServicePort) (string, int, error) {
	if len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("Service %s/%s has no selector: give --ingress-url", svc.Namespace, svc.Name)
	}
	pods, err := e.client.Kube.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
	})
	if err != nil {
		return "", 0, fmt.Errorf("list ingress gateway pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !kube.PodReady(p) {
			continue
		}
		target, err := targetPort(p, port)
		if err != nil {
			return "", 0, err
		}
		return p.Name, target, nil
	}
	return "", 0, fmt.Errorf("no ready ingress gateway pod behind Service %s/%s", svc.Namespace, svc.Name)
}

// targetPort resolves a Service port's targetPort (a number, a container
// port name, or empty for the port itself) on pod p.
func targetPort(p *corev1.Pod, port corev1.ServicePort) (int, error) {
	switch {
	case port.TargetPort.Type == intstr.Int && port.TargetPort.IntVal != 0:
		return int(port.TargetPort.IntVal), nil
	case port.TargetPort.Type == intstr.String && port.TargetPort.StrVal != "":
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == port.TargetPort.StrVal {
					return int(cp.ContainerPort), nil
				}
			}
		}
		return 0, fmt.Errorf("ingress gateway pod %s has no container port named %q", p.Name, port.TargetPort.StrVal)
	}
	return int(port.Port), nil
}

// hostForURL brackets IPv6 addresses.
func hostForURL(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
