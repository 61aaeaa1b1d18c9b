package env

import (
	"context"
	"errors"
	"fmt"
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
	Register("test-ok", func(ctx context.Context, o Options) (Environment, error) {
		o.Logger().Info("constructing") // a nil Log must be usable
		return stub{"test-ok"}, ctx.Err()
	})
	Register("test-broken", func(context.Context, Options) (Environment, error) { return nil, errors.New("no engine") })

	e, err := New(t.Context(), "test-ok", Options{})
	if err != nil || e.Name() != "test-ok" {
		t.Fatalf("New(test-ok) = %v, %v", e, err)
	}
	if !Registered("test-ok") || Registered("test-missing") {
		t.Error("Registered does not tell registered names from others")
	}
	if _, err := New(t.Context(), "test-broken", Options{}); err == nil || err.Error() != "no engine" || errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New(test-broken): %v, want the constructor's error as it is", err)
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := New(ended, "test-ok", Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("New with an ended context: %v, want the constructor to see it", err)
	}
	_, err = New(t.Context(), "test-missing", Options{})
	if err == nil || !strings.Contains(err.Error(), `unknown environment "test-missing"`) || !strings.Contains(err.Error(), "test-ok") || !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New(test-missing): %v, want an invalid-options error listing the registered names", err)
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
	Register("test-ok", func(context.Context, Options) (Environment, error) { return stub{}, nil })
}

func TestInvalidOptions(t *testing.T) {
	if InvalidOptions(nil) != nil {
		t.Error("InvalidOptions(nil) is not nil")
	}
	cause := errors.New("--name \"X\": lower case only")
	err := InvalidOptions(fmt.Errorf("kind: %w", cause))
	if err.Error() != "kind: "+cause.Error() || !errors.Is(err, ErrInvalidOptions) || !errors.Is(err, cause) {
		t.Errorf("InvalidOptions: %q, Is(ErrInvalidOptions) %v, Is(cause) %v", err, errors.Is(err, ErrInvalidOptions), errors.Is(err, cause))
	}
}
