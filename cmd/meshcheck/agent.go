package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/loadgen"
)

func init() { register(newAgentCommand) }

func newAgentCommand() *cobra.Command {
	var listen string
	l := loadgen.DefaultAgentLimits()
	cmd := &cobra.Command{
		Use:   "agent [--listen :8080]",
		Short: "Serve probes from inside the mesh (runs in a pod with a sidecar)",
		Long: `Serve a small HTTP API that runs probes from where the agent runs, typically a
pod inside the mesh, so that requests pass through its sidecar:

  POST /v1/probe   a JSON probe spec; the answer streams one NDJSON record per
                   response, then a {"summary": ...} line. Closing the request
                   stops the probe.
  GET  /healthz    200 while the agent accepts probes (readiness).

Every probe is bounded by the limits below; specs over them are refused with
400, more than --max-concurrent probes at once with 429. The agent reads no
files and runs no commands. SIGTERM stops running probes (their streams end
with a summary) and shuts down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, listen, l) },
	}
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", ":8080", "address to serve on")
	fl.IntVar(&l.MaxRate, "max-rate", l.MaxRate, "largest rate a probe may ask (requests per second)")
	fl.DurationVar(&l.MaxDuration, "max-duration", l.MaxDuration, "longest duration a probe may ask")
	fl.IntVar(&l.MaxRequests, "max-requests", l.MaxRequests, "largest request budget a probe may ask")
	fl.IntVar(&l.MaxConcurrent, "max-concurrent", l.MaxConcurrent, "probes running at once")
	fl.IntVar(&l.MaxWorkers, "max-workers", l.MaxWorkers, "largest number of concurrent requests of a probe")
	fl.Int64Var(&l.MaxBody, "max-body", l.MaxBody, "largest number of bytes read from each response body")
	fl.DurationVar(&l.MaxTimeout, "max-timeout", l.MaxTimeout, "longest per-request timeout a probe may ask")
	fl.Int64Var(&l.MaxSpecBytes, "max-spec-bytes", l.MaxSpecBytes, "largest probe spec accepted")
	return cmd
}

func runAgent(cmd *cobra.Command, listen string, l loadgen.AgentLimits) error {
	if err := l.Validate(); err != nil {
		return usageError(err)
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	srv, err := loadgen.NewAgentServer(l, log)
	if err != nil {
		return usageError(err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ln, err := (&net.ListenConfig{KeepAlive: 30 * time.Second}).Listen(ctx, "tcp", listen)
	if err != nil {
		return envError(fmt.Errorf("agent: --listen %s: %w", listen, err))
	}
	log.Info("agent listening", "addr", ln.Addr().String(), "maxRate", l.MaxRate, "maxDuration", l.MaxDuration,
		"maxConcurrent", l.MaxConcurrent)
	if err := srv.Serve(ctx, ln); err != nil {
		return envError(err)
	}
	return nil
}
