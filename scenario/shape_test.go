package scenario

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every field of schema.go is of a kind shapeChecker knows, so it never
// reports "meshcheck cannot read" on a scenario.
func TestShapeCoversSchema(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string) []string
	walk = func(typ reflect.Type, path string) []string {
		if reflect.PointerTo(typ).Implements(unmarshalerType) {
			return walk(typ.Elem().Field(pairValueField).Type, path+".<key>")
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice:
			return walk(typ.Elem(), path)
		case reflect.Struct:
			if seen[typ] {
				return nil
			}
			seen[typ] = true
			names, types := yamlFields(typ)
			var bad []string
			for _, n := range names {
				bad = append(bad, walk(types[n], join(path, n))...)
			}
			return bad
		}
		if wantText[typ.Kind()] == "" {
			return []string{path + " (" + typ.String() + ")"}
		}
		return nil
	}
	if bad := walk(reflectFileDoc, ""); len(bad) > 0 {
		t.Errorf("fields shapeChecker cannot read: %s", strings.Join(bad, ", "))
	}
	if got := strings.Join(fieldNames(reflect.TypeFor[probeDoc]()), ","); got != "name,from,serviceAccount,request,classify,expect,rate,tolerance,relative,alpha,errorBudget,maxRequests,maxDuration,settle" {
		t.Errorf("probe fields %s: want the inlined settings after expect", got)
	}
}

// The shape check reports each misfit once, at its line, and clears it
// from the tree so that the rest decodes.
func TestShapeChecker(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // "line field: msg"
	}{
		{"unknown and misspelt", "apiVersion: a\nkinds: b\nextra: 1\n",
			[]string{`2 kinds: unknown field "kinds"; allowed here: apiVersion, kind, metadata, spec (did you mean "kind"?)`,
				`3 extra: unknown field "extra"; allowed here: apiVersion, kind, metadata, spec`}},
		{"wrong kinds", "metadata: [a]\nspec:\n  steps: {a: 1}\n  defaults: {rate: fast, relative: yes, tolerance: .inf}\n",
			[]string{"1 metadata: want a mapping of field: value pairs, not a list",
				"3 spec.steps: want a list, not a mapping",
				`4 spec.defaults.rate: "fast": want a whole number`,
				`4 spec.defaults.relative: "yes": want true or false`,
				`4 spec.defaults.tolerance: ".inf": want a number`}},
		{"pairs", "spec:\n  steps:\n    - probes:\n        - expect:\n            weights: {v1: 50, v1: 50, v2: , v3: [1]}\n",
			[]string{"5 spec.steps[0].probes[0].expect.weights.v1: given twice (first on line 5): give each field once",
				"5 spec.steps[0].probes[0].expect.weights.v2: want a whole number, not an empty value",
				"5 spec.steps[0].probes[0].expect.weights.v3: want a whole number, not a list"}},
		{"anchors, tags, merge keys", "metadata: &m {name: a}\nkind: !x y\nspec:\n  <<: {steps: []}\n",
			[]string{"1 metadata: anchors and aliases (&x, *x) are not supported: write the value out",
				"2 kind: custom tag !x is not supported: remove it",
				"4 spec: merge keys (<<) are not supported: write the fields out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
				t.Fatal(err)
			}
			ds := &diagnostics{}
			c := &shapeChecker{file: "f", lines: map[string]int{}, bad: map[string]bool{}, ds: ds}
			c.check(doc.Content[0], reflectFileDoc, "", 0)
			var got []string
			for _, d := range ds.list {
				got = append(got, strings.TrimPrefix(d.String(), "f:"))
			}
			for i := range tc.want {
				tc.want[i] = strings.Replace(tc.want[i], " ", ": ", 1)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !c.aliased {
				var fd fileDoc
				if err := doc.Content[0].Decode(&fd); err != nil && !strings.Contains(err.Error(), "already defined") {
					t.Errorf("the cleared tree does not decode: %v", err)
				}
			}
		})
	}
}
