package mesh

import "testing"

// TestDelegation: a delegating route stands for the delegate's routes with
// the root's match merged in (istio.io/latest/docs/reference/config/networking/virtual-service/#Delegate;
// pilot/pkg/model/virtualservice.go MergeHTTPRoutes, hasConflict).
func TestDelegation(t *testing.T) {
	root := vsDoc("echo", "root", `  hosts: [echo-service]
  http:
  - name: r
    match: [{uri: {prefix: /a}}]
    delegate: {name: child}
`+"  - "+toV2[4:])
	child := func(exportTo string) string {
		return vsDoc("echo", "child", exportTo+`  http:
  - name: b
    match: [{uri: {exact: /a/b}}]
`+toV1+`  - name: x
    match: [{uri: {exact: /x}}]
`+toV1+"  - "+toV1[4:])
	}
	req := func(path string) Request {
		return Request{Vantage: Mesh, Host: "echo-service", Path: path, SourceNamespace: "echo"}
	}
	docs := echoBase(root, child(""))
	runRules(t, []ruleCase{
		{name: "delegate route narrowing the root's prefix", docs: docs, req: req("/a/b"), shares: allV1, route: "r-b"},
		{name: "delegate route conflicting with the root's prefix is dropped", docs: docs, req: req("/x"), shares: allV2},
		{name: "delegate route without match takes the root's", docs: docs, req: req("/a/c"), shares: allV1, route: "r"},
		{name: "requests outside the root's match skip the delegate", docs: docs, req: req("/b"), shares: allV2},
		{name: "a delegate not exported to the root's namespace is ignored",
			docs: echoBase(root, child("  exportTo: [istio-system]\n")), req: req("/a/b"), shares: allV2},
	})
}

// TestDelegationAtGatewayKeepsOrder: at a gateway, the routes a delegate
// splices in keep their place among merged VirtualServices; only true
// catch-alls move last (found by the control-plane corpus, config 88 of
// seed 1: the model had ordered the delegating route as a catch-all).
func TestDelegationAtGatewayKeepsOrder(t *testing.T) {
	docs := echoBase(
		vsDoc("echo", "a", "  hosts: [echo.local]\n  gateways: [istio-system/ingressgateway]\n  http:\n  - delegate: {name: child}\n"),
		vsDoc("echo", "child", "  http:\n  - match: [{uri: {exact: /a}}]\n"+toV1),
		vsDoc("echo", "b", "  hosts: [echo.local]\n  gateways: [istio-system/ingressgateway]\n  http:\n  - match: [{uri: {prefix: /a}}]\n"+toV2+"  - "+toV2[4:]),
	)
	m := model(t, docs...)
	assertShares(t, m.Resolve(Request{Vantage: Ingress, Host: "echo.local", Path: "/a"}), allV1)
	assertShares(t, m.Resolve(Request{Vantage: Ingress, Host: "echo.local", Path: "/a/z"}), allV2)
	for _, f := range m.Lint() {
		if f.Object == "VirtualService echo/child" {
			t.Errorf("the delegate is reported: %+v", f)
		}
	}
}
