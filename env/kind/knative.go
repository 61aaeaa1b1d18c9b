package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	ksapi "github.com/meshcheck/meshcheck/backend/knative"
	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/knative"
	"github.com/meshcheck/meshcheck/image"
	"github.com/meshcheck/meshcheck/scenario"
)

// knativeNoManifests is why a scenario with backend knative is skipped on
// kind without --knative-manifests: no sha256 of the release files is
// published that meshcheck could pin, so it downloads nothing it cannot
// check.
func knativeNoManifests() string {
	return fmt.Sprintf("no --knative-manifests DIR: meshcheck installs Knative Serving %s with net-istio %s only from a folder holding %s, %s and %s (from %s, %s, %s) and their sha256 in %s, since no published digest of these files is pinned",
		knative.Pinned.Serving, knative.Pinned.NetIstio, knative.FileCRDs, knative.FileCore, knative.FileNetIstio,
		knative.Pinned.URL(knative.FileCRDs), knative.Pinned.URL(knative.FileCore), knative.Pinned.URL(knative.FileNetIstio), knative.FileDigests)
}

// installKnative installs Knative Serving and net-istio on the cluster
// once, from the --knative-manifests folder (knative.Install; a cluster
// that has them already is left as it is, the install changing nothing),
// and records its time as the phase phaseKnative. Without the folder the
// scenario's backend is unavailable (env.BackendUnavailable).
func (e *Env) installKnative(ctx context.Context, s *scenario.Scenario) error {
	e.mu.Lock()
	done := e.knativeInstalled
	e.mu.Unlock()
	if done {
		return nil
	}
	if e.knative == nil {
		return env.BackendUnavailable(env.Kind, s.Backend, knativeNoManifests())
	}
	start := time.Now()
	e.log.Info("installing Knative Serving", "serving", knative.Pinned.Serving, "netIstio", knative.Pinned.NetIstio, "from", e.knative.Dir)
	if err := knative.Install(ctx, e.cluster.Client(), e.knative, knative.InstallOptions{ReadyTimeout: e.readyTimeout, ImageRegistry: image.Registry, Log: e.log}); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.knativeInstalled = true
	if e.session != nil {
		e.session.timings.phases = append(e.session.timings.phases, env.Timing{Phase: phaseKnative, Duration: time.Since(start)})
	}
	return nil
}

// writeKnativeDryRun writes what installKnative would do: the release
// pair, the files with their URLs and digests (from --knative-manifests, or
// that the folder is missing), the ConfigMap data set, and, per scenario,
// the Knative Services each step applies. It contacts nothing.
func (o *Opener) writeKnativeDryRun(w io.Writer, scenarios []*scenario.Scenario) error {
	var b strings.Builder
	b.WriteString("---\n# Knative Serving with net-istio, installed once per cluster before the first scenario with spec.backend knative, after Istio\n")
	b.WriteString("# (the release files applied with meshcheck's server-side apply, labelled meshcheck.dev/scenario=" + knative.InstallLabel + ")\n")
	fmt.Fprintf(&b, "# Knative Serving %s, net-istio %s\n", knative.Pinned.Serving, knative.Pinned.NetIstio)
	for _, f := range knative.Files {
		d := "sha256 from " + knative.FileDigests + " of --knative-manifests"
		if o.knative != nil {
			d = "sha256 " + o.knative.Digests[f] + " (checked)"
		}
		fmt.Fprintf(&b, "# %s: %s, %s\n", f, knative.Pinned.URL(f), d)
	}
	if o.knative != nil {
		fmt.Fprintf(&b, "# from --knative-manifests %s\n", o.knative.Dir)
	} else {
		b.WriteString("# not installed: " + knativeNoManifests() + "; a run skips these scenarios\n")
	}
	fmt.Fprintf(&b, "# %s/%s data: %s: %s\n", knative.Namespace, knative.ConfigNetwork, knative.KeyIngressClass, knative.IngressClassIstio)
	fmt.Fprintf(&b, "# %s/%s data: %s: <the file's list>,%s\n", knative.Namespace, knative.ConfigDeployment, knative.KeySkipTagResolving, image.Registry)
	b.WriteString("# then: a wait until the API serves " + ksapi.Resource + " in " + ksapi.SchemeGroupVersion.String() + ", and for every Deployment of the release files to be ready\n")
	for _, s := range scenarios {
		if s.Backend != scenario.BackendKnative {
			continue
		}
		for _, st := range s.Steps {
			var objs []scenario.Object
			for _, m := range st.Apply {
				objs = append(objs, m.Objects...)
			}
			for _, ks := range scenario.KnativeServices(objs) {
				c := ks.Spec.Template.Spec.Containers[0]
				args, err := json.Marshal(c.Args)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "# scenario %s, step %s: Knative Service %s/%s (applied as an object; answers at %s): image %s, args %s, port %d\n",
					s.Metadata.Name, st.Name, ks.Namespace, ks.Name, ksapi.Address(ks), c.Image, args, ksapi.ContainerPort(ks))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
