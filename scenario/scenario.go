package scenario

import (
	"cmp"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

// scenarioAPIVersion and scenarioKind are what every scenario.yaml declares
// at its top.
const (
	scenarioAPIVersion = "meshcheck.dev/v1alpha1"
	scenarioKind       = "Scenario"
	// FileName is the name of the scenario file inside a scenario folder.
	FileName = "scenario.yaml"
	// defaultVersionLabel is the pod label whose values name versions when a
	// probe expects fromConfig and its classifier maps response values
	// (classify.values) instead of naming a pod label.
	defaultVersionLabel = "version"
)

// Built-in defaults of the settings that verify does not define.
//
// A correct 75/25 probe needs about 1,600 classified responses to PASS at
// alpha 0.001 with a ±0.05 band (the confidence sequence of the 25% share
// must shrink inside [0.20, 0.30]): over 200 seeded simulated runs the
// median is 1,568 and the slowest 3,939 (TestScenarioDefaultsDecideACorrectSplit).
// At 100 requests per second the median is about 16 seconds of load, so with
// the ramp-up of a fresh attack a probe on a cluster decides within about 20
// seconds. MaxDuration of 120 seconds (12,000 requests at that rate) leaves
// room for unlucky runs and for true shares near a band's edge, which need
// more evidence, before the probe stops INCONCLUSIVE; it binds before
// verify.DefaultMaxRequests does at the default rate. 100 requests per
// second is also gentle enough for a single-replica echo pod and a kind node
// on a laptop.
const (
	defaultRate        = 100
	defaultMaxDuration = 120 * time.Second
)

// Limits of the settings; values outside them are input errors.
const (
	maxRate        = 10000
	maxMaxDuration = 24 * time.Hour
)

// Backend names a function backend a scenario needs.
type Backend string

// The function backends a scenario may name in spec.backend.
const (
	// BackendNone is the default: the workloads are plain Deployments and
	// need no function platform.
	BackendNone Backend = ""
	// BackendOpenFaaS runs the workloads as OpenFaaS functions behind the
	// OpenFaaS gateway (chart openfaas/openfaas).
	BackendOpenFaaS Backend = "openfaas"
	// BackendKnative runs the workloads as Knative Serving Services
	// (serving.knative.dev/v1) with net-istio as Knative's ingress.
	BackendKnative Backend = "knative"
)

// backends are the values spec.backend may take, as written.
var backends = []Backend{BackendOpenFaaS, BackendKnative}

// Scenario is one loaded and validated scenario folder.
type Scenario struct {
	// Dir is the scenario folder as given to Load.
	Dir string
	// File is the path of its scenario.yaml.
	File string
	// Metadata names and describes the scenario.
	Metadata Metadata
	// Backend is the function backend the scenario's workloads run on:
	// BackendNone (plain Deployments), BackendOpenFaaS or BackendKnative.
	Backend Backend
	// Namespaces the scenario needs, in the order written.
	Namespaces []Namespace
	// Defaults are the settings of every probe that does not override them,
	// filled from the built-in defaults where the file is silent.
	Defaults Settings
	// Steps run in order.
	Steps []Step

	// lines maps a field path ("spec.steps[0].probes[1].request.host") to
	// the line of scenario.yaml it was read from.
	lines map[string]int
}

// Metadata names and describes a scenario.
type Metadata struct {
	// Name is a DNS label naming the scenario (usually its folder's name).
	Name string
	// Title is one line saying what the scenario shows.
	Title string
	// Source is the URL of the tutorial the scenario reproduces, if any.
	Source string
}

// Namespace is a namespace the scenario creates.
type Namespace struct {
	// Name is the namespace's name.
	Name string
	// Injection turns on automatic sidecar injection
	// (label istio-injection=enabled).
	Injection bool
}

// Settings tune how a probe drives load and judges the result.
type Settings struct {
	// Rate is the number of requests per second.
	Rate int
	// Tolerance is the half-width of every version's band (see
	// verify.Expectation).
	Tolerance float64
	// Relative makes Tolerance a fraction of each weight.
	Relative bool
	// Alpha bounds the probability of a wrong verdict.
	Alpha float64
	// ErrorBudget is the share of requests that may be errors.
	ErrorBudget float64
	// MaxRequests is the request budget of the probe.
	MaxRequests int
	// MaxDuration is the time budget of the probe.
	MaxDuration time.Duration
	// Settle bounds the probe's unjudged settle phase, which waits for a
	// run of good responses before judging (0: the load generator's
	// default, loadgen.DefaultSettleTimeout).
	Settle time.Duration
}

// builtinSettings returns the defaults used where the file is silent.
func builtinSettings() Settings {
	return Settings{
		Rate:        defaultRate,
		Tolerance:   verify.DefaultTolerance,
		Alpha:       verify.DefaultAlpha,
		ErrorBudget: verify.DefaultErrorBudget,
		MaxRequests: verify.DefaultMaxRequests,
		MaxDuration: defaultMaxDuration,
	}
}

// Step applies and deletes manifests, then runs its probes.
type Step struct {
	// Name is unique within the scenario.
	Name string
	// Apply are the manifests applied by this step, in order.
	Apply []Manifest
	// Delete are the manifests whose objects this step removes.
	Delete []Manifest
	// Probes run after the step's changes are in effect.
	Probes []Probe
}

// Manifest is one manifest file and the objects it holds.
type Manifest struct {
	// File is the path as written in scenario.yaml, relative to the
	// scenario folder.
	File string
	// Objects are the file's documents, in order.
	Objects []Object
}

// Object is one decoded document of a manifest file.
type Object struct {
	// File is the manifest's path (the scenario folder joined with the path
	// written in scenario.yaml).
	File string
	// Line is the line of File where the document's content starts.
	Line int
	// Object is the typed Kubernetes or Istio object.
	Object runtime.Object
	// Raw is the YAML text of the document, from Line on.
	Raw []byte
}

// Probe is one load-and-verify check run at a step.
type Probe struct {
	// Name is unique within its step.
	Name string
	// From is where requests come from: the ingress gateway or a pod in
	// the mesh.
	From mesh.Vantage
	// ServiceAccount, for a probe from mesh, is the ServiceAccount (in the
	// source namespace) whose identity the probe's requests carry, as a pod
	// running as that account would; "" means the agent's own account
	// (AgentServiceAccount). See SourceIdentity.
	ServiceAccount string
	// Request says what to send.
	Request Request
	// Classify says how a response names the version that answered.
	Classify Classify
	// Expect says what the probe should observe.
	Expect Expect
	// Settings are the effective settings: the scenario's defaults
	// overridden by the probe's own.
	Settings Settings
}

// Request is what a probe sends.
type Request struct {
	// Host is the Host header of an ingress probe (no port).
	Host string
	// Path is the path (and query) of an ingress probe.
	Path string
	// URL is the full URL of a mesh probe: http://host[:port]/path.
	URL string
	// Method is the HTTP method; GET when the file is silent.
	Method string
	// Headers are extra request headers, keyed by lower-case name.
	Headers map[string]string
	// Body is the request body.
	Body string
}

// Classify says how to read a version from a response.
type Classify struct {
	// By is a loadgen classifier spec: "json:os.hostname", "regex:...",
	// "header:x-version" or "status".
	By string
	// PodLabel, when set, means the classified value is a pod name and the
	// version is that pod's value of this label.
	PodLabel string
	// Values, when set, maps classified values to versions
	// ("Hello V1" -> v1). With neither PodLabel nor Values the classified
	// value is the version itself.
	Values map[string]string
}

// Expect is what a probe should observe: exactly one of its fields is set.
type Expect struct {
	// Weights are explicit per-version percents, in the order written.
	Weights []verify.Weight
	// Status is an HTTP status expected on (nearly) every response.
	Status int
	// FromConfig derives the weights from the scenario's Istio config with
	// the routing model.
	FromConfig bool
	// Headers, when set, are header conditions every response must meet,
	// alone or with Status (which is then 200 when not given): the share
	// of responses with the status that meet them is judged as the status
	// share is.
	Headers *loadgen.HeaderCheckSpec
}

// defaultHeadersStatus is the status a header expectation without a
// status expects.
const defaultHeadersStatus = 200

// HeadersCondition is the verify condition of a header expectation: its
// status line reads "status 200 with headers". What the headers must show
// is in the probe's notes (Prediction.Notes), and each failed condition,
// with the value seen, in the traffic's samples.
const HeadersCondition = "headers"

// HeaderCheck returns the loadgen check of the probe's header
// expectation; the zero check when it has none.
func (p Probe) HeaderCheck() (loadgen.HeaderCheck, error) {
	if p.Expect.Headers == nil {
		return loadgen.HeaderCheck{}, nil
	}
	c, err := loadgen.NewHeaderCheck(*p.Expect.Headers)
	if err != nil {
		return loadgen.HeaderCheck{}, fmt.Errorf("probe %s: expect.%w", p.Name, err)
	}
	return c, nil
}

// Expectation returns the verify expectation of the probe. fromConfig are
// the weights the routing model derives for the probe (mesh Resolution
// Shares of the probe's version label); they are used only when
// p.Expect.FromConfig is set.
func (p Probe) Expectation(fromConfig []verify.Weight) verify.Expectation {
	e := verify.Expectation{
		Tolerance:   p.Settings.Tolerance,
		Relative:    p.Settings.Relative,
		Alpha:       p.Settings.Alpha,
		ErrorBudget: p.Settings.ErrorBudget,
	}
	switch {
	case p.Expect.FromConfig:
		e.Weights = append([]verify.Weight(nil), fromConfig...)
	case p.Expect.Headers != nil:
		e.Status = cmp.Or(p.Expect.Status, defaultHeadersStatus)
		e.Condition = HeadersCondition
	case p.Expect.Status != 0:
		e.Status = p.Expect.Status
	default:
		e.Weights = append([]verify.Weight(nil), p.Expect.Weights...)
	}
	return e
}

// VersionLabel is the pod label whose values are the probe's versions: the
// classifier's pod label, or defaultVersionLabel when the classifier maps
// response values itself. It is the label to pass to mesh Shares.
func (p Probe) VersionLabel() string {
	if p.Classify.PodLabel != "" {
		return p.Classify.PodLabel
	}
	return defaultVersionLabel
}

// objectKey identifies an object on a cluster: API group, kind, namespace
// and name (not the API version: networking.istio.io/v1 and v1beta1 name
// the same stored object).
type objectKey struct {
	group, kind, namespace, name string
}

// StateAt returns the objects in effect after step (0-based) has run: every
// earlier Apply in order, where a later object of the same group, kind,
// namespace and name replaces the earlier one in place, minus the objects of
// every Delete. A negative step yields nothing; a step past the last yields
// the final state.
func (s *Scenario) StateAt(step int) []Object {
	if step >= len(s.Steps) {
		step = len(s.Steps) - 1
	}
	var state []Object
	index := map[objectKey]int{}
	for i := 0; i <= step; i++ {
		st := s.Steps[i]
		for _, m := range st.Apply {
			for _, o := range m.Objects {
				k := keyOf(o.Object)
				if at, ok := index[k]; ok {
					state[at] = o
					continue
				}
				index[k] = len(state)
				state = append(state, o)
			}
		}
		for _, m := range st.Delete {
			for _, o := range m.Objects {
				k := keyOf(o.Object)
				at, ok := index[k]
				if !ok {
					continue
				}
				state = append(state[:at], state[at+1:]...)
				delete(index, k)
				for key, j := range index {
					if j > at {
						index[key] = j - 1
					}
				}
			}
		}
	}
	return state
}
