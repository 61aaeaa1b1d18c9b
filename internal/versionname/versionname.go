// Package versionname holds the one rule for what may name a version, shared
// by the load generator (which classifies responses into versions) and the
// verdict engine (which is told the expected ones).
package versionname

import "regexp"

// Rule says in words what Valid accepts, for error messages.
const Rule = "a version is 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"

// name is a Kubernetes label value that is not empty.
var name = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// Valid reports whether s may name a version: a non-empty Kubernetes label
// value (up to 63 characters of letters, digits, '-', '_' and '.', starting
// and ending with a letter or digit).
func Valid(s string) bool { return name.MatchString(s) }
