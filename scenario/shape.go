package scenario

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// shapeChecker holds a YAML node tree against the Go type it decodes into
// (the typed structs of schema.go), before decoding: every mapping key must
// be a yaml tag of the struct, every value of the kind its field wants. It
// reports every mismatch (not only the first) with the file, line and
// field path, records the line of every field for the later checks, and
// marks the fields whose values are unusable so that those checks do not
// report them again as missing. The struct tags are the only list of the
// fields allowed, for both the decoder (KnownFields) and the messages.
type shapeChecker struct {
	file  string
	lines map[string]int  // field path -> line of its key (or list item)
	bad   map[string]bool // field paths whose value was reported
	ds    *diagnostics
	// aliased is set when the tree uses anchors or aliases, which are
	// rejected before the decoder could expand them.
	aliased bool
	// failed is set once anything is reported.
	failed bool
}

// drop reports a value that cannot be decoded and replaces it by null in
// the tree, so that the rest decodes.
func (c *shapeChecker) drop(n *yaml.Node, line int, field, format string, args ...any) {
	c.errorf(line, field, format, args...)
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

func (c *shapeChecker) errorf(line int, field, format string, args ...any) {
	c.bad[field] = true
	c.failed = true
	c.ds.add(Diagnostic{Severity: SeverityError, File: c.file, Line: max(line, 1), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// wantText names the scalar kinds of schema.go for messages.
var wantText = map[reflect.Kind]string{reflect.String: "a string", reflect.Int: "a whole number",
	reflect.Float64: "a number", reflect.Bool: "true or false"}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// check holds n, the value of field (whose key is on keyLine), against t.
func (c *shapeChecker) check(n *yaml.Node, t reflect.Type, field string, keyLine int) {
	if n == nil {
		return
	}
	// A mapping or list is reported at its key, where the reader sees it.
	at := n.Line
	if keyLine > 0 && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
		at = keyLine
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		c.aliased = true
		c.drop(n, at, field, "anchors and aliases (&x, *x) are not supported: write the value out")
		return
	}
	if n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
		c.drop(n, at, field, "custom tag %s is not supported: remove it", n.Tag)
		return
	}
	if isNull(n) {
		return // absent: the checks after decoding say whether it may be
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		c.checkPairs(n, t, field, at)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.check(n, t.Elem(), field, keyLine)
	case reflect.Struct:
		c.checkStruct(n, t, field, at)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.drop(n, at, field, "want a list, not %s", describe(n))
			return
		}
		for i, item := range n.Content {
			f := index(field, i)
			c.lines[f] = item.Line
			c.check(item, t.Elem(), f, item.Line)
		}
	default:
		c.checkScalar(n, t, field, at)
	}
}

// checkScalar holds a scalar against a string, whole-number, number or
// boolean field.
func (c *shapeChecker) checkScalar(n *yaml.Node, t reflect.Type, field string, at int) {
	want := wantText[t.Kind()]
	if want == "" { // a type schema.go does not use; TestShapeCoversSchema keeps it so
		c.drop(n, at, field, "meshcheck cannot read a %s field", t)
		return
	}
	if n.Kind != yaml.ScalarNode {
		c.drop(n, at, field, "want %s, not %s", want, describe(n))
		return
	}
	ok := true
	switch t.Kind() {
	case reflect.Int:
		_, err := strconv.ParseInt(n.Value, 0, 64)
		ok = n.Tag == "!!int" && err == nil
	case reflect.Float64:
		v, err := strconv.ParseFloat(n.Value, 64)
		ok = (n.Tag == "!!int" || n.Tag == "!!float") && err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
	case reflect.Bool:
		ok = n.Tag == "!!bool"
	}
	if !ok {
		c.drop(n, n.Line, field, "%q: want %s", n.Value, want)
	}
}

// yamlFields returns the yaml field names of struct t in declaration order
// (inlined structs in place) with the type of each.
func yamlFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			sub, subTypes := yamlFields(f.Type)
			names = append(names, sub...)
			for k, v := range subTypes {
				types[k] = v
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

// keys checks the keys of mapping n: plain strings, no merge keys, none
// given twice. It calls each for every usable pair.
func (c *shapeChecker) keys(n *yaml.Node, field string, each func(key, value *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.AliasNode || k.Anchor != "":
			c.aliased = true
			c.errorf(k.Line, field, "anchors and aliases (&x, *x) are not supported: write the value out")
			continue
		case k.Kind != yaml.ScalarNode || k.Tag == "!!null":
			c.errorf(k.Line, field, "want a plain key, not %s", describe(k))
			continue
		case k.Tag == "!!merge":
			c.errorf(k.Line, field, "merge keys (<<) are not supported: write the fields out")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.errorf(k.Line, join(field, k.Value), "given twice (first on line %d): give each field once", first)
			continue
		}
		seen[k.Value] = k.Line
		each(k, v)
	}
}

func (c *shapeChecker) checkStruct(n *yaml.Node, t reflect.Type, field string, at int) {
	if n.Kind != yaml.MappingNode {
		c.drop(n, at, field, "want a mapping of field: value pairs, not %s", describe(n))
		return
	}
	allowed, types := yamlFields(t)
	c.keys(n, field, func(k, v *yaml.Node) {
		f := join(field, k.Value)
		ft, ok := types[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown field %q; allowed here: %s", k.Value, strings.Join(allowed, ", "))
			if s := closest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
				// The field meant is not missing: it is misspelt.
				c.bad[join(field, s)] = true
			}
			c.errorf(k.Line, f, "%s", msg)
			return
		}
		c.lines[f] = k.Line
		c.check(v, ft, f, k.Line)
	})
}

// checkPairs holds a mapping of free keys (a pairs type) against the type
// of its values.
func (c *shapeChecker) checkPairs(n *yaml.Node, t reflect.Type, field string, at int) {
	if n.Kind != yaml.MappingNode {
		c.drop(n, at, field, "want a mapping of key: value pairs, not %s", describe(n))
		return
	}
	valueType := t.Elem().Field(pairValueField).Type
	c.keys(n, field, func(k, v *yaml.Node) {
		f := join(field, k.Value)
		c.lines[f] = k.Line
		if isNull(v) && v.Anchor == "" {
			c.drop(v, v.Line, f, "want %s, not %s", wantText[valueType.Kind()], describe(v))
			return
		}
		c.check(v, valueType, f, k.Line)
	})
}
