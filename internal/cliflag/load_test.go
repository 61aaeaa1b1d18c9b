package cliflag

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/meshcheck/meshcheck/loadgen"
)

func TestLoadValues(t *testing.T) {
	pods := filepath.Join(t.TempDir(), "pods.json")
	if err := os.WriteFile(pods, []byte(`{"echo-v1-7d9f": "v1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		h   http.Header
		c   loadgen.Classifier
		m   loadgen.VersionMap
		via *url.URL
		d   time.Duration
	)
	vm := &VersionMap{P: &m}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.VarP(Headers{&h}, "header", "H", "")
	fs.Var(Classifier{&c}, "classify", "")
	fs.Var(vm, "map", "")
	fs.Var(Proxy{&via}, "via", "")
	fs.Var(Duration{&d, time.Millisecond, "a positive duration"}, "timeout", "")
	err := fs.Parse([]string{"-H", "X-A: 1", "-H", "x-a:2", "-H", "B:", "--classify", "header:x-version", "--map", pods,
		"--via", "http://127.0.0.1:15001", "--timeout", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.Values("X-A"), ",") != "1,2" || h.Get("B") != "" || len(h["B"]) != 1 || c.String() != "header:x-version" ||
		m["echo-v1-7d9f"] != "v1" || vm.String() != pods || via.String() != "http://127.0.0.1:15001" || d != 3*time.Second {
		t.Fatalf("parsed %v %q %v %v %v", h, c, m, via, d)
	}
	for name, want := range map[string]string{"classify": "header:x-version", "via": "http://127.0.0.1:15001", "timeout": "3s"} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s prints %q, want %q", name, got, want)
		}
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"header", "nocolon", `write "Name: value"`},
		{"header", ": v", `write "Name: value"`},
		{"classify", "regex:(a)(b)", "has 2 capture groups"},
		{"map", filepath.Join(t.TempDir(), "absent.json"), "absent.json"},
		{"via", "socks5://x:1", "forward proxy"},
		{"timeout", "0s", "a positive duration"},
		{"timeout", "-1s", "a positive duration"},
		{"timeout", "soon", "a positive duration"},
	} {
		if err := fs.Set(tc.flag, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--%s %s: %v, want %q", tc.flag, tc.value, err, tc.want)
		}
	}
	if (Headers{}).String() != "" || (Classifier{}).String() != "" || (Proxy{}).String() != "" || (Duration{}).String() != "0s" {
		t.Error("a zero value does not print as its zero")
	}
}
