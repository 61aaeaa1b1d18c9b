// Package apiservertest starts a real kube-apiserver and etcd for tests, with
// Istio's CustomResourceDefinitions installed, through controller-runtime's
// envtest.
//
// The binaries are built from Go modules by `make apiserver-bins` (module
// tools/apiserver) into .cache/apiserver/bin; KUBEBUILDER_ASSETS names another
// folder. The CRDs come from the istio.io/api module pinned in go.mod
// (kubernetes/customresourcedefinitions.gen.yaml), found with `go mod
// download -json`, so they always match the istio.io/client-go types.
//
// Tests that need the server carry the build tag `apiserver` and run with
// `make test-apiserver`. Start fails the test, never skips it, when the
// binaries are missing.
//
// The server has no controller-manager, scheduler or kubelet: Deployments get
// no pods and pods never run. Workloads and the Create/Mark helpers play those
// parts through the API (pods created directly, statuses written through the
// status subresource) so that waits and pod listings can be tested.
package apiservertest
