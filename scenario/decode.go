package scenario

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

// Allowed fields of each mapping of scenario.yaml, in documentation order.
var (
	topFields       = []string{"apiVersion", "kind", "metadata", "spec"}
	metadataFields  = []string{"name", "title", "source"}
	specFields      = []string{"namespaces", "defaults", "steps"}
	namespaceFields = []string{"name", "injection"}
	settingFields   = []string{"rate", "tolerance", "relative", "alpha", "errorBudget", "maxRequests", "maxDuration", "settle"}
	stepFields      = []string{"name", "apply", "delete", "probes"}
	probeFields     = append([]string{"name", "from", "request", "classify", "expect"}, settingFields...)
	requestFields   = []string{"host", "path", "url", "method", "headers", "body"}
	classifyFields  = []string{"by", "podLabel", "values"}
	expectFields    = []string{"weights", "status", "fromConfig"}
	methods         = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

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

// manifestRef is a manifest path as written, with where it was written.
type manifestRef struct {
	file  string
	field string
	node  *yaml.Node
}

// decoded is scenario.yaml read into a Scenario whose manifests are only
// named, plus where each was named.
type decoded struct {
	s      *Scenario
	apply  [][]manifestRef // per step
	delete [][]manifestRef // per step
}

// decodeScenario reads the scenario file's node tree strictly.
func (r *nodeReader) decodeScenario(doc *yaml.Node) (*decoded, error) {
	root := doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, r.errorf(doc, "", "the file is empty: want a Scenario with fields %s", strings.Join(topFields, ", "))
		}
		root = doc.Content[0]
	}
	top, err := r.fields(root, "", topFields...)
	if err != nil {
		return nil, err
	}
	for _, f := range topFields {
		if top[f] == nil {
			return nil, r.missingf(root, "", f, "missing: a scenario file has fields %s", strings.Join(topFields, ", "))
		}
	}
	if v, err := r.str(top["apiVersion"], "apiVersion"); err != nil {
		return nil, err
	} else if v != APIVersion {
		return nil, r.errorf(top["apiVersion"], "apiVersion", "%q: want %s", v, APIVersion)
	}
	if v, err := r.str(top["kind"], "kind"); err != nil {
		return nil, err
	} else if v != Kind {
		return nil, r.errorf(top["kind"], "kind", "%q: want %s", v, Kind)
	}
	s := &Scenario{lines: r.lines}
	if s.Metadata, err = r.metadata(top["metadata"]); err != nil {
		return nil, err
	}
	spec, err := r.fields(top["spec"], "spec", specFields...)
	if err != nil {
		return nil, err
	}
	if s.Namespaces, err = r.namespaces(spec["namespaces"]); err != nil {
		return nil, err
	}
	s.Defaults = builtinSettings()
	if spec["defaults"] != nil {
		m, err := r.fields(spec["defaults"], "spec.defaults", settingFields...)
		if err != nil {
			return nil, err
		}
		if s.Defaults, err = r.settings(m, "spec.defaults", s.Defaults); err != nil {
			return nil, err
		}
	}
	d := &decoded{s: s}
	if err := r.steps(spec["steps"], top["spec"], d); err != nil {
		return nil, err
	}
	return d, nil
}

func (r *nodeReader) metadata(n *yaml.Node) (Metadata, error) {
	var md Metadata
	m, err := r.fields(n, "metadata", metadataFields...)
	if err != nil {
		return md, err
	}
	if m["name"] == nil {
		return md, r.missingf(n, "metadata", "name", "missing: name the scenario with a DNS label such as echo")
	}
	if md.Name, err = r.str(m["name"], "metadata.name"); err != nil {
		return md, err
	}
	if !dnsLabel.MatchString(md.Name) {
		return md, r.errorf(m["name"], "metadata.name", "%q: want a DNS label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit", md.Name)
	}
	if m["title"] == nil {
		return md, r.missingf(n, "metadata", "title", "missing: say in one line what the scenario shows")
	}
	if md.Title, err = r.str(m["title"], "metadata.title"); err != nil {
		return md, err
	}
	if strings.TrimSpace(md.Title) == "" || strings.ContainsAny(md.Title, "\r\n") {
		return md, r.errorf(m["title"], "metadata.title", "want one non-empty line")
	}
	if m["source"] != nil {
		if md.Source, err = r.str(m["source"], "metadata.source"); err != nil {
			return md, err
		}
		u, perr := url.Parse(md.Source)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return md, r.errorf(m["source"], "metadata.source", "%q: want the tutorial's http(s) URL", md.Source)
		}
	}
	return md, nil
}

func (r *nodeReader) namespaces(n *yaml.Node) ([]Namespace, error) {
	items, err := r.list(n, "spec.namespaces")
	if err != nil {
		return nil, err
	}
	var out []Namespace
	seen := map[string]int{}
	for i, item := range items {
		field := index("spec.namespaces", i)
		m, err := r.fields(item, field, namespaceFields...)
		if err != nil {
			return nil, err
		}
		if m["name"] == nil {
			return nil, r.missingf(item, field, "name", "missing: give the namespace's name")
		}
		var ns Namespace
		if ns.Name, err = r.str(m["name"], join(field, "name")); err != nil {
			return nil, err
		}
		if !dnsLabel.MatchString(ns.Name) {
			return nil, r.errorf(m["name"], join(field, "name"), "%q: want a DNS label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit", ns.Name)
		}
		if first, dup := seen[ns.Name]; dup {
			return nil, r.errorf(m["name"], join(field, "name"), "namespace %s is listed twice (first on line %d): list it once", ns.Name, first)
		}
		seen[ns.Name] = m["name"].Line
		if m["injection"] != nil {
			if ns.Injection, err = r.boolean(m["injection"], join(field, "injection")); err != nil {
				return nil, err
			}
		}
		out = append(out, ns)
	}
	return out, nil
}

// settings overrides base with the setting fields present in m.
func (r *nodeReader) settings(m map[string]*yaml.Node, field string, base Settings) (Settings, error) {
	s := base
	var err error
	if n := m["rate"]; n != nil {
		if s.Rate, err = r.integer(n, join(field, "rate"), 1, MaxRate); err != nil {
			return s, err
		}
	}
	if n := m["tolerance"]; n != nil {
		if s.Tolerance, err = r.number(n, join(field, "tolerance"), "greater than 0 and less than 1 (0.05 = ±5 points, or 5% of each weight when relative)"); err != nil {
			return s, err
		}
		if !(s.Tolerance > 0 && s.Tolerance < 1) {
			return s, r.errorf(n, join(field, "tolerance"), "%v: want a number greater than 0 and less than 1 (0.05 = ±5 points)", s.Tolerance)
		}
	}
	if n := m["relative"]; n != nil {
		if s.Relative, err = r.boolean(n, join(field, "relative")); err != nil {
			return s, err
		}
	}
	if n := m["alpha"]; n != nil {
		if s.Alpha, err = r.number(n, join(field, "alpha"), "greater than 0 and less than 0.5"); err != nil {
			return s, err
		}
		if !(s.Alpha > 0 && s.Alpha < 0.5) {
			return s, r.errorf(n, join(field, "alpha"), "%v: want a number greater than 0 and less than 0.5 (the chance of a wrong verdict, such as 0.001)", s.Alpha)
		}
	}
	if n := m["errorBudget"]; n != nil {
		if s.ErrorBudget, err = r.number(n, join(field, "errorBudget"), "from 0 up to but not including 1"); err != nil {
			return s, err
		}
		if !(s.ErrorBudget >= 0 && s.ErrorBudget < 1) {
			return s, r.errorf(n, join(field, "errorBudget"), "%v: want a share of requests from 0 up to but not including 1 (0.01 = 1%%)", s.ErrorBudget)
		}
	}
	if n := m["maxRequests"]; n != nil {
		if s.MaxRequests, err = r.integer(n, join(field, "maxRequests"), 1, maxMaxRequests); err != nil {
			return s, err
		}
	}
	if n := m["maxDuration"]; n != nil {
		if s.MaxDuration, err = r.duration(n, join(field, "maxDuration"), MaxMaxDuration); err != nil {
			return s, err
		}
	}
	if n := m["settle"]; n != nil {
		if s.Settle, err = r.duration(n, join(field, "settle"), MaxMaxDuration); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (r *nodeReader) steps(n, spec *yaml.Node, d *decoded) error {
	if n == nil {
		return r.missingf(spec, "spec", "steps", "missing: a scenario has at least one step")
	}
	items, err := r.list(n, "spec.steps")
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return r.errorf(n, "spec.steps", "empty: a scenario has at least one step")
	}
	seen := map[string]int{}
	probes := 0
	for i, item := range items {
		field := index("spec.steps", i)
		m, err := r.fields(item, field, stepFields...)
		if err != nil {
			return err
		}
		if m["name"] == nil {
			return r.missingf(item, field, "name", "missing: name the step with a DNS label such as split-75-25")
		}
		var st Step
		if st.Name, err = r.str(m["name"], join(field, "name")); err != nil {
			return err
		}
		if !dnsLabel.MatchString(st.Name) {
			return r.errorf(m["name"], join(field, "name"), "%q: want a DNS label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit", st.Name)
		}
		if first, dup := seen[st.Name]; dup {
			return r.errorf(m["name"], join(field, "name"), "step %s is named twice (first on line %d): step names are unique", st.Name, first)
		}
		seen[st.Name] = m["name"].Line
		apply, err := r.manifestRefs(m["apply"], join(field, "apply"))
		if err != nil {
			return err
		}
		del, err := r.manifestRefs(m["delete"], join(field, "delete"))
		if err != nil {
			return err
		}
		if st.Probes, err = r.probes(m["probes"], join(field, "probes"), d.s.Defaults); err != nil {
			return err
		}
		if len(apply) == 0 && len(del) == 0 && len(st.Probes) == 0 {
			return r.errorf(item, field, "step %s does nothing: give it apply, delete or probes", st.Name)
		}
		probes += len(st.Probes)
		d.s.Steps = append(d.s.Steps, st)
		d.apply = append(d.apply, apply)
		d.delete = append(d.delete, del)
	}
	if probes == 0 {
		return r.errorf(n, "spec.steps", "no step has probes: a scenario checks something with at least one probe")
	}
	return nil
}

// manifestRefs reads a list of manifest paths. Each is a relative,
// slash-separated path inside the scenario folder, ending in .yaml or .yml,
// listed once per list.
func (r *nodeReader) manifestRefs(n *yaml.Node, field string) ([]manifestRef, error) {
	items, err := r.list(n, field)
	if err != nil {
		return nil, err
	}
	var out []manifestRef
	seen := map[string]int{}
	for i, item := range items {
		f := index(field, i)
		p, err := r.str(item, f)
		if err != nil {
			return nil, err
		}
		if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || path.Clean(p) != p ||
			p == ".." || strings.HasPrefix(p, "../") {
			return nil, r.errorf(item, f, "%q: want a clean relative path inside the scenario folder, such as manifests/echo.yaml (no leading /, no .., no backslashes)", p)
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil, r.errorf(item, f, "%q: want a .yaml or .yml manifest file", p)
		}
		if first, dup := seen[p]; dup {
			return nil, r.errorf(item, f, "%s is listed twice (first on line %d): list each file once", p, first)
		}
		seen[p] = item.Line
		out = append(out, manifestRef{file: p, field: f, node: item})
	}
	return out, nil
}

func (r *nodeReader) probes(n *yaml.Node, field string, defaults Settings) ([]Probe, error) {
	items, err := r.list(n, field)
	if err != nil {
		return nil, err
	}
	var out []Probe
	seen := map[string]int{}
	for i, item := range items {
		f := index(field, i)
		p, err := r.probe(item, f, defaults)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[p.Name]; dup {
			return nil, r.errorf(item, join(f, "name"), "probe %s is named twice in this step (first on line %d): probe names are unique within a step", p.Name, first)
		}
		seen[p.Name] = r.lines[join(f, "name")]
		out = append(out, p)
	}
	return out, nil
}

func (r *nodeReader) probe(n *yaml.Node, field string, defaults Settings) (Probe, error) {
	var p Probe
	m, err := r.fields(n, field, probeFields...)
	if err != nil {
		return p, err
	}
	for _, f := range []string{"name", "from", "request", "expect"} {
		if m[f] == nil {
			return p, r.missingf(n, field, f, "missing: a probe has fields name, from, request and expect (and classify unless it expects a status)")
		}
	}
	if p.Name, err = r.str(m["name"], join(field, "name")); err != nil {
		return p, err
	}
	if !dnsLabel.MatchString(p.Name) {
		return p, r.errorf(m["name"], join(field, "name"), "%q: want a DNS label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit", p.Name)
	}
	from, err := r.str(m["from"], join(field, "from"))
	if err != nil {
		return p, err
	}
	switch mesh.Vantage(from) {
	case mesh.Ingress, mesh.Mesh:
		p.From = mesh.Vantage(from)
	default:
		return p, r.errorf(m["from"], join(field, "from"), "%q: want ingress (through the ingress gateway) or mesh (from a pod with a sidecar)", from)
	}
	if p.Request, err = r.request(m["request"], join(field, "request"), p.From); err != nil {
		return p, err
	}
	if p.Expect, err = r.expect(m["expect"], join(field, "expect")); err != nil {
		return p, err
	}
	if m["classify"] == nil {
		if p.Expect.Status == 0 {
			return p, r.missingf(n, field, "classify", "missing: a probe that expects weights says how a response names its version, e.g. classify: {by: \"json:os.hostname\", podLabel: version}")
		}
	} else if p.Classify, err = r.classify(m["classify"], join(field, "classify")); err != nil {
		return p, err
	}
	if p.Settings, err = r.settings(m, field, defaults); err != nil {
		return p, err
	}
	if err := r.crossCheckProbe(p, m, field); err != nil {
		return p, err
	}
	return p, nil
}

func (r *nodeReader) request(n *yaml.Node, field string, from mesh.Vantage) (Request, error) {
	var q Request
	m, err := r.fields(n, field, requestFields...)
	if err != nil {
		return q, err
	}
	read := func(name string) (string, error) {
		if m[name] == nil {
			return "", nil
		}
		return r.str(m[name], join(field, name))
	}
	if q.Host, err = read("host"); err != nil {
		return q, err
	}
	if q.Path, err = read("path"); err != nil {
		return q, err
	}
	if q.URL, err = read("url"); err != nil {
		return q, err
	}
	if q.Body, err = read("body"); err != nil {
		return q, err
	}
	switch from {
	case mesh.Ingress:
		if m["url"] != nil {
			return q, r.errorf(m["url"], join(field, "url"), "an ingress probe gives host and path (the environment knows the ingress address); url is for probes from mesh")
		}
		if m["host"] == nil {
			return q, r.missingf(n, field, "host", "missing: an ingress probe sends a Host header that a Gateway server and VirtualService accept, e.g. host: echo.local")
		}
		if h, _, hasPort := strings.Cut(q.Host, ":"); hasPort {
			return q, r.errorf(m["host"], join(field, "host"), "%q: give the host without a port (%s): the environment picks the ingress port; "+mesh.HostPortRule, q.Host, h)
		}
		if !dnsName.MatchString(q.Host) || len(q.Host) > 253 {
			return q, r.errorf(m["host"], join(field, "host"), "%q: want a lower-case DNS name such as echo.local (no scheme, port, path or wildcard)", q.Host)
		}
		if m["path"] == nil {
			return q, r.missingf(n, field, "path", "missing: an ingress probe gives the path to request, e.g. path: /echo")
		}
		if !validPath(q.Path) {
			return q, r.errorf(m["path"], join(field, "path"), "%q: want a path starting with / (a query is allowed, a fragment or spaces are not)", q.Path)
		}
	case mesh.Mesh:
		for _, name := range []string{"host", "path"} {
			if m[name] != nil {
				return q, r.errorf(m[name], join(field, name), "a probe from mesh gives the whole url (http://host[:port]/path); %s is for ingress probes", name)
			}
		}
		if m["url"] == nil {
			return q, r.missingf(n, field, "url", "missing: a probe from mesh gives the URL a pod would call, e.g. url: http://echo-service.echo.svc.cluster.local/echo")
		}
		if msg := checkMeshURL(q.URL); msg != "" {
			return q, r.errorf(m["url"], join(field, "url"), "%q: %s", q.URL, msg)
		}
	}
	q.Method = "GET"
	if m["method"] != nil {
		if q.Method, err = r.str(m["method"], join(field, "method")); err != nil {
			return q, err
		}
		if !contains(methods, q.Method) {
			return q, r.errorf(m["method"], join(field, "method"), "%q: want one of %s", q.Method, strings.Join(methods, ", "))
		}
	}
	if m["headers"] != nil {
		if q.Headers, err = r.headers(m["headers"], join(field, "headers")); err != nil {
			return q, err
		}
	}
	return q, nil
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
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
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
func (r *nodeReader) headers(n *yaml.Node, field string) (map[string]string, error) {
	entries, err := r.entries(n, field)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		f := join(field, e.key)
		if !headerName.MatchString(e.key) {
			return nil, r.errorf(e.keyN, f, "%q is not an HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~", e.key)
		}
		name := strings.ToLower(e.key)
		if name == "host" {
			return nil, r.errorf(e.keyN, f, "set the Host with request.host (ingress) or in request.url (mesh), not as a header")
		}
		if _, dup := out[name]; dup {
			return nil, r.errorf(e.keyN, f, "header %s is given twice (names ignore case): give it once", name)
		}
		v, err := r.str(e.value, f)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, r.errorf(e.value, f, "a header value may not contain line breaks or NUL")
		}
		out[name] = v
		r.lines[f] = e.keyN.Line
	}
	return out, nil
}

func (r *nodeReader) classify(n *yaml.Node, field string) (Classify, error) {
	var c Classify
	m, err := r.fields(n, field, classifyFields...)
	if err != nil {
		return c, err
	}
	if m["by"] == nil {
		return c, r.missingf(n, field, "by", "missing: say where the version is read, one of %s", classifierForms)
	}
	if c.By, err = r.str(m["by"], join(field, "by")); err != nil {
		return c, err
	}
	if msg := checkClassifier(c.By); msg != "" {
		return c, r.errorf(m["by"], join(field, "by"), "%q: %s", c.By, msg)
	}
	if m["podLabel"] != nil && m["values"] != nil {
		return c, r.errorf(m["values"], join(field, "values"), "give podLabel (the value is a pod name; its label names the version) or values (a map from value to version), not both")
	}
	if m["podLabel"] != nil {
		if c.PodLabel, err = r.str(m["podLabel"], join(field, "podLabel")); err != nil {
			return c, err
		}
		if !labelKey.MatchString(c.PodLabel) {
			return c, r.errorf(m["podLabel"], join(field, "podLabel"), "%q: want a Kubernetes label key such as version or app.kubernetes.io/version", c.PodLabel)
		}
	}
	if m["values"] != nil {
		entries, err := r.entries(m["values"], join(field, "values"))
		if err != nil {
			return c, err
		}
		if len(entries) == 0 {
			return c, r.errorf(m["values"], join(field, "values"), "empty: map each response value to a version, e.g. {\"Hello V1\": v1}")
		}
		c.Values = map[string]string{}
		for _, e := range entries {
			f := join(join(field, "values"), e.key)
			v, err := r.str(e.value, f)
			if err != nil {
				return c, err
			}
			if !verify.ValidVersionName(v) {
				return c, r.errorf(e.value, f, "%q is not a version name: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", v)
			}
			c.Values[e.key] = v
			r.lines[f] = e.keyN.Line
		}
	}
	return c, nil
}

func (r *nodeReader) expect(n *yaml.Node, field string) (Expect, error) {
	var x Expect
	m, err := r.fields(n, field, expectFields...)
	if err != nil {
		return x, err
	}
	var given []string
	for _, f := range expectFields {
		if m[f] != nil {
			given = append(given, f)
		}
	}
	if len(given) != 1 {
		// Point at the expect key, or at the last of the fields given.
		e := r.missingf(n, field, "", "give exactly one of weights ({v1: 75, v2: 25}), status (403) or fromConfig (true); got %d", len(given))
		e.Field = field
		for _, f := range given {
			e.Line = max(e.Line, r.lines[join(field, f)])
		}
		return x, e
	}
	switch given[0] {
	case "weights":
		f := join(field, "weights")
		entries, err := r.entries(m["weights"], f)
		if err != nil {
			return x, err
		}
		if len(entries) == 0 {
			return x, r.errorf(m["weights"], f, "empty: give each version's percent, e.g. {v1: 75, v2: 25}")
		}
		sum := 0
		for _, e := range entries {
			vf := join(f, e.key)
			if !verify.ValidVersionName(e.key) {
				return x, r.errorf(e.keyN, vf, "%q is not a version name: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", e.key)
			}
			pct, err := r.integer(e.value, vf, 0, 100)
			if err != nil {
				return x, err
			}
			r.lines[vf] = e.keyN.Line
			sum += pct
			x.Weights = append(x.Weights, verify.Weight{Version: e.key, Percent: pct})
		}
		if sum != 100 {
			return x, r.errorf(m["weights"], f, "weights sum to %d: they must sum to 100 (percent of responses per version)", sum)
		}
	case "status":
		if x.Status, err = r.integer(m["status"], join(field, "status"), 100, 599); err != nil {
			return x, err
		}
	case "fromConfig":
		if x.FromConfig, err = r.boolean(m["fromConfig"], join(field, "fromConfig")); err != nil {
			return x, err
		}
		if !x.FromConfig {
			return x, r.errorf(m["fromConfig"], join(field, "fromConfig"), "false: write fromConfig: true to derive the weights from the Istio config, or give weights or status instead")
		}
	}
	return x, nil
}

// crossCheckProbe checks what no single field shows: the expectation as
// verify sees it, and that every version expected to answer can be
// classified.
func (r *nodeReader) crossCheckProbe(p Probe, m map[string]*yaml.Node, field string) error {
	placeholder := []verify.Weight{{Version: "v", Percent: 100}}
	if err := p.Expectation(placeholder).Validate(); err != nil {
		return r.errorf(m["expect"], join(field, "expect"), "%v", err)
	}
	if len(p.Classify.Values) == 0 || len(p.Expect.Weights) == 0 {
		return nil
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
			sort.Strings(versions)
			f := join(join(field, "expect.weights"), w.Version)
			return &Error{File: r.file, Line: r.lines[f], Field: f,
				Msg: fmt.Sprintf("version %s expects %d%% but classify.values maps no response to it (it maps to %s): the probe could never pass", w.Version, w.Percent, strings.Join(versions, ", "))}
		}
	}
	return nil
}
