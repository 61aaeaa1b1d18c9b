package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	kubescheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/meshcheck/meshcheck/backend/knative"
	"github.com/meshcheck/meshcheck/backend/openfaas"
)

// maxManifestBytes bounds a manifest file.
const maxManifestBytes = 4 << 20

// codec decodes manifest documents into typed objects: the Kubernetes
// built-in APIs of client-go plus Istio's networking (v1, v1beta1,
// v1alpha3) and security (v1, v1beta1) APIs, OpenFaaS's Function
// (openfaas.com/v1) and Knative's Service (serving.knative.dev/v1).
type codec struct {
	scheme     *runtime.Scheme
	serializer *kjson.Serializer
}

var theCodec = sync.OnceValues(func() (*codec, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		kubescheme.AddToScheme,
		networkingv1.AddToScheme, networkingv1beta1.AddToScheme, networkingv1alpha3.AddToScheme,
		securityv1.AddToScheme, securityv1beta1.AddToScheme,
		openfaas.AddToScheme, knative.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the manifest scheme: %w", err)
		}
	}
	ser := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true})
	return &codec{scheme: s, serializer: ser}, nil
})

// document is one YAML document of a manifest file.
type document struct {
	line int    // line of its first content line in the file
	raw  []byte // its text from that line on
}

// splitDocuments cuts a multi-document YAML file at separator lines ("---"
// alone or followed by a comment, as Kubernetes' YAML reader does) and drops
// documents holding only blank lines and comments.
func splitDocuments(data []byte) []document {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var docs []document
	start := 0
	flush := func(end int) {
		first := -1
		for i := start; i < end; i++ {
			t := bytes.TrimSpace(lines[i])
			if len(t) > 0 && t[0] != '#' {
				first = i
				break
			}
		}
		if first >= 0 {
			docs = append(docs, document{line: first + 1, raw: bytes.Join(lines[first:end], nil)})
		}
	}
	for i, l := range lines {
		if isSeparator(l) {
			flush(i)
			start = i + 1
		}
	}
	flush(len(lines))
	return docs
}

func isSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// decodeManifest decodes every document of a manifest file strictly. It
// returns the objects, or the problems of every document that does not
// decode.
func decodeManifest(file string, data []byte) ([]Object, []Diagnostic) {
	fail := func(line int, msg string) ([]Object, []Diagnostic) {
		return nil, []Diagnostic{{Severity: SeverityError, File: file, Line: line, Msg: msg}}
	}
	c, err := theCodec()
	if err != nil {
		return fail(0, err.Error())
	}
	if line, msg := checkText(data); line > 0 {
		return fail(line, msg)
	}
	docs := splitDocuments(data)
	if len(docs) == 0 {
		return fail(0, "no objects: a manifest holds Kubernetes or Istio objects, separated by ---")
	}
	var out []Object
	var problems []Diagnostic
	for _, d := range docs {
		obj, err := c.decodeDocument(file, d)
		if err != nil {
			problems = append(problems, *err)
			continue
		}
		out = append(out, Object{File: file, Line: d.line, Object: obj, Raw: d.raw})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// docError reports a problem at line (relative to the document) of d.
func docError(file string, d document, line int, field, format string, args ...any) *Diagnostic {
	if line < 1 {
		line = 1
	}
	return &Diagnostic{Severity: SeverityError, File: file, Line: d.line + line - 1, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (c *codec) decodeDocument(file string, d document) (runtime.Object, *Diagnostic) {
	var doc yaml.Node
	if err := yaml.Unmarshal(d.raw, &doc); err != nil {
		line, msg := yamlLine(err)
		return nil, docError(file, d, line, "", "not valid YAML: %s", msg)
	}
	if len(doc.Content) == 0 {
		return nil, docError(file, d, 1, "", "empty document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, docError(file, d, root.Line, "", "want an object (a mapping with apiVersion, kind, metadata), not %s", describe(root))
	}
	if f, first, second := duplicateKey(root, ""); f != "" {
		return nil, docError(file, d, second, f, "given twice (first on line %d): give each field once", d.line+first-1)
	}
	apiVersion, avLine := topString(root, "apiVersion")
	kind, kindLine := topString(root, "kind")
	if apiVersion == "" {
		return nil, docError(file, d, max(avLine, root.Line), "apiVersion", "missing or not a string: every object names its API, e.g. apiVersion: apps/v1")
	}
	if kind == "" {
		return nil, docError(file, d, max(kindLine, root.Line), "kind", "missing or not a string: every object names its kind, e.g. kind: Deployment")
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, docError(file, d, avLine, "apiVersion", "%q: want group/version such as apps/v1, or v1 for the core API", apiVersion)
	}
	gvk := gv.WithKind(kind)
	if msg := c.unknownKind(gvk); msg != "" {
		line, field := kindLine, "kind"
		if !c.scheme.IsVersionRegistered(gv) {
			line, field = avLine, "apiVersion"
		}
		return nil, docError(file, d, line, field, "%s", msg)
	}
	if strings.HasSuffix(kind, "List") {
		return nil, docError(file, d, kindLine, "kind", "%s: write each object as its own document, separated by ---", kind)
	}
	if strings.HasSuffix(gv.Group, ".istio.io") {
		if typed, err := c.scheme.New(gvk); err == nil {
			if md := specDescriptor(typed); md != nil {
				if spec := mapValue(root, "spec"); spec != nil {
					if e := checkProto(spec, md, "spec"); e != nil {
						return nil, docError(file, d, e.line, e.field, "%s", e.msg)
					}
				}
			}
		}
	}
	obj, _, err := c.serializer.Decode(d.raw, nil, nil)
	if err != nil {
		return nil, decodeError(file, d, root, gvk, err)
	}
	if fn, ok := obj.(*openfaas.Function); ok {
		if problem := validateFunction(file, d, root, fn); problem != nil {
			return nil, problem
		}
	}
	if ks, ok := obj.(*knative.Service); ok {
		if problem := validateKnativeService(file, d, root, ks); problem != nil {
			return nil, problem
		}
	}
	return obj, nil
}

// unknownKind says why gvk is not decodable, or "" when it is.
func (c *codec) unknownKind(gvk schema.GroupVersionKind) string {
	if c.scheme.Recognizes(gvk) {
		return ""
	}
	gv := gvk.GroupVersion()
	if c.scheme.IsVersionRegistered(gv) {
		var kinds []string
		for k := range c.scheme.KnownTypes(gv) {
			if !strings.HasSuffix(k, "List") && !strings.HasSuffix(k, "Options") && k != "WatchEvent" && k != "Status" {
				kinds = append(kinds, k)
			}
		}
		sort.Strings(kinds)
		msg := fmt.Sprintf("%q is not a kind of %s; its kinds are %s", gvk.Kind, gv, strings.Join(kinds, ", "))
		if s := closest(gvk.Kind, kinds); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return msg
	}
	var versions []string
	for _, v := range c.scheme.PrioritizedVersionsForGroup(gv.Group) {
		versions = append(versions, v.Version)
	}
	if len(versions) > 0 {
		sort.Strings(versions)
		return fmt.Sprintf("%q: meshcheck knows versions %s of %s", gv.String(), strings.Join(versions, ", "), groupName(gv.Group))
	}
	return fmt.Sprintf("%q is not an API meshcheck decodes: it knows the Kubernetes built-in APIs, networking.istio.io (v1, v1beta1, v1alpha3), security.istio.io (v1, v1beta1), openfaas.com (v1: Function) and serving.knative.dev (v1: Service)", gv.String())
}

func groupName(g string) string {
	if g == "" {
		return "the core API"
	}
	return g
}

// decodeError turns a serializer error into an *Diagnostic at the line of the
// field it names.
func decodeError(file string, d document, root *yaml.Node, gvk schema.GroupVersionKind, err error) *Diagnostic {
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		for _, fe := range se.Errors() {
			msg := fe.Error()
			kindOf, path, found := strings.Cut(msg, " field ")
			if !found {
				continue
			}
			path, _ = strconv.Unquote(path)
			if path == "" {
				continue
			}
			line := pathLine(root, path)
			if strings.HasPrefix(kindOf, "unknown") {
				return docError(file, d, line, path, "unknown field in a %s %s: check its spelling against the API reference (kubectl explain %s)", gvk.GroupVersion(), gvk.Kind, strings.ToLower(explainPath(gvk.Kind, path)))
			}
			return docError(file, d, line, path, "%s", msg)
		}
		return docError(file, d, root.Line, "", "%s", strings.TrimPrefix(err.Error(), "strict decoding error: "))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return docError(file, d, pathLine(root, te.Field), te.Field, "a %s %s wants %s here, not %s", gvk.GroupVersion(), gvk.Kind, goTypeName(te.Type), te.Value)
	}
	return docError(file, d, root.Line, "", "cannot decode %s %s: %v", gvk.GroupVersion(), gvk.Kind, err)
}

// explainPath turns spec.template.spec.containers[0].imagePullPolcy into
// deployment.spec.template.spec.containers (the part kubectl explain can
// describe: the unknown field's parent).
func explainPath(kind, path string) string {
	parent := path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent = path[:i]
	} else {
		parent = ""
	}
	var b strings.Builder
	b.WriteString(kind)
	for _, seg := range strings.Split(parent, ".") {
		if seg == "" {
			continue
		}
		if i := strings.Index(seg, "["); i >= 0 {
			seg = seg[:i]
		}
		b.WriteString(".")
		b.WriteString(seg)
	}
	return b.String()
}

// goTypeName describes a Go type for people writing YAML.
func goTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// topString returns the string value of key in mapping n and the key's
// line; the value is "" when absent or not a string scalar.
func topString(n *yaml.Node, key string) (string, int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
				return v.Value, n.Content[i].Line
			}
			return "", n.Content[i].Line
		}
	}
	return "", 0
}

// mapValue returns the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// duplicateKey finds a key given twice in one mapping anywhere under n and
// returns its field path and both lines. Aliases are not followed.
func duplicateKey(n *yaml.Node, field string) (string, int, int) {
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			f := join(field, k.Value)
			if first, dup := seen[k.Value]; dup && k.Kind == yaml.ScalarNode && k.Value != "<<" {
				return f, first, k.Line
			}
			seen[k.Value] = k.Line
			if p, a, b := duplicateKey(n.Content[i+1], f); p != "" {
				return p, a, b
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			if p, a, b := duplicateKey(item, index(field, i)); p != "" {
				return p, a, b
			}
		}
	}
	return "", 0, 0
}

// pathLine returns the line of the node a field path names
// ("spec.http[0].route[1].destination.subset"), or of the deepest node on
// the way that exists. Segments without an index that meet a list are
// looked up in each element (JSON type errors name paths without indexes).
func pathLine(root *yaml.Node, path string) int {
	line, _ := walkPath(root, splitPath(path), root.Line)
	return line
}

type pathSeg struct {
	key   string
	index int // -1 when the segment is a key
}

func splitPath(path string) []pathSeg {
	var segs []pathSeg
	for _, part := range strings.Split(path, ".") {
		key := part
		var idx []int
		if i := strings.Index(part, "["); i >= 0 {
			key = part[:i]
			for _, s := range strings.Split(part[i+1:], "[") {
				n, err := strconv.Atoi(strings.TrimSuffix(s, "]"))
				if err != nil {
					break
				}
				idx = append(idx, n)
			}
		}
		if key != "" {
			segs = append(segs, pathSeg{key: key, index: -1})
		}
		for _, n := range idx {
			segs = append(segs, pathSeg{index: n})
		}
	}
	return segs
}

// walkPath follows segs from n; it returns the line reached and whether the
// whole path was found.
func walkPath(n *yaml.Node, segs []pathSeg, line int) (int, bool) {
	if len(segs) == 0 {
		return line, true
	}
	if n == nil {
		return line, false
	}
	s := segs[0]
	switch n.Kind {
	case yaml.MappingNode:
		if s.index >= 0 {
			return line, false
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s.key {
				return walkPath(n.Content[i+1], segs[1:], n.Content[i].Line)
			}
		}
	case yaml.SequenceNode:
		if s.index >= 0 {
			if s.index < len(n.Content) {
				return walkPath(n.Content[s.index], segs[1:], n.Content[s.index].Line)
			}
			return line, false
		}
		best := line
		for _, item := range n.Content {
			l, ok := walkPath(item, segs, item.Line)
			if ok {
				return l, true
			}
			if best == line {
				best = l
			}
		}
		return best, false
	}
	return line, false
}

// specDescriptor returns the protobuf descriptor of an Istio object's spec,
// or nil when obj has no protobuf spec.
func specDescriptor(obj runtime.Object) protoreflect.MessageDescriptor {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("Spec")
	if !f.IsValid() || !f.CanAddr() {
		return nil
	}
	m, ok := f.Addr().Interface().(proto.Message)
	if !ok {
		return nil
	}
	return m.ProtoReflect().Descriptor()
}

// protoProblem is a field of an Istio spec that does not fit its schema.
type protoProblem struct {
	line  int
	field string
	msg   string
}

// checkProto checks a YAML node against an Istio spec's protobuf schema the
// way strict protobuf JSON decoding would (Istio's own decoder skips unknown
// fields): every key names a field (by JSON or proto name), enum values are
// known names, and lists, maps and messages have the right shape. Well-known
// protobuf types (Duration, Struct, wrappers) are not looked into.
func checkProto(n *yaml.Node, md protoreflect.MessageDescriptor, field string) *protoProblem {
	if n == nil || isNull(n) || n.Kind == yaml.AliasNode || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &protoProblem{n.Line, field, fmt.Sprintf("want a mapping (%s), not %s", md.Name(), describe(n))}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		fd := md.Fields().ByJSONName(k.Value)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k.Value))
		}
		f := join(field, k.Value)
		if fd == nil {
			allowed := protoFieldNames(md)
			msg := fmt.Sprintf("unknown field %q in %s; allowed here: %s", k.Value, md.Name(), strings.Join(allowed, ", "))
			if s := closest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return &protoProblem{k.Line, f, msg}
		}
		if p := checkProtoValue(v, fd, f, k.Line); p != nil {
			return p
		}
	}
	return nil
}

func checkProtoValue(v *yaml.Node, fd protoreflect.FieldDescriptor, field string, line int) *protoProblem {
	if isNull(v) || v.Kind == yaml.AliasNode {
		return nil
	}
	switch {
	case fd.IsMap():
		if v.Kind != yaml.MappingNode {
			return &protoProblem{line, field, fmt.Sprintf("want a mapping of keys to values, not %s", describe(v))}
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			if p := checkProtoSingle(v.Content[i+1], fd.MapValue(), join(field, v.Content[i].Value), v.Content[i].Line); p != nil {
				return p
			}
		}
		return nil
	case fd.IsList():
		if v.Kind != yaml.SequenceNode {
			return &protoProblem{line, field, fmt.Sprintf("want a list, not %s", describe(v))}
		}
		for i, item := range v.Content {
			if p := checkProtoSingle(item, fd, index(field, i), item.Line); p != nil {
				return p
			}
		}
		return nil
	}
	return checkProtoSingle(v, fd, field, line)
}

// checkProtoSingle checks one value (not a list or map) of field fd.
func checkProtoSingle(v *yaml.Node, fd protoreflect.FieldDescriptor, field string, line int) *protoProblem {
	if isNull(v) || v.Kind == yaml.AliasNode {
		return nil
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkProto(v, fd.Message(), field)
	case protoreflect.EnumKind:
		if v.Kind != yaml.ScalarNode {
			return &protoProblem{line, field, fmt.Sprintf("want one of %s, not %s", enumNames(fd.Enum()), describe(v))}
		}
		if fd.Enum().Values().ByName(protoreflect.Name(v.Value)) != nil {
			return nil
		}
		if n, err := strconv.Atoi(v.Value); err == nil && fd.Enum().Values().ByNumber(protoreflect.EnumNumber(n)) != nil {
			return nil
		}
		return &protoProblem{v.Line, field, fmt.Sprintf("%q: want one of %s", v.Value, enumNames(fd.Enum()))}
	case protoreflect.BoolKind:
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
			return &protoProblem{v.Line, field, fmt.Sprintf("want true or false, not %s", describe(v))}
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if v.Kind != yaml.ScalarNode {
			return &protoProblem{v.Line, field, fmt.Sprintf("want a string, not %s", describe(v))}
		}
	default: // numbers
		if v.Kind != yaml.ScalarNode {
			return &protoProblem{v.Line, field, fmt.Sprintf("want a number, not %s", describe(v))}
		}
		if _, err := strconv.ParseFloat(v.Value, 64); err != nil {
			return &protoProblem{v.Line, field, fmt.Sprintf("%q: want a number", v.Value)}
		}
	}
	return nil
}

func protoFieldNames(md protoreflect.MessageDescriptor) []string {
	fields := md.Fields()
	names := make([]string, 0, fields.Len())
	for i := 0; i < fields.Len(); i++ {
		names = append(names, fields.Get(i).JSONName())
	}
	return names
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	values := ed.Values()
	names := make([]string, 0, values.Len())
	for i := 0; i < values.Len(); i++ {
		names = append(names, string(values.Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

// keyOf identifies obj on a cluster by group, kind, namespace and name.
func keyOf(obj runtime.Object) objectKey {
	gvk := obj.GetObjectKind().GroupVersionKind()
	k := objectKey{group: gvk.Group, kind: gvk.Kind}
	if a, err := meta.Accessor(obj); err == nil {
		k.namespace, k.name = a.GetNamespace(), a.GetName()
	}
	return k
}
