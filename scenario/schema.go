package scenario

import "go.yaml.in/yaml/v3"

// The typed shape of scenario.yaml. Every mapping is a struct whose yaml
// tags are the only fields allowed there, in documentation order; optional
// scalars are pointers so that "absent" differs from "zero". The file is
// decoded into fileDoc with KnownFields(true) after shapeChecker has held
// its node tree against these types, and the checks of decode.go then turn
// a fileDoc into a Scenario.

type fileDoc struct {
	APIVersion *string      `yaml:"apiVersion"`
	Kind       *string      `yaml:"kind"`
	Metadata   *metadataDoc `yaml:"metadata"`
	Spec       *specDoc     `yaml:"spec"`
}

type metadataDoc struct {
	Name   *string `yaml:"name"`
	Title  *string `yaml:"title"`
	Source *string `yaml:"source"`
}

type specDoc struct {
	Backend    *string        `yaml:"backend"`
	Namespaces []namespaceDoc `yaml:"namespaces"`
	Defaults   *settingsDoc   `yaml:"defaults"`
	Steps      []stepDoc      `yaml:"steps"`
}

type namespaceDoc struct {
	Name      *string `yaml:"name"`
	Injection *bool   `yaml:"injection"`
}

type settingsDoc struct {
	Rate        *int     `yaml:"rate"`
	Tolerance   *float64 `yaml:"tolerance"`
	Relative    *bool    `yaml:"relative"`
	Alpha       *float64 `yaml:"alpha"`
	ErrorBudget *float64 `yaml:"errorBudget"`
	MaxRequests *int     `yaml:"maxRequests"`
	MaxDuration *string  `yaml:"maxDuration"`
	Settle      *string  `yaml:"settle"`
}

type stepDoc struct {
	Name   *string    `yaml:"name"`
	Apply  []string   `yaml:"apply"`
	Delete []string   `yaml:"delete"`
	Probes []probeDoc `yaml:"probes"`
}

type probeDoc struct {
	Name           *string      `yaml:"name"`
	From           *string      `yaml:"from"`
	ServiceAccount *string      `yaml:"serviceAccount"`
	Request        *requestDoc  `yaml:"request"`
	Classify       *classifyDoc `yaml:"classify"`
	Expect         *expectDoc   `yaml:"expect"`
	settingsDoc    `yaml:",inline"`
}

type requestDoc struct {
	Host    *string        `yaml:"host"`
	Path    *string        `yaml:"path"`
	URL     *string        `yaml:"url"`
	Method  *string        `yaml:"method"`
	Headers *pairs[string] `yaml:"headers"`
	Body    *string        `yaml:"body"`
}

type classifyDoc struct {
	By       *string        `yaml:"by"`
	PodLabel *string        `yaml:"podLabel"`
	Values   *pairs[string] `yaml:"values"`
}

type expectDoc struct {
	Weights    *pairs[int] `yaml:"weights"`
	Status     *int        `yaml:"status"`
	FromConfig *bool       `yaml:"fromConfig"`
	Headers    *headersDoc `yaml:"headers"`
}

type headersDoc struct {
	In      *string        `yaml:"in"`
	Present []string       `yaml:"present"`
	Match   *pairs[string] `yaml:"match"`
}

// pair is one entry of a mapping whose keys are data (versions, header
// names, response values), kept in file order.
type pair[V any] struct {
	Key   string
	Line  int
	Value V
}

// pairValueField is the index of pair's Value field, whose type
// shapeChecker holds the mapping's values against.
const pairValueField = 2

// pairs is a mapping with free keys, in file order.
type pairs[V any] []pair[V]

// UnmarshalYAML reads the entries of a mapping. Entries whose key or value
// does not fit are left out: shapeChecker has reported them.
func (p *pairs[V]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		var value V
		if err := v.Decode(&value); err != nil {
			continue
		}
		*p = append(*p, pair[V]{Key: k.Value, Line: k.Line, Value: value})
	}
	return nil
}
