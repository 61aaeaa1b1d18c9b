package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

// methods are the HTTP methods a probe may send.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// maxMaxRequests bounds a probe's request budget.
const maxMaxRequests = 100_000_000

var (
	// dnsLabel is an RFC 1123 label: what names of scenarios, namespaces,
	// steps and probes may be.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// dnsName is a lower-case DNS name without a port.
	dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`)
	// labelKey is a Kubernetes label key: an optional DNS prefix and a name.
	labelKey = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	// headerName is an HTTP token (RFC 9110 section 5.6.2).
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

const dnsLabelRule = "want a DNS label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit"

// reflectFileDoc is the type scenario.yaml decodes into.
var reflectFileDoc = reflect.TypeFor[fileDoc]()

// fieldNames lists the yaml fields of struct t in documentation order.
func fieldNames(t reflect.Type) []string {
	names, _ := yamlFields(t)
	return names
}

// manifestRef is a manifest path as written, with where it was written.
type manifestRef struct {
	file  string
	field string
	line  int
}

// decoded is scenario.yaml read into a Scenario whose manifests are only
// named, plus where each was named.
type decoded struct {
	s      *Scenario
	apply  [][]manifestRef // per step
	delete [][]manifestRef // per step
}

// parse decodes scenario.yaml (its text is data; file names it in
// diagnostics) without reading manifests. It returns nil when the file
// has errors, all of them in ds.
func parse(file string, data []byte, ds *diagnostics) *decoded {
	fail := func(line int, msg string) *decoded {
		ds.add(Diagnostic{Severity: SeverityError, File: file, Line: line, Msg: msg})
		return nil
	}
	if line, msg := checkText(data); line > 0 {
		return fail(line, msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(1, "the file is empty: want a Scenario (apiVersion: "+scenarioAPIVersion+", kind: Scenario, metadata, spec)")
		}
		line, msg := yamlLine(err)
		return fail(line, "not valid YAML: "+msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fail(extra.Line, "a second YAML document: scenario.yaml holds one Scenario; put Kubernetes objects in manifest files")
	} else if !errors.Is(err, io.EOF) {
		line, msg := yamlLine(err)
		return fail(line, "not valid YAML: "+msg)
	}
	r := &reader{file: file, lines: map[string]int{"": 1}, bad: map[string]bool{}, ds: ds}
	shape := &shapeChecker{file: file, lines: r.lines, bad: r.bad, ds: ds}
	if len(doc.Content) == 0 {
		return fail(1, "the file is empty: want a Scenario (apiVersion: "+scenarioAPIVersion+", kind: Scenario, metadata, spec)")
	}
	root := doc.Content[0]
	shape.check(root, reflectFileDoc, "", 0)
	if shape.aliased {
		return nil // decoding would expand the aliases
	}
	var fd fileDoc
	if shape.failed {
		// The problems are reported and their values replaced by null:
		// decode the rest for the checks below, which find the other
		// mistakes. Unknown keys are left out by the decoder.
		_ = root.Decode(&fd)
	} else {
		strict := yaml.NewDecoder(bytes.NewReader(data))
		strict.KnownFields(true)
		if err := strict.Decode(&fd); err != nil {
			// shapeChecker holds the tree against the same types, so the
			// decoder should find nothing it did not; if it does, say so.
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				line, msg := yamlLine(err)
				return fail(line, "not valid YAML: "+msg)
			}
			for _, e := range te.Errors {
				line, msg := yamlLine(errors.New(e))
				ds.add(Diagnostic{Severity: SeverityError, File: file, Line: line, Msg: msg})
			}
			return nil
		}
	}
	d := r.scenario(&fd)
	if ds.failed() {
		return nil
	}
	d.s.File = file
	return d
}

// reader turns a decoded fileDoc into a Scenario, checking every value and
// reporting every problem at the line of its field.
type reader struct {
	file  string
	lines map[string]int  // field path -> line, from shapeChecker
	bad   map[string]bool // fields already reported by shapeChecker
	ds    *diagnostics
	// defaultsBad is set when spec.defaults has errors, which every
	// probe's settings would repeat.
	defaultsBad bool
}

// line returns the line of field, or of the nearest enclosing field read.
func (r *reader) line(field string) int {
	for f := field; ; {
		if l, ok := r.lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			return r.lines[""]
		}
		f = f[:i]
	}
}

// errorf reports a problem with field at its line.
func (r *reader) errorf(field, format string, args ...any) {
	r.errorAt(r.line(field), field, format, args...)
}

func (r *reader) errorAt(line int, field, format string, args ...any) {
	r.ds.add(Diagnostic{Severity: SeverityError, File: r.file, Line: max(line, 1), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// missing reports that field sub of parent is absent, at the line of
// parent, unless the value written there was reported already.
func (r *reader) missing(parent, sub, format string, args ...any) {
	f := join(parent, sub)
	if r.bad[f] || r.bad[parent] {
		return
	}
	r.errorAt(r.line(parent), f, format, args...)
}

// present reports whether field was written, even as an empty value.
func (r *reader) present(field string) bool {
	_, ok := r.lines[field]
	return ok
}

// badUnder reports whether shapeChecker reported a field at or under field.
func (r *reader) badUnder(field string) bool {
	for f := range r.bad {
		if f == field || strings.HasPrefix(f, field+".") || strings.HasPrefix(f, field+"[") {
			return true
		}
	}
	return false
}

// errors counts the errors so far, so that a check can tell whether the
// fields it builds on are sound.
func (r *reader) errors() int {
	n := 0
	for _, d := range r.ds.list {
		if d.Severity == SeverityError {
			n++
		}
	}
	return n
}

func (r *reader) scenario(fd *fileDoc) *decoded {
	s := &Scenario{lines: r.lines}
	d := &decoded{s: s}
	top := strings.Join(fieldNames(reflectFileDoc), ", ")
	if fd.APIVersion == nil {
		r.missing("", "apiVersion", "missing: a scenario file has fields %s", top)
	} else if *fd.APIVersion != scenarioAPIVersion {
		r.errorf("apiVersion", "%q: want %s", *fd.APIVersion, scenarioAPIVersion)
	}
	if fd.Kind == nil {
		r.missing("", "kind", "missing: a scenario file has fields %s", top)
	} else if *fd.Kind != scenarioKind {
		r.errorf("kind", "%q: want %s", *fd.Kind, scenarioKind)
	}
	if fd.Metadata == nil && r.present("metadata") {
		fd.Metadata = &metadataDoc{}
	}
	if fd.Spec == nil && r.present("spec") {
		fd.Spec = &specDoc{}
	}
	if fd.Metadata == nil {
		r.missing("", "metadata", "missing: a scenario file has fields %s", top)
	} else {
		s.Metadata = r.metadata(fd.Metadata)
	}
	if fd.Spec == nil {
		r.missing("", "spec", "missing: a scenario file has fields %s", top)
		return d
	}
	if fd.Spec.Backend != nil {
		s.Backend = r.backend(*fd.Spec.Backend)
	}
	s.Namespaces = r.namespaces(fd.Spec.Namespaces)
	s.Defaults = builtinSettings()
	if fd.Spec.Defaults != nil {
		before := r.errors()
		s.Defaults = r.settings(fd.Spec.Defaults, "spec.defaults", s.Defaults)
		r.defaultsBad = r.errors() > before
	}
	r.steps(fd.Spec.Steps, d)
	return d
}

func (r *reader) metadata(md *metadataDoc) Metadata {
	var out Metadata
	switch {
	case md.Name == nil:
		r.missing("metadata", "name", "missing: name the scenario with a DNS label such as echo")
	case !dnsLabel.MatchString(*md.Name):
		r.errorf("metadata.name", "%q: %s", *md.Name, dnsLabelRule)
	default:
		out.Name = *md.Name
	}
	switch {
	case md.Title == nil:
		r.missing("metadata", "title", "missing: say in one line what the scenario shows")
	case strings.TrimSpace(*md.Title) == "" || strings.ContainsAny(*md.Title, "\r\n"):
		r.errorf("metadata.title", "want one non-empty line")
	default:
		out.Title = *md.Title
	}
	if md.Source != nil {
		u, err := url.Parse(*md.Source)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.errorf("metadata.source", "%q: want the tutorial's http(s) URL", *md.Source)
		}
		out.Source = *md.Source
	}
	return out
}

// backend checks spec.backend: absent means plain Deployments.
func (r *reader) backend(v string) Backend {
	if slices.Contains(backends, Backend(v)) {
		return Backend(v)
	}
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = string(b)
	}
	r.errorf("spec.backend", "%q: want %s, or leave it out for plain Deployments", v, strings.Join(names, ", "))
	return BackendNone
}

func (r *reader) namespaces(list []namespaceDoc) []Namespace {
	var out []Namespace
	seen := map[string]int{}
	for i, nd := range list {
		field := index("spec.namespaces", i)
		var ns Namespace
		switch {
		case nd.Name == nil:
			r.missing(field, "name", "missing: give the namespace's name")
		case !dnsLabel.MatchString(*nd.Name):
			r.errorf(join(field, "name"), "%q: %s", *nd.Name, dnsLabelRule)
		default:
			ns.Name = *nd.Name
			if first, dup := seen[ns.Name]; dup {
				r.errorf(join(field, "name"), "namespace %s is listed twice (first on line %d): list it once", ns.Name, first)
			}
			seen[ns.Name] = r.line(join(field, "name"))
		}
		if nd.Injection != nil {
			ns.Injection = *nd.Injection
		}
		out = append(out, ns)
	}
	return out
}

// settings overrides base with the setting fields given in sd.
func (r *reader) settings(sd *settingsDoc, field string, base Settings) Settings {
	s := base
	if v := sd.Rate; v != nil {
		if *v < 1 || *v > maxRate {
			r.errorf(join(field, "rate"), "%d: want a whole number from 1 to %d", *v, maxRate)
		}
		s.Rate = *v
	}
	if v := sd.Tolerance; v != nil {
		if !(*v > 0 && *v < 1) {
			r.errorf(join(field, "tolerance"), "%v: want a number greater than 0 and less than 1 (0.05 = ±5 points, or 5%% of each weight when relative)", *v)
		}
		s.Tolerance = *v
	}
	if v := sd.Relative; v != nil {
		s.Relative = *v
	}
	if v := sd.Alpha; v != nil {
		if !(*v > 0 && *v < 0.5) {
			r.errorf(join(field, "alpha"), "%v: want a number greater than 0 and less than 0.5 (the chance of a wrong verdict, such as 0.001)", *v)
		}
		s.Alpha = *v
	}
	if v := sd.ErrorBudget; v != nil {
		if !(*v >= 0 && *v < 1) {
			r.errorf(join(field, "errorBudget"), "%v: want a share of requests from 0 up to but not including 1 (0.01 = 1%%)", *v)
		}
		s.ErrorBudget = *v
	}
	if v := sd.MaxRequests; v != nil {
		if *v < 1 || *v > maxMaxRequests {
			r.errorf(join(field, "maxRequests"), "%d: want a whole number from 1 to %d", *v, maxMaxRequests)
		}
		s.MaxRequests = *v
	}
	if v := sd.MaxDuration; v != nil {
		s.MaxDuration = r.duration(*v, join(field, "maxDuration"))
	}
	if v := sd.Settle; v != nil {
		s.Settle = r.duration(*v, join(field, "settle"))
	}
	return s
}

// duration reads a Go duration such as "120s" or "2m", above 0 and at most
// maxMaxDuration.
func (r *reader) duration(text, field string) time.Duration {
	d, err := time.ParseDuration(text)
	switch {
	case err != nil || (d == 0 && !strings.ContainsAny(text, "nsuµmh")):
		r.errorf(field, "%q: want a duration with a unit, such as 90s or 2m (units: ms, s, m, h)", text)
	case d <= 0 || d > maxMaxDuration:
		r.errorf(field, "%s: want a duration above 0 and at most %s", text, maxMaxDuration)
	}
	return d
}

func (r *reader) steps(list []stepDoc, d *decoded) {
	if list == nil {
		r.missing("spec", "steps", "missing: a scenario has at least one step")
		return
	}
	if len(list) == 0 {
		r.errorf("spec.steps", "empty: a scenario has at least one step")
		return
	}
	seen := map[string]int{}
	probes := 0
	for i, sd := range list {
		field := index("spec.steps", i)
		var st Step
		switch {
		case sd.Name == nil:
			r.missing(field, "name", "missing: name the step with a DNS label such as split-75-25")
		case !dnsLabel.MatchString(*sd.Name):
			r.errorf(join(field, "name"), "%q: %s", *sd.Name, dnsLabelRule)
		default:
			st.Name = *sd.Name
			if first, dup := seen[st.Name]; dup {
				r.errorf(join(field, "name"), "step %s is named twice (first on line %d): step names are unique in a scenario", st.Name, first)
			}
			seen[st.Name] = r.line(join(field, "name"))
		}
		apply := r.manifestRefs(sd.Apply, join(field, "apply"))
		del := r.manifestRefs(sd.Delete, join(field, "delete"))
		st.Probes = r.probes(sd.Probes, join(field, "probes"), d.s.Defaults)
		if len(sd.Apply) == 0 && len(sd.Delete) == 0 && len(sd.Probes) == 0 &&
			!r.bad[join(field, "apply")] && !r.bad[join(field, "delete")] && !r.bad[join(field, "probes")] {
			r.errorf(field, "step %s does nothing: give it apply, delete or probes", st.Name)
		}
		probes += len(sd.Probes)
		d.s.Steps = append(d.s.Steps, st)
		d.apply = append(d.apply, apply)
		d.delete = append(d.delete, del)
	}
	probesBad := false
	for i := range list {
		probesBad = probesBad || r.badUnder(join(index("spec.steps", i), "probes"))
	}
	if probes == 0 && !probesBad {
		r.errorf("spec.steps", "no step has probes: a scenario checks something with at least one probe")
	}
}

// manifestRefs reads a list of manifest paths. Each is a relative,
// slash-separated path inside the scenario folder, ending in .yaml or .yml,
// listed once per list.
func (r *reader) manifestRefs(list []string, field string) []manifestRef {
	var out []manifestRef
	seen := map[string]int{}
	for i, p := range list {
		f := index(field, i)
		line := r.line(f)
		switch {
		case p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || path.Clean(p) != p ||
			p == ".." || strings.HasPrefix(p, "../"):
			r.errorf(f, "%q: want a clean relative path inside the scenario folder, such as manifests/echo.yaml (no leading /, no .., no backslashes)", p)
			continue
		case path.Ext(p) != ".yaml" && path.Ext(p) != ".yml":
			r.errorf(f, "%q: want a .yaml or .yml manifest file", p)
			continue
		}
		if first, dup := seen[p]; dup {
			r.errorf(f, "%s is listed twice (first on line %d): list each file once", p, first)
			continue
		}
		seen[p] = line
		out = append(out, manifestRef{file: p, field: f, line: line})
	}
	return out
}

func (r *reader) probes(list []probeDoc, field string, defaults Settings) []Probe {
	var out []Probe
	seen := map[string]int{}
	for i := range list {
		f := index(field, i)
		p := r.probe(&list[i], f, defaults)
		if p.Name != "" {
			if first, dup := seen[p.Name]; dup {
				r.errorf(join(f, "name"), "probe %s is named twice in this step (first on line %d): probe names are unique within a step", p.Name, first)
			}
			seen[p.Name] = r.line(join(f, "name"))
		}
		out = append(out, p)
	}
	return out
}

func (r *reader) probe(pd *probeDoc, field string, defaults Settings) Probe {
	var p Probe
	before := r.errors()
	// An empty value is an empty mapping, whose fields are missing.
	empty := func(sub string) bool { f := join(field, sub); return r.present(f) && !r.bad[f] }
	if pd.Request == nil && empty("request") {
		pd.Request = &requestDoc{}
	}
	if pd.Classify == nil && empty("classify") {
		pd.Classify = &classifyDoc{}
	}
	if pd.Expect == nil && empty("expect") {
		pd.Expect = &expectDoc{}
	}
	const fields = "missing: a probe has fields name, from, request and expect (and classify unless it expects a status)"
	switch {
	case pd.Name == nil:
		r.missing(field, "name", fields)
	case !dnsLabel.MatchString(*pd.Name):
		r.errorf(join(field, "name"), "%q: %s", *pd.Name, dnsLabelRule)
	default:
		p.Name = *pd.Name
	}
	switch {
	case pd.From == nil:
		r.missing(field, "from", fields)
	case mesh.Vantage(*pd.From) == mesh.Ingress || mesh.Vantage(*pd.From) == mesh.Mesh:
		p.From = mesh.Vantage(*pd.From)
	default:
		r.errorf(join(field, "from"), "%q: want ingress (through the ingress gateway) or mesh (from a pod with a sidecar)", *pd.From)
	}
	if pd.ServiceAccount != nil {
		switch sa := *pd.ServiceAccount; {
		case p.From == mesh.Ingress:
			r.errorf(join(field, "serviceAccount"), "%q: only a probe from mesh runs as a ServiceAccount (an ingress probe's requests carry the ingress gateway's identity)", sa)
		case !dnsLabel.MatchString(sa):
			r.errorf(join(field, "serviceAccount"), "%q: %s", sa, dnsLabelRule)
		default:
			p.ServiceAccount = sa
		}
	}
	if pd.Request == nil {
		r.missing(field, "request", fields)
	} else if p.From != "" {
		p.Request = r.request(pd.Request, join(field, "request"), p.From)
	}
	if pd.Expect == nil {
		r.missing(field, "expect", fields)
	} else {
		p.Expect = r.expect(pd.Expect, join(field, "expect"))
	}
	expectsStatus := pd.Expect != nil && (pd.Expect.Status != nil || r.bad[join(field, "expect.status")] ||
		pd.Expect.Headers != nil || r.bad[join(field, "expect.headers")])
	if pd.Classify == nil {
		if !expectsStatus && !r.bad[join(field, "expect")] {
			r.missing(field, "classify", "missing: a probe that expects weights says how a response names its version, e.g. classify: {by: \"json:os.hostname\", podLabel: version}")
		}
	} else {
		p.Classify = r.classify(pd.Classify, join(field, "classify"))
	}
	p.Settings = r.settings(&pd.settingsDoc, field, defaults)
	if r.errors() == before && !r.defaultsBad && !r.badUnder(field) {
		r.crossCheckProbe(p, field)
	}
	return p
}

func (r *reader) request(rd *requestDoc, field string, from mesh.Vantage) Request {
	var q Request
	get := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	q.Host, q.Path, q.URL, q.Body = get(rd.Host), get(rd.Path), get(rd.URL), get(rd.Body)
	switch from {
	case mesh.Ingress:
		if rd.URL != nil {
			r.errorf(join(field, "url"), "an ingress probe gives host and path (the environment knows the ingress address); url is for probes from mesh")
		}
		switch h, _, hasPort := strings.Cut(q.Host, ":"); {
		case rd.Host == nil:
			r.missing(field, "host", "missing: an ingress probe sends a Host header that a Gateway server and VirtualService accept, e.g. host: echo.local")
		case hasPort:
			r.errorf(join(field, "host"), "%q: give the host without a port (%s): the environment picks the ingress port; "+mesh.HostPortRule, q.Host, h)
		case !dnsName.MatchString(q.Host) || len(q.Host) > 253:
			r.errorf(join(field, "host"), "%q: want a lower-case DNS name such as echo.local (no scheme, port, path or wildcard)", q.Host)
		}
		switch {
		case rd.Path == nil:
			r.missing(field, "path", "missing: an ingress probe gives the path to request, e.g. path: /echo")
		case !validPath(q.Path):
			r.errorf(join(field, "path"), "%q: want a path starting with / (a query is allowed, a fragment or spaces are not)", q.Path)
		}
	case mesh.Mesh:
		for name, v := range map[string]*string{"host": rd.Host, "path": rd.Path} {
			if v != nil {
				r.errorf(join(field, name), "a probe from mesh gives the whole url (http://host[:port]/path); %s is for ingress probes", name)
			}
		}
		if rd.URL == nil {
			r.missing(field, "url", "missing: a probe from mesh gives the URL a pod would call, e.g. url: http://echo-service.echo.svc.cluster.local/echo")
		} else if msg := checkMeshURL(q.URL); msg != "" {
			r.errorf(join(field, "url"), "%q: %s", q.URL, msg)
		}
	}
	q.Method = "GET"
	if rd.Method != nil {
		q.Method = *rd.Method
		if !slices.Contains(methods, q.Method) {
			r.errorf(join(field, "method"), "%q: want one of %s", q.Method, strings.Join(methods, ", "))
		}
	}
	if rd.Headers != nil {
		q.Headers = r.headers(*rd.Headers, join(field, "headers"))
	}
	return q
}

// validPath reports whether p is an origin-form request target: a path
// starting with '/' and an optional query, without a fragment or spaces.
func validPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "# \t\r\n") {
		return false
	}
	_, err := url.ParseRequestURI(p)
	return err == nil
}

// checkMeshURL returns what is wrong with a mesh probe's URL, or "".
func checkMeshURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL: want http://host[:port]/path"
	case u.Scheme != "http":
		return "want an http:// URL (the sidecar speaks mTLS to the destination itself; the pod sends plain HTTP)"
	case u.User != nil:
		return "user information is not supported in the URL"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "a fragment (#...) is never sent: remove it"
	case u.Host == "":
		return "no host: want http://host[:port]/path"
	case u.Path == "" || !strings.HasPrefix(u.Path, "/"):
		return "no path: want http://host[:port]/path (write / for the root)"
	}
	host := u.Hostname()
	if !dnsName.MatchString(host) || len(host) > 253 {
		return fmt.Sprintf("host %q: want a lower-case DNS name such as echo-service.echo.svc.cluster.local", host)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return fmt.Sprintf("port %q: want a port from 1 to 65535", p)
		}
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return "spaces are not allowed: percent-encode them"
	}
	return ""
}

// headers reads a mapping of header names to values, keyed by lower-case
// name.
func (r *reader) headers(list pairs[string], field string) map[string]string {
	out := map[string]string{}
	for _, e := range list {
		f := join(field, e.Key)
		if r.bad[f] {
			continue
		}
		name := strings.ToLower(e.Key)
		switch _, dup := out[name]; {
		case !headerName.MatchString(e.Key):
			r.errorf(f, "%q is not an HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~", e.Key)
		case name == "host":
			r.errorf(f, "set the Host with request.host (ingress) or in request.url (mesh), not as a header")
		case dup:
			r.errorf(f, "header %s is given twice (names ignore case): give it once", name)
		case strings.ContainsAny(e.Value, "\r\n\x00"):
			r.errorf(f, "a header value may not contain line breaks or NUL")
		default:
			out[name] = e.Value
		}
	}
	return out
}

func (r *reader) classify(cd *classifyDoc, field string) Classify {
	var c Classify
	if cd.By == nil {
		r.missing(field, "by", "missing: say where the version is read, one of %s", classifierForms)
	} else {
		c.By = *cd.By
		if msg := checkClassifier(c.By); msg != "" {
			r.errorf(join(field, "by"), "%q: %s", c.By, msg)
		}
	}
	if cd.PodLabel != nil && cd.Values != nil {
		r.errorf(join(field, "values"), "give podLabel (the value is a pod name; its label names the version) or values (a map from value to version), not both")
		return c
	}
	if cd.PodLabel != nil {
		c.PodLabel = *cd.PodLabel
		if !labelKey.MatchString(c.PodLabel) {
			r.errorf(join(field, "podLabel"), "%q: want a Kubernetes label key such as version or app.kubernetes.io/version", c.PodLabel)
		}
	}
	if cd.Values != nil {
		f := join(field, "values")
		if len(*cd.Values) == 0 && !r.bad[f] {
			r.errorf(f, "empty: map each response value to a version, e.g. {\"Hello V1\": v1}")
		}
		c.Values = map[string]string{}
		for _, e := range *cd.Values {
			if r.bad[join(f, e.Key)] {
				continue
			}
			if !verify.ValidVersionName(e.Value) {
				r.errorf(join(f, e.Key), "%q is not a version name: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", e.Value)
			}
			c.Values[e.Key] = e.Value
		}
	}
	return c
}

func (r *reader) expect(ed *expectDoc, field string) Expect {
	var x Expect
	var given []string
	for name, set := range map[string]bool{"weights": ed.Weights != nil, "status": ed.Status != nil, "fromConfig": ed.FromConfig != nil} {
		if set || r.bad[join(field, name)] {
			given = append(given, name)
		}
	}
	headers := ed.Headers != nil || r.bad[join(field, "headers")]
	switch {
	case headers && len(given) == 0:
		// Headers alone expect status 200 (defaultHeadersStatus).
	case headers && (ed.Weights != nil || ed.FromConfig != nil):
		f := join(field, "headers")
		r.errorAt(r.line(f), f, "headers go with a status (or alone, for status %d), not with weights or fromConfig: check headers in a probe of their own", defaultHeadersStatus)
		return x
	case len(given) != 1:
		// Point at the expect key, or at the last of the fields given.
		line := r.line(field)
		for _, f := range given {
			line = max(line, r.line(join(field, f)))
		}
		r.errorAt(line, field, "give exactly one of weights ({v1: 75, v2: 25}), status (403) or fromConfig (true), or headers; got %d", len(given))
		return x
	}
	if ed.Headers != nil {
		x.Headers = r.headerCheck(ed.Headers, join(field, "headers"))
	}
	switch {
	case ed.Weights != nil:
		f := join(field, "weights")
		if len(*ed.Weights) == 0 && !r.bad[f] {
			r.errorf(f, "empty: give each version's percent, e.g. {v1: 75, v2: 25}")
			return x
		}
		sum, ok := 0, true
		for _, e := range *ed.Weights {
			vf := join(f, e.Key)
			switch {
			case r.bad[vf]:
				ok = false
				continue
			case !verify.ValidVersionName(e.Key):
				r.errorf(vf, "%q is not a version name: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", e.Key)
				ok = false
			case e.Value < 0 || e.Value > 100:
				r.errorf(vf, "%d: want a whole number from 0 to 100", e.Value)
				ok = false
			}
			sum += e.Value
			x.Weights = append(x.Weights, verify.Weight{Version: e.Key, Percent: e.Value})
		}
		if ok && !r.badUnder(f) && sum != 100 {
			r.errorf(f, "weights sum to %d: they must sum to 100 (percent of responses per version)", sum)
		}
	case ed.Status != nil:
		x.Status = *ed.Status
		if x.Status < 100 || x.Status > 599 {
			r.errorf(join(field, "status"), "%d: want a whole number from 100 to 599", x.Status)
		}
	case ed.FromConfig != nil:
		x.FromConfig = *ed.FromConfig
		if !x.FromConfig {
			r.errorf(join(field, "fromConfig"), "false: write fromConfig: true to derive the weights from the Istio config, or give weights or status instead")
		}
	}
	return x
}

// headerCheck reads expect.headers: where the headers are read (in), the
// names that must be present and the RE2 expressions values must match.
func (r *reader) headerCheck(hd *headersDoc, field string) *loadgen.HeaderCheckSpec {
	spec := &loadgen.HeaderCheckSpec{}
	ok := true
	switch {
	case hd.In == nil:
		if !r.bad[join(field, "in")] {
			r.missing(field, "in", "missing: say where the headers are read: in: response (the response headers) or in: body:<json path> (request headers echoed in a JSON body, e.g. body:headers)")
		}
		ok = false
	default:
		spec.In = *hd.In
		if _, err := loadgen.NewHeaderCheck(loadgen.HeaderCheckSpec{In: spec.In, Present: []string{"x"}}); err != nil {
			r.errorf(join(field, "in"), "%v", err)
			ok = false
		}
	}
	seen := map[string]bool{}
	for i, n := range hd.Present {
		f := index(join(field, "present"), i)
		lower := strings.ToLower(n)
		switch {
		case !headerName.MatchString(n):
			r.errorf(f, "%q is not an HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~", n)
			ok = false
		case seen[lower]:
			r.errorf(f, "header %s is given twice (names ignore case): give it once", lower)
			ok = false
		}
		seen[lower] = true
		spec.Present = append(spec.Present, n)
	}
	if hd.Match != nil {
		spec.Match = map[string]string{}
		matched := map[string]bool{}
		for _, e := range *hd.Match {
			f := join(join(field, "match"), e.Key)
			if r.bad[f] {
				ok = false
				continue
			}
			lower := strings.ToLower(e.Key)
			switch {
			case !headerName.MatchString(e.Key):
				r.errorf(f, "%q is not an HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~", e.Key)
				ok = false
				continue
			case matched[lower]:
				r.errorf(f, "header %s is given twice (names ignore case): give it once", lower)
				ok = false
				continue
			}
			matched[lower] = true
			one := loadgen.HeaderCheckSpec{In: loadgen.HeadersInResponse, Match: map[string]string{e.Key: e.Value}}
			if _, err := loadgen.NewHeaderCheck(one); err != nil {
				r.errorf(f, "%v", err)
				ok = false
				continue
			}
			spec.Match[e.Key] = e.Value
		}
	}
	if len(hd.Present) == 0 && (hd.Match == nil || len(*hd.Match) == 0) && !r.badUnder(field) {
		r.errorf(field, "no conditions: give present (a list of header names) or match (header name: RE2 expression), or both")
		ok = false
	}
	if !ok {
		return nil
	}
	return spec
}

// crossCheckProbe checks what no single field shows: the expectation as
// verify sees it, and that every version expected to answer can be
// classified.
func (r *reader) crossCheckProbe(p Probe, field string) {
	placeholder := []verify.Weight{{Version: "v", Percent: 100}}
	if err := p.Expectation(placeholder).Validate(); err != nil {
		r.errorf(join(field, "expect"), "%v", err)
		return
	}
	if len(p.Classify.Values) == 0 || len(p.Expect.Weights) == 0 {
		return
	}
	known := map[string]bool{}
	for _, v := range p.Classify.Values {
		known[v] = true
	}
	for _, w := range p.Expect.Weights {
		if w.Percent > 0 && !known[w.Version] {
			versions := make([]string, 0, len(known))
			for v := range known {
				versions = append(versions, v)
			}
			slices.Sort(versions)
			r.errorf(join(join(field, "expect.weights"), w.Version),
				"version %s expects %d%% but classify.values maps no response to it (it maps to %s): the probe could never pass", w.Version, w.Percent, strings.Join(versions, ", "))
		}
	}
}
