package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshcheck/meshcheck/internal/cliflag"
	"github.com/meshcheck/meshcheck/judge"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/report"
)

func init() { register(newProbeCommand) }

// probeFlags are the flags of `meshcheck probe`; each value is checked as it
// is parsed (package cliflag).
type probeFlags struct {
	target      loadgen.Target
	body        string
	options     loadgen.Options
	noKeepAlive bool
	agent       string
	classify    loadgen.Classifier
	versions    loadgen.VersionMap
	expect      *cliflag.Expect
	settle      int
	save        string
	report      reportFlags
}

func newProbeCommand() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe --url URL [--host HOST] --expect v1=75,v2=25 --classify SPEC",
		Short: "Send constant-rate traffic to any HTTP endpoint and judge the per-version split",
		Long: `Send requests at a constant rate to an endpoint you bring (a port-forward, a
LoadBalancer IP, a local proxy), classify every response into a version and
stop as soon as the verdict is decided, or when --duration or --max-requests
is spent.

Classifiers (--classify):
  json:<dotted.path>   a field of a JSON body, e.g. json:os.hostname
  regex:<expr>         the one capture group of an RE2 expression on the body
  header:<name>        a response header
  status               the status code
--map pods.json turns raw values (pod names) into versions: a JSON object such
as {"echo-v1-7d9f": "v1"}; a value it does not hold is unclassified.

Errors (no response, statuses outside 100-399) never count as a version; they
have their own budget (--error-budget). --expect-status 403 instead expects
that status on at least 1 - tolerance of the responses.

Before judging, an unjudged settle phase sends at the same rate until --settle
consecutive responses are good (successful and classified; for
--expect-status, any response below 500), so that a route still warming up
(503, 404) cannot fail a correct split. A target that never answers, or does
not settle within --settle-timeout, ends the probe with exit 4 and what it saw.
Responses are judged in the order the requests were sent, never as they
complete: a slower version's responses would otherwise come last.
--max-requests and --duration count the settle phase too.

Output: the verdict table, the rates asked and achieved, requests, status
codes, latency and samples of errors and unclassified responses. Live
progress goes to stderr when both stdout and stderr are terminals.
` + reportHelp + `

Exit codes: 0 pass, 1 fail, 2 usage or input error, 3 inconclusive,
4 environment error (the agent or the results file failed).`,
		Example: `  meshcheck probe --url http://127.0.0.1:8080/echo --host echo.local --rate 200 \
    --duration 30s --classify json:os.hostname --map pods.json --expect v1=75,v2=25`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProbe(cmd, f) },
	}
	fl := cmd.Flags()
	f.options = loadgen.DefaultOptions()
	f.options.Duration = 2 * time.Minute
	f.options.SettleTimeout = loadgen.DefaultSettleTimeout
	f.settle = loadgen.DefaultSettleResponses
	fl.StringVar(&f.target.URL, "url", "", "endpoint to probe (http or https)")
	fl.StringVar(&f.target.Host, "host", "", "Host header, without a port: "+mesh.HostPortRule)
	fl.StringVar(&f.target.Method, "method", http.MethodGet, "HTTP method")
	fl.VarP(cliflag.Headers{P: &f.target.Header}, "header", "H", `extra request header "Name: value" (repeatable)`)
	fl.StringVar(&f.body, "body", "", "request body")
	fl.Var(cliflag.Int{P: &f.options.Rate, Lo: 1, Hi: loadgen.MaxRate, Allowed: fmt.Sprintf("from 1 to %d requests per second", loadgen.MaxRate)},
		"rate", "requests per second (constant, at least 1)")
	fl.Var(cliflag.Duration{P: &f.options.Duration, Allowed: "a duration such as 30s (0 = none)"}, "duration", "time budget (0 = none)")
	fl.Var(cliflag.Int{P: &f.options.MaxRequests, Lo: 1, Hi: math.MaxInt32, Allowed: "a whole number of at least 1"}, "max-requests", "request budget")
	fl.Var(cliflag.Duration{P: &f.options.Timeout, Min: time.Millisecond, Allowed: "a positive duration such as 10s"}, "timeout",
		"timeout of one request, to the end of its body")
	fl.BoolVar(&f.noKeepAlive, "no-keepalive", false, "open a new connection for every request")
	fl.Var(cliflag.Int{P: &f.options.MaxWorkers, Lo: 1, Hi: math.MaxInt32, Allowed: "a whole number of at least 1"}, "max-workers",
		"bound on concurrent requests")
	fl.Int64Var(&f.options.MaxBody, "max-body", f.options.MaxBody, "bytes of each body read for classification")
	fl.Var(cliflag.Proxy{P: &f.options.Via}, "via", "send through this HTTP forward proxy (URL)")
	fl.StringVar(&f.agent, "agent", "", "send from a meshcheck agent at this URL (meshcheck agent) instead of from here")
	fl.Var(cliflag.Classifier{P: &f.classify}, "classify", "how to read a response's version: json:<path>, regex:<expr>, header:<name> or status")
	fl.Var(&cliflag.VersionMap{P: &f.versions}, "map", "JSON file mapping raw classified values to versions")
	f.expect = cliflag.AddExpect(fl)
	fl.Var(cliflag.Int{P: &f.settle, Lo: 0, Hi: 10000, Allowed: "from 0 (no settle phase) to 10000 consecutive responses"}, "settle",
		"consecutive good responses the unjudged settle phase waits for (0: judge from the first response)")
	fl.Var(cliflag.Duration{P: &f.options.SettleTimeout, Min: time.Millisecond, Allowed: "a positive duration such as 60s"}, "settle-timeout",
		"bound on the settle phase; past it the probe ends with exit 4")
	fl.StringVar(&f.save, "save", "", "write a results file: a header line, then one NDJSON record per request (meshcheck judge re-reads it)")
	f.report.add(fl)
	return cmd
}

// probeFromFlags assembles and validates the probe; its errors are usage
// errors.
func probeFromFlags(f probeFlags) (judge.Probe, error) {
	if f.target.URL == "" {
		return judge.Probe{}, errors.New("--url is required: the endpoint to probe, e.g. http://127.0.0.1:8080/echo")
	}
	if err := f.report.check(); err != nil {
		return judge.Probe{}, err
	}
	exp, err := f.expect.Expectation()
	if err != nil {
		return judge.Probe{}, err
	}
	p := judge.Probe{Load: loadgen.Probe{Target: f.target, Options: f.options, Classify: f.classify, Map: f.versions}, Expect: exp}
	if f.body != "" {
		p.Load.Target.Body = []byte(f.body)
	}
	p.Load.Options.KeepAlive = !f.noKeepAlive
	p.Load.Options.SettleResponses = f.settle
	if f.settle == 0 {
		p.Load.Options.SettleResponses = -1 // loadgen: negative means none
	}
	return p, p.Validate()
}

func runProbe(cmd *cobra.Command, f probeFlags) error {
	p, err := probeFromFlags(f)
	if err != nil {
		return usageError(err)
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	opts := judge.Options{}
	if f.agent != "" {
		agent := &loadgen.AgentClient{URL: f.agent}
		defer agent.Close()
		opts.Agent = agent
	}
	var save *os.File
	var rw *loadgen.RecordWriter
	if f.save != "" {
		if save, err = os.Create(f.save); err != nil {
			return usageError(fmt.Errorf("--save: %w", err))
		}
		defer save.Close()
		rw = loadgen.NewRecordWriter(save, loadgen.Header{URL: p.Load.Target.URL, Host: p.Load.Target.Host, Rate: p.Load.Options.Rate, Agent: f.agent})
		opts.Records = rw.Write
	}
	live := probeIsTerminal(stdout) && probeIsTerminal(stderr)
	if live {
		opts.Every, opts.Progress = time.Second, func(pr judge.Progress) {
			fmt.Fprintf(stderr, "\r\033[K%s", pr)
		}
	}

	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	result, stats, err := judge.Run(ctx, p, opts)
	if live {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if rw != nil {
		if ferr := rw.Flush(); ferr != nil && err == nil {
			err = ferr
		}
		if cerr := save.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--save %s: %w", f.save, cerr)
		}
	}
	interrupted := err != nil && ctx.Err() != nil
	if err != nil && !interrupted && stats.Requests == 0 {
		if errors.Is(err, loadgen.ErrNotSettled) && p.Load.Target.Host == "" {
			err = fmt.Errorf("%w (no --host: requests carry the URL's host, and a gateway routes by the Host header)", err)
		}
		doc := report.Run{Schema: report.Schema, Command: report.CommandProbe,
			Error: &report.Error{Kind: report.ErrorEnvironment, Message: err.Error()}}
		if werr := f.report.failed(stdout, doc); werr != nil {
			fmt.Fprintf(stderr, "meshcheck: writing the report: %v\n", werr)
		}
		return envError(err)
	}

	rep := report.Probe{Target: p.Load.Target, Result: result, Stats: stats}
	if f.agent != "" {
		rep.Notes = append(rep.Notes, "requests sent by the agent at "+f.agent)
	}
	if p.Load.Target.Host == "" {
		rep.Notes = append(rep.Notes, "no --host: requests carry the URL's host; a gateway routes by the Host header")
	}
	if werr := f.report.write(stdout, report.Single(report.CommandProbe, rep)); werr != nil {
		return envError(werr)
	}
	switch {
	case interrupted:
		return &exitError{code: ExitInconclusive, err: fmt.Errorf("probe interrupted: %w", err)}
	case err != nil:
		return envError(err)
	}
	return verdictError(result.Verdict)
}

// probeIsTerminal reports whether w is a terminal.
func probeIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
