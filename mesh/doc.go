// Package mesh models how Istio routes an HTTP request, so that meshcheck can
// derive the distribution a probe should observe from Istio config and route
// requests in the local (emulated) environment.
//
// The model is pure: it reads Kubernetes Services and workloads and Istio
// Gateways, VirtualServices and DestinationRules, and answers, for a request
// seen from the ingress gateway or from a sidecar, which route matches (or why
// none does), which weighted destinations it sends to, which pods each
// destination reaches, and what Envoy answers itself (404, 503).
//
// It also answers whether the destination's sidecar lets a request through
// (Model.Access): PeerAuthentication mTLS modes (STRICT refuses plaintext
// with a reset, seen as 503) and AuthorizationPolicy ALLOW and DENY rules
// over principals, namespaces, serviceAccounts, hosts, ports, methods,
// paths and when conditions, with the default deny once an ALLOW policy
// selects the workload (403 "RBAC: access denied"). CUSTOM policies, JWT
// request principals, ipBlocks, path templates and conditions on IPs, SNI
// or JWT claims are not modelled: Access says so in Access.Unmodelled and
// Lint warns.
//
// Every rule follows Istio's documented behaviour; the comment on each rule
// names the istio.io reference page or istio/api proto field it follows, and
// where the docs are silent, the istiod code path (pilot/pkg/networking/core)
// whose behaviour it reproduces. The semantics are those of Istio 1.31
// (istio.io/api v1.31.1), including behaviour that changed since older
// tutorials were written: Istio now ignores the port in the Host header when
// matching hosts (HostPortRule says since when, where).
//
// The control-plane tier holds the model against the real istiod, for every
// scenario and for a generated corpus of configs (docs/fidelity.md).
//
// Out of scope, each stated where it matters: ServiceEntry, Sidecar and
// EnvoyFilter resources (NewConfig rejects them), fault injection, mirroring, retries,
// TLS and TCP routes, passthrough of unknown hosts (answered 404), and
// Service exportTo annotations.
package mesh
