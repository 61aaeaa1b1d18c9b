package kind

import (
	"context"
	"testing"
)

// TestDisposedOnClose: only a cluster this run created, with neither keep
// option, is deleted with everything on it by Close after a failure; and
// nothing is after Close.
func TestDisposedOnClose(t *testing.T) {
	for _, c := range []struct {
		name    string
		created bool
		opts    Options
		want    bool
	}{
		{"created", true, Options{}, true},
		{"reused", false, Options{}, false},
		{"kept", true, Options{Keep: true}, false},
		{"kept on failure", true, Options{KeepOnFailure: true}, false},
	} {
		f := &fakeProvider{clusters: []string{"meshcheck"}}
		l := Layout{StateDir: t.TempDir(), Name: "meshcheck"}
		e := &Env{session: &Session{Cluster: &Cluster{Name: "meshcheck", Layout: l, Created: c.created}, provider: f, opts: c.opts, log: discard()}}
		if got := e.DisposedOnClose(); got != c.want {
			t.Errorf("%s: DisposedOnClose = %v, want %v", c.name, got, c.want)
		}
		if err := e.Close(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if e.DisposedOnClose() {
			t.Errorf("%s: DisposedOnClose after Close = true, want false", c.name)
		}
	}
}
