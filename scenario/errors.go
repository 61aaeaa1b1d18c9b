package scenario

import (
	"strconv"
	"strings"
)

// Error is a problem that stops a scenario from loading: where it is (file,
// line, field) and what is wrong, including what is allowed.
type Error struct {
	// File is the path of scenario.yaml or of a manifest.
	File string
	// Line is the 1-based line in File; 0 when the problem is the file as a
	// whole.
	Line int
	// Field is the path of the field at fault
	// ("spec.steps[0].probes[1].expect.weights"), or "" when none applies.
	Field string
	// Msg says what is wrong and what is allowed.
	Msg string
}

// Error formats e as "file:line: field: msg", leaving out the line when it
// is 0 and the field when it is empty.
func (e *Error) Error() string { return format(e.File, e.Line, e.Field, e.Msg) }

// Warning is a problem that does not stop a run but likely makes it fail or
// show something other than intended, with the reason.
type Warning struct {
	// File is the path of scenario.yaml or of a manifest.
	File string
	// Line is the 1-based line in File, or 0.
	Line int
	// Field is the path of the field concerned, or "".
	Field string
	// Msg says what is suspicious and why.
	Msg string
}

// String formats w as "file:line: field: msg", like Error.
func (w Warning) String() string { return format(w.File, w.Line, w.Field, w.Msg) }

func format(file string, line int, field, msg string) string {
	var b strings.Builder
	b.WriteString(file)
	if line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(line))
	}
	b.WriteString(": ")
	if field != "" {
		b.WriteString(field)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return b.String()
}
