// Package scenario loads and validates meshcheck scenarios: a tutorial's
// Kubernetes and Istio manifests plus what a user expects to observe when
// traffic flows through them.
//
// # Layout
//
// A scenario is a folder, conventionally scenarios/<name>/, holding
// scenario.yaml and the manifests it names (usually under manifests/). The
// manifests are plain multi-document Kubernetes/Istio YAML, applied as they
// are on real clusters.
//
// # scenario.yaml
//
//	apiVersion: meshcheck.dev/v1alpha1     # required, exactly this
//	kind: Scenario                         # required, exactly this
//	metadata:
//	  name: echo                           # required, DNS label
//	  title: Echo v1/v2 split 75/25 ...    # required, one line
//	  source: https://...                  # optional: the tutorial's URL
//	spec:
//	  backend: openfaas                    # optional: the function backend the workloads need (openfaas, knative)
//	  namespaces:                          # optional: namespaces to create
//	    - name: echo                       # DNS label, unique
//	      injection: true                  # sidecar injection; default false
//	  defaults:                            # optional: settings of every probe
//	    rate: 100                          # requests per second, 1..10000
//	    tolerance: 0.05                    # band half-width, in (0, 1)
//	    relative: false                    # tolerance as a fraction of each weight
//	    alpha: 0.001                       # wrong-verdict probability, in (0, 0.5)
//	    errorBudget: 0.01                  # share of requests that may fail, in [0, 1)
//	    maxRequests: 50000                 # request budget, >= 1
//	    maxDuration: 120s                  # time budget, a Go duration, <= 24h
//	    settle: 60s                        # bound on the unjudged settle phase
//	  steps:                               # required, at least one
//	    - name: split-75-25                # DNS label, unique in the scenario
//	      apply: [manifests/echo.yaml]     # manifests applied, in order
//	      delete: [manifests/old.yaml]     # manifests whose objects are removed
//	      probes:                          # checks run once the step is in effect
//	        - name: ingress                # DNS label, unique in the step
//	          from: ingress                # ingress | mesh
//	          serviceAccount: control      # mesh only: send as this ServiceAccount of the source namespace
//	          request:
//	            host: echo.local           # ingress: Host header, no port
//	            path: /echo                # ingress: path (and query)
//	            url: http://svc.ns.svc.cluster.local/echo   # mesh: the whole URL
//	            method: GET                # GET (default), HEAD, POST, PUT, PATCH, DELETE, OPTIONS
//	            headers: {x-user: alice}   # extra headers; not Host
//	            body: "..."                # request body
//	          classify:                    # required unless expect.status
//	            by: "json:os.hostname"     # loadgen classifier: json:<path>, regex:<expr>, header:<name>, status
//	            podLabel: version          # the value is a pod name; this label names the version
//	            values: {"Hello V1": v1}   # or: map values to versions (not with podLabel)
//	          expect:                      # exactly one of:
//	            weights: {v1: 75, v2: 25}  #   percents per version, summing to 100, order kept
//	            status: 403                #   an HTTP status on (nearly) every response
//	            fromConfig: true           #   the split the routing model derives from the manifests
//	            headers:                   # alone or with status (default 200): conditions on every response
//	              in: body:headers         #   response, or body:<json path> (headers echoed in a JSON body)
//	              present: [x-b3-traceid]  #   header names that must be there
//	              match: {x-forwarded-client-cert: 'URI=spiffe://...'}  # name: RE2, found anywhere in the value
//	          rate: 200                    # any setting of defaults, for this probe only
//
// A step does at least one of apply, delete and probes, and the scenario has
// at least one probe. Manifest paths are relative, slash-separated paths
// inside the scenario folder (no "..", and no symbolic link leading out),
// ending in .yaml or .yml. An ingress probe gives host and path (the
// environment knows the ingress address); a probe from mesh gives the whole
// url, http only (the sidecar adds mTLS itself). A probe from mesh runs as
// the in-mesh agent's ServiceAccount (meshcheck-agent) in the source
// namespace unless serviceAccount names another (a DNS label): its requests
// then carry that account's mTLS identity,
// spiffe://cluster.local/ns/<source namespace>/sa/<serviceAccount>, as a
// pod running as it would, which is what an AuthorizationPolicy's
// principals match.
//
// # Header expectations
//
// expect.headers checks the headers of every response, or, with in:
// body:<json path>, the request headers an echo server (the echo fixture,
// mendhak/http-https-echo) wrote into the JSON object at that path of its
// body: the headers the workload saw, such as those Envoy added on the way
// (x-b3-*, x-envoy-attempt-count, x-forwarded-client-cert). Header names
// are HTTP tokens, compared without regard to case; a match expression is
// RE2 and matches anywhere in the value (anchor it with ^ and $); repeated
// headers are joined with ", ". A response satisfies the expectation when
// it has the status (expect.status, else 200) and meets every condition;
// the share of responses that satisfy it is judged exactly as a status
// share is (at least 1 - tolerance, by the same sequential test), on the
// line "status 200 with headers". The report lists each failed condition
// with the value seen ("header x-forwarded-client-cert is \"...\" (in
// body:headers), which does not match /.../"). Headers cannot be combined
// with weights or fromConfig, and a header probe needs no classify.
//
// # Function backends
//
// spec.backend: openfaas runs the workloads as OpenFaaS CE functions:
// manifests may hold openfaas.com/v1 Function objects (the shape of
// faas-netes' Function CRD: spec.name equal to metadata.name, image,
// handler, labels, annotations, environment, limits, requests,
// readOnlyRootFilesystem; namespace openfaas-fn), and the scenario relies on
// the chart's gateway (Service gateway.openfaas:8080, ServiceAccount
// openfaas-controller, directFunctions on). A Function is validated at
// load, each problem at its line. The routing model, the local environment
// and the test tiers see what runs on a cluster (ClusterStateAt): the
// gateway's objects and, for each Function, the Deployment (labels
// faas_function=<name> plus the Function's labels, port 8080) and Service
// faas-netes creates; on a cluster meshcheck deploys Functions through the
// gateway's REST API. The local environment emulates the gateway, forwarding
// /function/<name> to the function's Service through its sidecar. An
// environment that cannot provide the backend skips the scenario and says
// why (env.ErrBackendUnavailable).
//
// spec.backend: knative runs the workloads on Knative Serving with net-istio:
// manifests may hold serving.knative.dev/v1 Service objects (a name and a
// namespace, optional template labels and annotations, one container with
// image, args, env, at most one port named http1 or h2c, resources and
// securityContext; no spec.traffic, since the scenario splits with Istio
// rules). A Knative Service is validated at load, each problem at its line.
// On a cluster it is applied as it is and answers at
// http://<name>.<namespace>.svc.cluster.local through net-istio's
// knative-local-gateway; the routing model, the local environment and the
// test tiers see in its place a Deployment (labels
// serving.knative.dev/service=<name> plus the template's, PORT set) and a
// Service <name> on port 80 (knative.Expand), an emulation of what answers
// at that address. The backend adds no objects of its own.
//
// With neither classify.podLabel nor classify.values, the classified value is
// the version itself. With expect.fromConfig the versions are the values of
// the pod label classify.podLabel (or "version" when the classifier maps
// values).
//
// Built-in defaults, where neither defaults nor the probe say otherwise:
// rate 100/s, tolerance verify.DefaultTolerance (0.05), alpha
// verify.DefaultAlpha (0.001), errorBudget verify.DefaultErrorBudget (0.01),
// maxRequests verify.DefaultMaxRequests (50,000), maxDuration 120 s, settle
// loadgen.DefaultSettleTimeout (60 s); see defaultRate for why they suit a
// 75/25 probe. Before judging, every probe runs an unjudged settle phase
// until 20 consecutive responses are good (loadgen.Options); a probe that
// does not settle within settle ends with an environment error naming what
// it saw. maxRequests and maxDuration count the settle phase too.
//
// A path to a scenario's scenario.yaml is taken as its folder; any other
// path that is not a scenario folder (a folder of scenario folders, a
// missing folder) is an error naming the scenario folders that would work.
//
// # Strictness
//
// scenario.yaml is decoded into typed structs (schema.go) with the YAML
// decoder's KnownFields(true), after its node tree has been held against
// the same structs for line numbers and messages. Every mapping admits only
// the fields above: an unknown or misspelt field is an error naming
// scenario.yaml:<line>, the field's path
// (spec.steps[0].probes[1].expect.wieghts) and the fields allowed there.
// Every value is checked against its kind and range, and errors say what is
// allowed. Anchors, aliases and merge keys are rejected.
//
// Load reports every problem at once, not the first: each is a Diagnostic
// with a severity, and the errors come back together in a *LoadError, in
// file and line order. A mistake is reported once; the checks that build on
// a field already reported stay silent.
//
// Manifests are decoded with client-go's Kubernetes scheme plus Istio's
// networking.istio.io (v1, v1beta1, v1alpha3) and security.istio.io (v1,
// v1beta1) types, OpenFaaS's openfaas.com/v1 Function and Knative's
// serving.knative.dev/v1 Service, into typed
// objects. An unknown apiVersion or kind is an
// error at its line; unknown and duplicated fields are errors too (the
// Kubernetes serializer's strict mode, and for Istio specs, whose own decoder
// drops unknown fields, a check against their protobuf schema), each at the
// line of the field. Every document of every manifest is decoded, each
// reporting its first problem.
//
// # Cross-checks and the prediction
//
// After loading, the manifests in effect at each step (Scenario.StateAt) are
// given to the routing model (package mesh) through Scenario.Config and
// Scenario.Model; Predict gives a probe's Prediction. These are the one
// prediction that validate (these cross-checks), run (package runner) and
// every environment use, and Prediction.Disagrees the one rule of whether a
// prediction contradicts an expectation: it compares exact shares, so 30.4%
// against 25 ± 5 disagrees although it rounds to 30.
//
// Sure to fail on a cluster, and so errors: an object istiod's validation
// rejects (a negative weight; mesh Finding.Rejected); a probe expecting
// versions whose every request the model answers 404 (nothing serves its
// host or path); a classify.podLabel that no pod the probe's requests reach
// carries (a typo: the error lists the labels they carry); and a probe from
// mesh when no namespace of spec.namespaces has injection: true. In-mesh
// probes run from SourceNamespace, the first namespace with injection, else
// the first namespace, else default; without injection there the in-mesh
// agent gets no sidecar and its requests bypass the mesh, though the local
// emulation would route them as if through one.
//
// Warnings: the model's other Lint findings (weights that do not sum to
// 100, subsets no DestinationRule defines, whose share will be answered
// 503, unknown gateways, ...) at the line of the field concerned; another
// status for every request; an error share above the budget; an explicit
// expectation the prediction disagrees with, giving the model's reason in
// one sentence; deletions of objects not in effect; objects outside the
// scenario's namespaces. Those where the model predicts a probe fails carry
// PredictsFailure, which `meshcheck scenarios validate --strict` turns into
// errors.
package scenario
