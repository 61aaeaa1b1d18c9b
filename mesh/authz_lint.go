package mesh

import (
	"fmt"
	"strings"
)

// lintAuthz reports AuthorizationPolicies istiod's validation rejects,
// fields the model does not evaluate, policies that select no workload and
// ALLOW principals that name an identity no workload has.
func (m *Model) lintAuthz(add func(obj, field, sev, format string, args ...any), rejected func()) {
	identities := map[string]bool{}
	for _, w := range m.workloads {
		identities[w.Identity().Principal()] = true
	}
	identities[IngressGateway.Identity().Principal()] = true
	for i, p := range m.authz {
		obj := "AuthorizationPolicy " + p.key
		for _, pr := range p.problems {
			add(obj, pr.field, SeverityError, "%s %s, so istiod's validation rejects the AuthorizationPolicy", pr.field, pr.msg)
			rejected()
		}
		if len(p.problems) > 0 {
			continue
		}
		for _, u := range p.unmodelled {
			field, msg, _ := strings.Cut(u, " ")
			add(obj, field, SeverityWarning, "%s, so meshcheck's answers for requests to the workloads it selects may be wrong", msg)
		}
		if p.dryRun || p.targeted {
			continue
		}
		selected := false
		for _, w := range m.workloads {
			if p.appliesTo(w) {
				selected = true
				break
			}
		}
		if !selected && len(m.workloads) > 0 {
			add(obj, "spec.selector", SeverityWarning, "the policy selects no workload of the config, so it applies to nothing")
		}
		if p.action.String() != "ALLOW" {
			continue
		}
		spec := m.authzSpecs[i]
		for r, rule := range spec.Rules {
			for f, from := range rule.GetFrom() {
				for k, v := range from.GetSource().GetPrincipals() {
					if strings.Contains(v, "*") || !strings.HasPrefix(v, trustDomain+"/ns/") || identities[v] {
						continue
					}
					add(obj, fmt.Sprintf("spec.rules[%d].from[%d].source.principals[%d]", r, f, k), SeverityWarning,
						"principal %s is the identity of no workload of the config (a Deployment's serviceAccountName), so this value allows nobody", v)
				}
			}
		}
	}
}
