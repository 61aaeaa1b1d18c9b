package mesh

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// plan is a route's destinations with what Pick needs precomputed: one slot
// per endpoint (and one per failing destination) with cumulative
// probabilities, so a pick is one random number and a binary search.
type plan struct {
	dests []Destination
	cum   []float64 // cumulative probability, last = 1
	slots []slot
	fails bool // every destination with traffic fails (503)
}

// slot is one outcome of a pick: a workload, or a status Envoy answers.
type slot struct {
	w      *Workload
	status int
}

// newPlan precomputes the pick table. A destination receives
// weight/(sum of weights) of the requests; a single destination receives all
// of them whatever its weight; weight 0 receives none.
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRouteDestination-weight
// ("A destination will receive weight/(sum of all weights) requests. If there
// is only one destination in a rule, it will receive all traffic. Otherwise,
// if weight is 0, the destination will not receive any traffic").
// Within a destination every endpoint is equally likely: Envoy balances
// across the endpoints of the cluster, so the split between versions
// follows pod counts.
func newPlan(dests []Destination) *plan {
	p := &plan{dests: dests, fails: true}
	total := 0
	for i := range dests {
		total += shareWeight(dests, i)
	}
	if total == 0 {
		return p
	}
	acc := 0.0
	for i := range dests {
		w := shareWeight(dests, i)
		if w == 0 {
			continue
		}
		share := float64(w) / float64(total)
		d := &dests[i]
		if d.Status != 0 || len(d.Workloads) == 0 {
			st := d.Status
			if st == 0 {
				st = 503
			}
			acc += share
			p.cum = append(p.cum, acc)
			p.slots = append(p.slots, slot{status: st})
			continue
		}
		p.fails = false
		per := share / float64(len(d.Workloads))
		for j := range d.Workloads {
			acc += per
			p.cum = append(p.cum, acc)
			p.slots = append(p.slots, slot{w: &d.Workloads[j]})
		}
	}
	if n := len(p.cum); n > 0 {
		p.cum[n-1] = 1 // absorb rounding
	}
	return p
}

// shareWeight is the weight that counts for destination i.
func shareWeight(dests []Destination, i int) int {
	if len(dests) == 1 {
		return 1
	}
	if dests[i].Weight < 0 {
		return 0
	}
	return dests[i].Weight
}

// routePlan resolves a route's destinations for a proxy in namespace client
// listening on port.
func (m *Model) routePlan(r *httpRoute, client string, port int) *plan {
	dests := make([]Destination, 0, len(r.dests))
	for _, ds := range r.dests {
		d := m.resolveDest(ds, client, port)
		if len(r.dests) == 1 {
			d.Weight = 100
		}
		dests = append(dests, d)
	}
	return newPlan(dests)
}

// defaultPlan is the route a sidecar uses for a Service no VirtualService
// routes: all endpoints of the Service port.
func (m *Model) defaultPlan(s *service, sp *svcPort) *plan {
	d := Destination{Host: s.host, Port: sp.target, Weight: 100, Workloads: s.pods}
	if len(s.pods) == 0 {
		d.Status = 503
		d.Reason = "Service " + s.host + " has no endpoints (no pod matches its selector), so Envoy answers 503 (UH: no healthy upstream)"
	} else {
		d.Reason = fmt.Sprintf("reaches all %s of Service %s%s", pods(len(s.pods)), s.host, portPhrase(sp))
	}
	return newPlan([]Destination{d})
}

// resolveDest turns a route destination into the cluster Envoy uses and
// the endpoints behind it.
//
// Host: a Service FQDN (short names were resolved in the VirtualService's
// namespace). A host that is no Service has no cluster: Envoy answers 503
// with flag NC ("Traffic forwarded to destinations that are not found ...
// will be dropped", Destination-host).
//
// Port: destination.port if set; else the Service's only port; else the
// port the request arrived on (Destination-port: "If a service exposes only
// a single port it is not required to explicitly select the port";
// pilot/pkg/networking/core/route/route.go GetDestinationCluster). A port the
// Service lacks has no cluster: 503 NC.
//
// Subset: "The subset must be defined in a corresponding DestinationRule"
// (Destination-subset); without one the subset cluster does not exist and
// Envoy answers 503 NC. A subset's endpoints are the Service's endpoints
// (selector) that also carry the subset's labels (DestinationRule
// Subset-labels). No endpoint: 503 with flag UH.
func (m *Model) resolveDest(ds destSpec, client string, listenPort int) Destination {
	d := Destination{Host: ds.host, Subset: ds.subset, Weight: ds.weight}
	s := m.services[ds.host]
	if s == nil {
		d.Status = 503
		d.Reason = "host " + ds.host + " is not a Service, so Envoy has no cluster for it and answers 503 (NC)"
		return d
	}
	port := ds.port
	if port == 0 {
		port = listenPort
		if len(s.ports) == 1 {
			port = s.ports[0].port
		}
	}
	sp := s.portByNumber(port)
	if sp == nil {
		d.Status = 503
		d.Reason = fmt.Sprintf("Service %s has no port %d, so Envoy has no cluster for it and answers 503 (NC)", s.host, port)
		return d
	}
	d.Port = sp.target
	if ds.subset == "" {
		d.Workloads = s.pods
		if len(s.pods) == 0 {
			d.Status = 503
			d.Reason = "Service " + s.host + " has no endpoints (no pod matches its selector), so Envoy answers 503 (UH: no healthy upstream)"
			return d
		}
		d.Reason = fmt.Sprintf("reaches all %s of Service %s%s", pods(len(s.pods)), s.host, portPhrase(sp))
		return d
	}
	sub, dr := m.findSubset(s, ds.subset, client)
	if sub == nil {
		d.Status = 503
		d.Reason = fmt.Sprintf("no DestinationRule that applies to %s from namespace %s defines subset %s, so Envoy has no cluster for it and answers 503 (NC)",
			s.host, client, ds.subset)
		return d
	}
	for _, w := range s.pods {
		if labelsInclude(w.Labels, sub.labels) {
			d.Workloads = append(d.Workloads, w)
		}
	}
	if len(d.Workloads) == 0 {
		d.Status = 503
		d.Reason = fmt.Sprintf("subset %s of DestinationRule %s (%s) selects no pod of Service %s, so Envoy answers 503 (UH: no healthy upstream)",
			ds.subset, dr.key, labelString(sub.labels), s.host)
		return d
	}
	d.Reason = fmt.Sprintf("subset %s of DestinationRule %s (%s) reaches %s of Service %s%s",
		ds.subset, dr.key, labelString(sub.labels), pods(len(d.Workloads)), s.host, portPhrase(sp))
	return d
}

// findSubset finds the named subset in the DestinationRules that apply to
// Service s for a proxy in namespace client.
func (m *Model) findSubset(s *service, name, client string) (*subsetInfo, *drInfo) {
	for _, dr := range m.destinationRules(s, client) {
		for i := range dr.subsets {
			if dr.subsets[i].name == name {
				return &dr.subsets[i], dr
			}
		}
	}
	return nil, nil
}

// destinationRules returns the DestinationRules that apply to Service s for
// a proxy in namespace client, in merge order (the first defining a subset
// name wins). Lookup order: the client's namespace, then the Service's
// namespace, then the root namespace istio-system; in the first namespace
// with a match, the most specific host wins (exact, then the longest
// wildcard) and all rules with that host are merged.
// Follows istio.io/latest/docs/ops/best-practices/traffic-management/#cross-namespace-configuration
// and pilot/pkg/model/push_context.go destinationRule (a proxy in the root
// namespace, like the ingress gateway, sees only root rules exported to "."
// first). DestinationRule host short names resolve in the rule's namespace
// (DestinationRule-host).
func (m *Model) destinationRules(s *service, client string) []*drInfo {
	if client != rootNamespace {
		if out := m.drsIn(client, s.host, func(*drInfo) bool { return true }); len(out) > 0 {
			return out
		}
	} else if out := m.drsIn(rootNamespace, s.host, func(d *drInfo) bool { return privateExport(d) }); len(out) > 0 {
		return out
	}
	visible := func(d *drInfo) bool { return exportedTo(d.exportTo, d.ns, client) }
	if out := m.drsIn(s.ns, s.host, visible); len(out) > 0 {
		return out
	}
	return m.drsIn(rootNamespace, s.host, visible)
}

// privateExport reports whether a DestinationRule is exported only to its
// own namespace.
func privateExport(d *drInfo) bool {
	if len(d.exportTo) == 0 {
		return false
	}
	for _, e := range d.exportTo {
		if e != "." && e != d.ns {
			return false
		}
	}
	return true
}

// drsIn returns the rules in namespace ns whose host is the most specific
// match for host.
func (m *Model) drsIn(ns, host string, ok func(*drInfo) bool) []*drInfo {
	best := ""
	for _, d := range m.drs {
		if d.ns != ns || !ok(d) || !hostSubsetOf(host, d.host) {
			continue
		}
		if best == "" || moreSpecific(d.host, best) {
			best = d.host
		}
	}
	if best == "" {
		return nil
	}
	var out []*drInfo
	for _, d := range m.drs {
		if d.ns == ns && d.host == best && ok(d) {
			out = append(out, d)
		}
	}
	return out
}

// moreSpecific reports whether host pattern a is more specific than b: an
// exact name beats any wildcard, a longer wildcard beats a shorter one
// (pilot/pkg/model/config.go MostSpecificHostMatch).
func moreSpecific(a, b string) bool {
	if !isWildcard(a) {
		return isWildcard(b)
	}
	return isWildcard(b) && len(a) > len(b)
}

func pods(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return fmt.Sprintf("%d pods", n)
}

func portPhrase(sp *svcPort) string {
	if sp.target == 0 {
		return fmt.Sprintf(" (targetPort %q is a container port name the model cannot resolve)", sp.targetName)
	}
	return fmt.Sprintf(" on port %d", sp.target)
}

// labelString renders labels as "k=v,k2=v2" in key order.
func labelString(l map[string]string) string {
	if len(l) == 0 {
		return "no labels"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(l)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + l[k])
	}
	return b.String()
}
