// Package istiodtest runs Istio's real control plane for tests: istiod
// (pilot-discovery, built from istio.io/istio by `make istio-bins`, module
// tools/istio) against internal/apiservertest's kube-apiserver, and reads
// what it programs over plaintext ADS with go-control-plane types, as the
// sidecar of a pod or as the ingress gateway.
//
// No kubelet or controller-manager runs: Apply creates the pods of a
// config's workloads (status Running and Ready, with a pod IP, through the
// status subresource) and the EndpointSlices of its Services itself. Every
// port istiod opens is a free port on 127.0.0.1, and its kubeconfig (mode
// 0600) and working directory are its own, so test packages run in
// parallel.
//
// Tests that need istiod carry the build tag `controlplane` (and need the
// API-server binaries too) and run with `make test-controlplane`. Start
// fails the test, never skips it, when a binary is missing.
package istiodtest
