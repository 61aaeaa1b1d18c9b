package istio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"
)

// versionTimeout bounds `istioctl version --remote=false`, which reads no
// cluster and answers at once.
const versionTimeout = time.Minute

// VersionCommand is the process that asks an istioctl for its own version
// without contacting a cluster: `istioctl version --remote=false -o json`.
// Its stdout is the JSON of istio/istio pkg/version/cobra.go's Version,
// {"clientVersion":{"version":"1.31.0","revision":...}}, with meshVersion
// and dataPlaneVersion left out when --remote=false (istioctl/pkg/version
// NewVersionCommand turns --remote on by default, hence the flag).
func VersionCommand(istioctl string) Cmd {
	return Cmd{Path: istioctl, Args: []string{"version", "--remote=false", "-o", "json"}, Env: os.Environ()}
}

// versionOutput is the part of `istioctl version -o json` meshcheck reads
// (istio/istio pkg/version Version.ClientVersion, a BuildInfo whose
// version field is json:"version").
type versionOutput struct {
	ClientVersion *struct {
		Version string `json:"version"`
	} `json:"clientVersion"`
}

// minorRE takes major.minor from a release (1.31.0, 1.32.0-rc.0) or a
// development build (1.32-dev).
var minorRE = regexp.MustCompile(`^([0-9]+\.[0-9]+)(?:[.-]|$)`)

// Minor is the major.minor of an Istio version (1.31 of 1.31.0), "" when
// v has none (an unstamped build reports "unknown").
func Minor(v string) string {
	m := minorRE.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	return m[1]
}

// VersionError is an istioctl given with --istioctl whose Istio minor
// version is not the pinned release's.
type VersionError struct {
	Path  string // the istioctl
	Found string // the version it reports
	Want  string // the pinned release
}

// Error names --istioctl, both versions and the two ways out.
func (e *VersionError) Error() string {
	return fmt.Sprintf("--istioctl %s is istioctl %s, not Istio %s.x like the pinned release %s: drop --istioctl to use the pinned release, or pass --istioctl-any-version to use this one anyway",
		e.Path, e.Found, Minor(e.Want), e.Want)
}

// CheckVersion runs VersionCommand through r and returns the client
// version istioctl reports. When its major.minor differs from want's, the
// error is a *VersionError carrying the version found; any other error
// (istioctl fails, its output is not the JSON above, ctx ends) wraps the
// cause and names --istioctl.
func CheckVersion(ctx context.Context, r Runner, istioctl, want string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := VersionCommand(istioctl)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runCtx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	if err := r.Run(runCtx, cmd); err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("--istioctl %s: `%s` did not answer within %s", istioctl, cmd, versionTimeout)
		}
		return "", fmt.Errorf("--istioctl %s: `%s`: %w: %s", istioctl, cmd, err, said(stderr.String()+stdout.String()))
	}
	var out versionOutput
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &out); err != nil {
		return "", fmt.Errorf("--istioctl %s: `%s` printed no JSON (%v): %s", istioctl, cmd, err, said(stdout.String()+stderr.String()))
	}
	if out.ClientVersion == nil || out.ClientVersion.Version == "" {
		return "", fmt.Errorf("--istioctl %s: `%s` printed no clientVersion.version: %s", istioctl, cmd, said(stdout.String()))
	}
	found := out.ClientVersion.Version
	if m := Minor(found); m == "" || m != Minor(want) {
		return found, &VersionError{Path: istioctl, Found: found, Want: want}
	}
	return found, nil
}

// said is the last lines of a process's output for an error message.
func said(out string) string {
	if s := lastLines(out, 5); s != "" {
		return s
	}
	return "(no output)"
}
