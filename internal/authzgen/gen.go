// Package authzgen generates seeded authorization configs for the
// differential test of meshcheck's authorization model (mesh.Model.Access)
// against istiod's RBAC filters: a target workload with two HTTP ports,
// random ALLOW and DENY AuthorizationPolicies over principals, namespaces,
// serviceAccounts, hosts, ports, methods, paths and when conditions (each
// with its not-form), dry-run and targetRefs policies that must not apply,
// sometimes a PeerAuthentication, and the requests to
// judge each config by, from several identities and over plaintext.
//
// The generator stays inside what the model evaluates: no ipBlocks, JWT
// principals, path templates, CUSTOM or AUDIT actions, and no policies in
// the root namespace. Configs are independent: config i lives in namespace
// a<i> and its identities come from a<i> and b<i>, so many configs can be
// applied to one istiod at once.
package authzgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	apisecurity "istio.io/api/security/v1beta1"
	apitype "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/mesh"
)

// Target is the name of every config's target Deployment and Service.
const Target = "target"

// Ports are the target's pod ports (Service ports 80 and 81).
var Ports = []int{8080, 9090}

// Config is one generated authorization config and the requests to judge
// it by.
type Config struct {
	// Index is the config's number; its namespace is a<Index>.
	Index int
	// Features names what the generator put in, for reports.
	Features []string
	// Objects are the config's Kubernetes and Istio objects.
	Objects []runtime.Object
	// Target is the workload every request is sent to.
	Target mesh.Workload
	// Requests are the requests to judge, each to Target.
	Requests []mesh.AccessRequest
}

// String names the config for messages.
func (c Config) String() string {
	return fmt.Sprintf("authz config %d (%v)", c.Index, c.Features)
}

// Generate returns n configs from seed; the same arguments always give the
// same configs, and config i depends on (seed, i) alone.
func Generate(seed uint64, n int) ([]Config, error) {
	out := make([]Config, n)
	for i := range n {
		c, err := generate(seed, i)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// gen holds the state of one config's generation.
type gen struct {
	r        *rand.Rand
	nsA, nsB string
	i        int
	features []string
}

func (g *gen) feature(f string) {
	if !slices.Contains(g.features, f) {
		g.features = append(g.features, f)
	}
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

// some returns 1-2 distinct values drawn from xs.
func some(g *gen, xs ...string) []string {
	n := 1 + g.r.IntN(2)
	var out []string
	for len(out) < n {
		v := pick(g, xs...)
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func generate(seed uint64, i int) (Config, error) {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i))), i: i, nsA: "a" + strconv.Itoa(i), nsB: "b" + strconv.Itoa(i)}
	objs := []runtime.Object{g.deployment(), g.service()}
	np := 1 + g.r.IntN(3)
	for k := range np {
		objs = append(objs, g.policy(k))
	}
	if g.chance(0.2) {
		objs = append(objs, g.peerAuthentication())
	}
	cfg, err := mesh.NewConfig(objs)
	if err != nil {
		return Config{}, fmt.Errorf("authz config %d: %w", i, err)
	}
	var target mesh.Workload
	for _, w := range cfg.Workloads {
		if w.Deployment == Target {
			target = w
		}
	}
	model := mesh.New(cfg)
	c := Config{Index: i, Objects: objs, Target: target}
	for range 16 {
		c.Requests = append(c.Requests, g.request(model, target))
	}
	c.Features = g.features
	return c, nil
}

func (g *gen) deployment() *appsv1.Deployment {
	labels := map[string]string{"app": Target, "tier": pick(g, "front", "back")}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: Target, Namespace: g.nsA},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": Target}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{ServiceAccountName: Target,
					Containers: []corev1.Container{{Name: "app", Image: "meshcheck.invalid/target"}}},
			},
		},
	}
}

func (g *gen) service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: Target, Namespace: g.nsA},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": Target}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt(Ports[0])},
			{Name: "http-admin", Port: 81, TargetPort: intstr.FromInt(Ports[1])},
		}},
	}
}

func (g *gen) policy(k int) *securityv1.AuthorizationPolicy {
	p := &securityv1.AuthorizationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "p" + strconv.Itoa(k), Namespace: g.nsA},
	}
	switch g.r.IntN(20) {
	case 0, 1, 2:
		g.feature("namespace-wide")
	case 3:
		// A targetRef policy attaches to Gateway API gateways and waypoints,
		// never to a sidecar.
		p.Spec.TargetRefs = []*apitype.PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "gw"}}
		g.feature("targetRefs")
	case 4, 5, 6:
		p.Spec.Selector = &apitype.WorkloadSelector{MatchLabels: map[string]string{"app": "other"}}
		g.feature("selector that misses")
	default:
		sel := map[string]string{"app": Target}
		if g.chance(0.3) {
			sel["tier"] = pick(g, "front", "back")
		}
		p.Spec.Selector = &apitype.WorkloadSelector{MatchLabels: sel}
	}
	if g.chance(0.04) {
		p.Annotations = map[string]string{"istio.io/dry-run": "true"}
		g.feature("dry-run")
	}
	if g.chance(0.35) {
		p.Spec.Action = apisecurity.AuthorizationPolicy_DENY
		g.feature("DENY")
	} else {
		g.feature("ALLOW")
	}
	switch {
	case p.Spec.Action == apisecurity.AuthorizationPolicy_ALLOW && g.chance(0.08):
		g.feature("ALLOW {} (deny all)")
		return p
	case g.chance(0.08):
		g.feature("rules [{}]")
		p.Spec.Rules = []*apisecurity.Rule{{}}
		return p
	}
	for range 1 + g.r.IntN(2) {
		p.Spec.Rules = append(p.Spec.Rules, g.rule())
	}
	return p
}

func (g *gen) rule() *apisecurity.Rule {
	r := &apisecurity.Rule{}
	parts := 0
	if g.chance(0.6) {
		for range 1 + g.r.IntN(2) {
			r.From = append(r.From, &apisecurity.Rule_From{Source: g.source()})
		}
		parts++
	}
	if g.chance(0.6) {
		for range 1 + g.r.IntN(2) {
			r.To = append(r.To, &apisecurity.Rule_To{Operation: g.operation()})
		}
		parts++
	}
	if g.chance(0.3) || parts == 0 {
		for range 1 + g.r.IntN(2) {
			r.When = append(r.When, g.condition())
		}
	}
	return r
}

func (g *gen) principals() []string {
	return some(g, "cluster.local/ns/"+g.nsA+"/sa/control", "cluster.local/ns/"+g.nsB+"/sa/web",
		"cluster.local/ns/"+g.nsB+"/*", "*/sa/control", "*", "cluster.local/ns/"+g.nsA+"/sa/"+Target)
}

func (g *gen) namespaces() []string {
	return some(g, g.nsA, g.nsB, "a*", "*"+strconv.Itoa(g.i), "*")
}

// source sets one or two of principals, namespaces (or serviceAccounts, which
// validation does not allow beside them), each positive or negative.
func (g *gen) source() *apisecurity.Source {
	s := &apisecurity.Source{}
	if g.chance(0.2) {
		sa := some(g, "control", g.nsB+"/web", g.nsA+"/default")
		if g.chance(0.5) {
			s.ServiceAccounts = sa
			g.feature("serviceAccounts")
		} else {
			s.NotServiceAccounts = sa
			g.feature("notServiceAccounts")
		}
		return s
	}
	set := 0
	if g.chance(0.6) {
		set++
		if g.chance(0.65) {
			s.Principals = g.principals()
			g.feature("principals")
		} else {
			s.NotPrincipals = g.principals()
			g.feature("notPrincipals")
		}
	}
	if g.chance(0.5) || set == 0 {
		if g.chance(0.65) {
			s.Namespaces = g.namespaces()
			g.feature("namespaces")
		} else {
			s.NotNamespaces = g.namespaces()
			g.feature("notNamespaces")
		}
	}
	return s
}

// operation sets one to three of hosts, ports, methods, paths, each
// positive or negative.
func (g *gen) operation() *apisecurity.Operation {
	o := &apisecurity.Operation{}
	set := 0
	for set == 0 {
		if g.chance(0.2) {
			set++
			v := some(g, Target+"."+g.nsA+".svc.cluster.local", Target+"*", "*.svc.cluster.local", "TARGET."+g.nsA, "*")
			if g.chance(0.7) {
				o.Hosts = v
				g.feature("hosts")
			} else {
				o.NotHosts = v
				g.feature("notHosts")
			}
		}
		if g.chance(0.25) {
			set++
			v := []string{strconv.Itoa(pick(g, Ports...))}
			if g.chance(0.7) {
				o.Ports = v
				g.feature("ports")
			} else {
				o.NotPorts = v
				g.feature("notPorts")
			}
		}
		if g.chance(0.45) {
			set++
			v := some(g, "GET", "POST", "DELETE", "P*", "*")
			if g.chance(0.7) {
				o.Methods = v
				g.feature("methods")
			} else {
				o.NotMethods = v
				g.feature("notMethods")
			}
		}
		if g.chance(0.5) {
			set++
			v := some(g, "/api/*", "/admin", "*.json", "/", "*", "/api/v1/items")
			if g.chance(0.7) {
				o.Paths = v
				g.feature("paths")
			} else {
				o.NotPaths = v
				g.feature("notPaths")
			}
		}
	}
	return o
}

func (g *gen) condition() *apisecurity.Condition {
	c := &apisecurity.Condition{}
	var values []string
	switch g.r.IntN(4) {
	case 0, 1:
		c.Key = "request.headers[" + pick(g, "x-role", "X-Role") + "]"
		values = some(g, "admin", "dev*", "*ops", "*")
		g.feature("when request.headers")
	case 2:
		c.Key = pick(g, "source.principal", "source.namespace")
		if c.Key == "source.principal" {
			values = g.principals()
		} else {
			values = g.namespaces()
		}
		g.feature("when " + c.Key)
	default:
		c.Key = "destination.port"
		values = []string{strconv.Itoa(pick(g, Ports...))}
		g.feature("when destination.port")
	}
	if g.chance(0.7) {
		c.Values = values
	} else {
		c.NotValues = values
		g.feature("when notValues")
	}
	return c
}

func (g *gen) peerAuthentication() *securityv1.PeerAuthentication {
	mode := func() *apisecurity.PeerAuthentication_MutualTLS {
		return &apisecurity.PeerAuthentication_MutualTLS{Mode: pick(g,
			apisecurity.PeerAuthentication_MutualTLS_STRICT, apisecurity.PeerAuthentication_MutualTLS_PERMISSIVE,
			apisecurity.PeerAuthentication_MutualTLS_DISABLE, apisecurity.PeerAuthentication_MutualTLS_UNSET)}
	}
	pa := &securityv1.PeerAuthentication{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "PeerAuthentication"},
		ObjectMeta: metav1.ObjectMeta{Name: "mtls", Namespace: g.nsA},
		Spec:       apisecurity.PeerAuthentication{Mtls: mode()},
	}
	if g.chance(0.5) {
		pa.Spec.Selector = &apitype.WorkloadSelector{MatchLabels: map[string]string{"app": Target}}
		if g.chance(0.6) {
			pa.Spec.PortLevelMtls = map[uint32]*apisecurity.PeerAuthentication_MutualTLS{uint32(pick(g, Ports...)): mode()}
			g.feature("PeerAuthentication portLevelMtls")
		}
		g.feature("PeerAuthentication workload")
	} else {
		g.feature("PeerAuthentication namespace")
	}
	return pa
}

// request draws one request to target. A request from a sidecar uses mTLS
// unless the port's effective mode is DISABLE (auto mTLS sends plaintext
// then); a client without a sidecar is plaintext with no identity.
func (g *gen) request(model *mesh.Model, target mesh.Workload) mesh.AccessRequest {
	port := pick(g, Ports...)
	r := mesh.AccessRequest{
		Destination: target, Port: port,
		Method: pick(g, "GET", "POST", "DELETE", "PUT"),
		Path:   pick(g, "/", "/api/v1/items", "/api/v2?x=1", "/admin", "/admin/x", "/data.json", "/apix"),
		Host: pick(g, Target+"."+g.nsA+".svc.cluster.local", Target+"."+g.nsA+".svc.cluster.local:"+strconv.Itoa(80+slices.Index(Ports, port)),
			Target, "target."+g.nsA),
	}
	if g.chance(0.5) {
		r.Headers = map[string]string{"x-role": pick(g, "admin", "dev-1", "sre-ops", "", "guest")}
	}
	if g.chance(0.8) {
		r.Source = pick(g,
			mesh.Identity{Namespace: g.nsA, ServiceAccount: "control"},
			mesh.Identity{Namespace: g.nsA, ServiceAccount: "default"},
			mesh.Identity{Namespace: g.nsB, ServiceAccount: "web"},
			mesh.Identity{Namespace: g.nsB, ServiceAccount: "control"})
		r.MTLS = model.AutoMTLS(true, target, port)
	}
	return r
}
