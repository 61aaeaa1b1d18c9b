package env

import (
	"errors"
	"fmt"
	"testing"
)

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
