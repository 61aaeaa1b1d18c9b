// Package junittest reads JUnit XML as CI systems do, for tests: a
// <testsuites> root of <testsuite> elements of <testcase> elements, each
// suite counting its tests, failures and errors, each failure and error
// with a message and a type.
package junittest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
)

// Totals are what a CI system shows of a JUnit report.
type Totals struct {
	Suites, Tests, Failures, Errors int
}

type problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
}

type testcase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Time      *float64  `xml:"time,attr"`
	Failures  []problem `xml:"failure"`
	Errors    []problem `xml:"error"`
}

type testsuite struct {
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Time     float64    `xml:"time,attr"`
	Cases    []testcase `xml:"testcase"`
}

type testsuites struct {
	XMLName  xml.Name    `xml:"testsuites"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Suites   []testsuite `xml:"testsuite"`
}

// Check parses data and checks its structure: the XML declaration, the
// testsuites root, a name, classname and time on every testcase, at most one
// failure or error per testcase, each with a message and a type, and counts
// on every suite and on the root that agree with their cases. It returns
// the totals.
func Check(data []byte) (Totals, error) {
	var doc testsuites
	if !bytes.HasPrefix(data, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		return Totals{}, errors.New("no XML declaration")
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return Totals{}, fmt.Errorf("not JUnit XML: %w", err)
	}
	var errs []error
	sum := Totals{Suites: len(doc.Suites)}
	for _, s := range doc.Suites {
		var f, e int
		for _, c := range s.Cases {
			if c.Name == "" || c.Classname == "" || c.Time == nil {
				errs = append(errs, fmt.Errorf("suite %s: testcase %q lacks a name, classname or time", s.Name, c.Name))
			}
			if len(c.Failures)+len(c.Errors) > 1 {
				errs = append(errs, fmt.Errorf("testcase %s: %d failures and %d errors, want at most one", c.Name, len(c.Failures), len(c.Errors)))
			}
			for _, p := range append(c.Failures, c.Errors...) {
				if p.Message == "" || p.Type == "" {
					errs = append(errs, fmt.Errorf("testcase %s: a failure or error without a message or type", c.Name))
				}
			}
			f += len(c.Failures)
			e += len(c.Errors)
		}
		if s.Name == "" || s.Tests != len(s.Cases) || s.Failures != f || s.Errors != e {
			errs = append(errs, fmt.Errorf("suite %q counts %d tests, %d failures, %d errors; its cases: %d, %d, %d",
				s.Name, s.Tests, s.Failures, s.Errors, len(s.Cases), f, e))
		}
		sum.Tests, sum.Failures, sum.Errors = sum.Tests+s.Tests, sum.Failures+s.Failures, sum.Errors+s.Errors
	}
	if doc.Tests != sum.Tests || doc.Failures != sum.Failures || doc.Errors != sum.Errors {
		errs = append(errs, fmt.Errorf("testsuites counts %d tests, %d failures, %d errors; its suites %d, %d, %d",
			doc.Tests, doc.Failures, doc.Errors, sum.Tests, sum.Failures, sum.Errors))
	}
	return sum, errors.Join(errs...)
}
