package env

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/scenario"
)

type stub struct{ name string }

func (s stub) Name() string                                       { return s.name }
func (stub) Emulated() bool                                       { return true }
func (stub) Setup(context.Context, *scenario.Scenario) error      { return nil }
func (stub) Apply(context.Context, *scenario.Scenario, int) error { return nil }
func (stub) Endpoint(context.Context, scenario.Probe) (Endpoint, error) {
	return Endpoint{}, nil
}
func (stub) VersionMap(context.Context, scenario.Probe) (map[string]string, error) {
	return nil, nil
}
func (stub) Teardown(context.Context) error { return nil }

func TestRegistry(t *testing.T) {
	Register("test-ok", func(o Options) (Environment, error) {
		o.Logger().Info("constructing") // a nil Log must be usable
		return stub{"test-ok"}, nil
	})
	Register("test-broken", func(Options) (Environment, error) { return nil, errors.New("no engine") })

	e, err := New("test-ok", Options{})
	if err != nil || e.Name() != "test-ok" {
		t.Fatalf("New(test-ok) = %v, %v", e, err)
	}
	if !Registered("test-ok") || Registered("test-missing") {
		t.Error("Registered does not tell registered names from others")
	}
	if _, err := New("test-broken", Options{}); err == nil || !strings.Contains(err.Error(), "environment test-broken: no engine") {
		t.Errorf("New(test-broken): %v, want the constructor's error with the name", err)
	}
	_, err = New("test-missing", Options{})
	if err == nil || !strings.Contains(err.Error(), `unknown environment "test-missing"`) || !strings.Contains(err.Error(), "test-ok") {
		t.Errorf("New(test-missing): %v, want an error listing the registered names", err)
	}
	names := strings.Join(Names(), ",")
	if !strings.Contains(names, "test-broken,test-ok") {
		t.Errorf("Names() = %s, want sorted registered names", names)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register("test-ok", func(Options) (Environment, error) { return stub{}, nil })
}
