package istio

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// versionJSON is what `istioctl version --remote=false -o json` prints
// (istio/istio pkg/version/cobra.go: json.MarshalIndent of Version, whose
// clientVersion is the BuildInfo), for a client of version v.
func versionJSON(v string) string {
	return `{
  "clientVersion": {
    "version": "` + v + `",
    "revision": "eed52ebb66ad",
    "golang_version": "go1.26.0",
    "status": "Clean",
    "tag": "` + v + `"
  }
}
`
}

func TestCheckVersionRunsExactCommand(t *testing.T) {
	r := &fakeRunner{output: versionJSON("1.31.0")}
	found, err := CheckVersion(context.Background(), r, "/opt/istio/bin/istioctl", "1.31.0")
	if err != nil || found != "1.31.0" {
		t.Fatalf("CheckVersion = %q, %v", found, err)
	}
	if len(r.calls) != 1 {
		t.Fatalf("%d runs, want 1", len(r.calls))
	}
	c := r.calls[0]
	if want := []string{"version", "--remote=false", "-o", "json"}; c.Path != "/opt/istio/bin/istioctl" || !reflect.DeepEqual(c.Args, want) {
		t.Errorf("ran %s %q, want %q", c.Path, c.Args, want)
	}
	if c.String() != VersionCommand("/opt/istio/bin/istioctl").String() {
		t.Errorf("ran %s, dry-run shows %s", c, VersionCommand("/opt/istio/bin/istioctl"))
	}
}

func TestCheckVersionComparesTheMinor(t *testing.T) {
	for _, tc := range []struct {
		found    string
		mismatch bool
	}{
		{"1.31.0", false},
		{"1.31.4", false},
		{"1.31.0-rc.0", false},
		{"1.31-dev", false},
		{"1.30.2", true},
		{"1.32.0", true},
		{"1.3.10", true},
		{"1.310.0", true},
		{"2.31.0", true},
		{"unknown", true},
	} {
		r := &fakeRunner{output: versionJSON(tc.found)}
		found, err := CheckVersion(context.Background(), r, "/opt/istioctl", "1.31.0")
		if found != tc.found {
			t.Errorf("%s: found %q", tc.found, found)
		}
		var ve *VersionError
		if got := errors.As(err, &ve); got != tc.mismatch || (!tc.mismatch && err != nil) {
			t.Errorf("%s: error %v, want a mismatch: %v", tc.found, err, tc.mismatch)
			continue
		}
		if !tc.mismatch {
			continue
		}
		if *ve != (VersionError{Path: "/opt/istioctl", Found: tc.found, Want: "1.31.0"}) {
			t.Errorf("%s: %+v", tc.found, *ve)
		}
		for _, want := range []string{"--istioctl /opt/istioctl is istioctl " + tc.found, "Istio 1.31.x", "pinned release 1.31.0", "drop --istioctl", "--istioctl-any-version"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message lacks %q: %v", tc.found, want, err)
			}
		}
	}
}

func TestCheckVersionUnreadableOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *fakeRunner
		want []string
	}{
		{"not JSON", &fakeRunner{output: "client version: 1.31.0\n"},
			[]string{"--istioctl /opt/istioctl", "version --remote=false -o json", "printed no JSON", "client version: 1.31.0"}},
		{"no client version", &fakeRunner{output: `{"meshVersion": []}`},
			[]string{"--istioctl /opt/istioctl", "printed no clientVersion.version", "meshVersion"}},
		{"empty version", &fakeRunner{output: versionJSON("")},
			[]string{"printed no clientVersion.version"}},
		{"no output", &fakeRunner{},
			[]string{"printed no JSON", "(no output)"}},
		{"exits non-zero", &fakeRunner{errOutput: "Error: unknown flag: --remote\n", err: &ExitError{Code: 1}},
			[]string{"--istioctl /opt/istioctl", "exit status 1", "Error: unknown flag: --remote"}},
	} {
		found, err := CheckVersion(context.Background(), tc.r, "/opt/istioctl", "1.31.0")
		var ve *VersionError
		if err == nil || errors.As(err, &ve) || found != "" {
			t.Errorf("%s: CheckVersion = %q, %v; want an error that is not a version mismatch", tc.name, found, err)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error lacks %q: %v", tc.name, want, err)
			}
		}
	}
}

func TestCheckVersionInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := CheckVersion(ctx, &fakeRunner{block: true}, "/opt/istioctl", "1.31.0")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
