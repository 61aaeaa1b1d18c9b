// Package fields holds what a function backend's Validate reports: the
// problems of one object, each at the field path it is at, so that package
// scenario can point at the line of that field.
package fields

import (
	"fmt"
	"strings"
)

// Error is one problem of an object: the field path it is at (as written
// in YAML, "spec.template.spec.containers[0].image") and what is wrong.
type Error struct {
	Field string
	Msg   string
}

func (e Error) Error() string { return e.Field + ": " + e.Msg }

// List is the problems of one object, in field order.
type List []Error

// Err is nil when there are no problems, else an error "invalid <what>: "
// listing them; what names the object's kind ("openfaas.com/v1 Function").
func (l List) Err(what string) error {
	if len(l) == 0 {
		return nil
	}
	return fmt.Errorf("invalid %s: %s", what, l.join(l))
}

// First returns the field of the first problem and a message that is its
// own followed by the others ("; also <field>: <msg>; ..."): what a
// diagnostic at the first problem's line says.
func (l List) First() (field, msg string) {
	if len(l) == 0 {
		return "", ""
	}
	msg = l[0].Msg
	if len(l) > 1 {
		msg += "; also " + l.join(l[1:])
	}
	return l[0].Field, msg
}

func (List) join(es []Error) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}
