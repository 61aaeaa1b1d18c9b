package kind

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/openfaas"
)

// installOpenFaaS installs the pinned OpenFaaS chart on the cluster once
// (openfaas.Install; a cluster that has it already is left as it is, the
// install changing nothing) and records its time as the phase
// phaseOpenFaaS.
func (e *Env) installOpenFaaS(ctx context.Context) error {
	e.mu.Lock()
	done := e.openfaasInstalled
	e.mu.Unlock()
	if done {
		return nil
	}
	start := time.Now()
	ch, err := e.openfaas.Fetch(ctx)
	if err != nil {
		return err
	}
	r, err := openfaas.Render(ch, openfaas.Values())
	if err != nil {
		return err
	}
	e.log.Info("installing OpenFaaS", "chart", e.openfaas.Pin.Name, "version", e.openfaas.Pin.Version)
	if err := openfaas.Install(ctx, e.cluster.Client(), r, openfaas.InstallOptions{ReadyTimeout: e.readyTimeout, Log: e.log}); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.openfaasInstalled = true
	if e.session != nil {
		e.session.timings.phases = append(e.session.timings.phases, env.Timing{Phase: phaseOpenFaaS, Duration: time.Since(start)})
	}
	return nil
}

// writeOpenFaaSDryRun writes what installOpenFaaS would do: the chart (name,
// repository, version, digest and where the archive comes from), the values
// set and the namespaces. It contacts nothing and reads no archive.
func (o *Opener) writeOpenFaaSDryRun(w io.Writer) error {
	p := o.openfaas.Pin
	var b strings.Builder
	b.WriteString("---\n# OpenFaaS CE, installed once per cluster before the first scenario with spec.backend openfaas\n")
	b.WriteString("# (Helm Go SDK: rendered client-only, no helm binary and no release Secrets; applied with meshcheck's server-side apply)\n")
	fmt.Fprintf(&b, "# chart %s %s from the repository %s\n", p.Name, p.Version, p.Repository)
	fmt.Fprintf(&b, "# archive %s sha256 %s (checked before loading)\n", p.Archive(), p.Digest)
	if o.openfaas.Local != "" {
		fmt.Fprintf(&b, "# from --openfaas-chart %s\n", o.openfaas.Local)
	} else {
		fmt.Fprintf(&b, "# downloaded from %s and cached in the user's cache folder (or give --openfaas-chart FILE.tgz)\n", p.URL())
	}
	if p == openfaas.Pinned {
		fmt.Fprintf(&b, "# pinned from github.com/openfaas/faas-netes commit %s (docs/index.yaml)\n", openfaas.ChartSourceCommit)
	}
	fmt.Fprintf(&b, "# release %s in namespace %s; namespaces %s and %s labelled istio-injection=enabled\n",
		openfaas.ReleaseName, openfaas.Namespace, openfaas.Namespace, openfaas.FunctionNamespace)
	b.WriteString("# then: the pre-install hooks (Secret basic-auth) unless they exist, the chart's objects, and a wait for every Deployment of the chart (the gateway among them) to be ready\n")
	b.WriteString("# values set (the chart's values.yaml gives the rest):\n")
	vals := openfaas.Values()
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		data, err := yaml.Marshal(map[string]any{k: vals[k]})
		if err != nil {
			return fmt.Errorf("OpenFaaS values: %w", err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			b.WriteString("#   " + line + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
