package cliflag

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
)

// Headers collects repeated "Name: value" request headers.
type Headers struct{ P *http.Header }

// String writes the headers as "Name: value" pairs.
func (v Headers) String() string {
	if v.P == nil || *v.P == nil {
		return ""
	}
	var parts []string
	for name, values := range *v.P {
		for _, val := range values {
			parts = append(parts, name+": "+val)
		}
	}
	return strings.Join(parts, ", ")
}

// Type names the value in help.
func (v Headers) Type() string { return "header" }

// Set adds one "Name: value" header.
func (v Headers) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New(`write "Name: value"`)
	}
	if *v.P == nil {
		*v.P = http.Header{}
	}
	v.P.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// Classifier is a classifier spec (loadgen.ParseClassifier).
type Classifier struct{ P *loadgen.Classifier }

// String writes the spec.
func (v Classifier) String() string {
	if v.P == nil {
		return ""
	}
	return v.P.String()
}

// Type names the value in help.
func (v Classifier) Type() string { return "spec" }

// Set parses a classifier spec.
func (v Classifier) Set(s string) error {
	c, err := loadgen.ParseClassifier(s)
	if err != nil {
		return err
	}
	*v.P = c
	return nil
}

// VersionMap is the path of a version map file, read as the flag is parsed
// (loadgen.LoadVersionMap).
type VersionMap struct {
	P    *loadgen.VersionMap
	path string
}

// String writes the file's path.
func (v *VersionMap) String() string { return v.path }

// Type names the value in help.
func (v *VersionMap) Type() string { return "file" }

// Set reads the version map file at s.
func (v *VersionMap) Set(s string) error {
	m, err := loadgen.LoadVersionMap(s)
	if err != nil {
		return err
	}
	*v.P, v.path = m, s
	return nil
}

// Proxy is the URL of an HTTP forward proxy (loadgen.ParseVia).
type Proxy struct{ P **url.URL }

// String writes the URL.
func (v Proxy) String() string {
	if v.P == nil || *v.P == nil {
		return ""
	}
	return (*v.P).String()
}

// Type names the value in help.
func (v Proxy) Type() string { return "url" }

// Set parses a proxy URL.
func (v Proxy) Set(s string) error {
	u, err := loadgen.ParseVia(s)
	if err != nil {
		return err
	}
	*v.P = u
	return nil
}

// Duration is a Go duration of at least Min (Min 0: any non-negative one);
// Allowed says so in words.
type Duration struct {
	P       *time.Duration
	Min     time.Duration
	Allowed string
}

// String writes the duration.
func (v Duration) String() string {
	if v.P == nil {
		return "0s"
	}
	return v.P.String()
}

// Type names the value in help.
func (v Duration) Type() string { return "duration" }

// Set parses a duration within the bound.
func (v Duration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < v.Min || d < 0 {
		return fmt.Errorf("%s", v.Allowed)
	}
	*v.P = d
	return nil
}
