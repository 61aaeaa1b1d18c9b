package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

func init() { register(newProbeCommand) }

// probeFlags are the flags of `meshcheck probe`.
type probeFlags struct {
	url, host, method, body string
	headers                 []string
	rate                    int
	duration, timeout       time.Duration
	maxRequests, maxWorkers int
	maxBody                 int64
	noKeepAlive             bool
	via, agent              string
	classify, mapFile       string
	expect                  string
	expectStatus            int
	tolerance, alpha        float64
	errorBudget             float64
	relative                bool
	unexpectedBudget        int
	settle                  int
	settleTimeout           time.Duration
	save                    string
	report                  reportFlags
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
	d := loadgen.DefaultOptions()
	fl.StringVar(&f.url, "url", "", "endpoint to probe (http or https)")
	fl.StringVar(&f.host, "host", "", "Host header, without a port: "+mesh.HostPortRule)
	fl.StringVar(&f.method, "method", http.MethodGet, "HTTP method")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, `extra request header "Name: value" (repeatable)`)
	fl.StringVar(&f.body, "body", "", "request body")
	fl.IntVar(&f.rate, "rate", d.Rate, "requests per second (constant, at least 1)")
	fl.DurationVar(&f.duration, "duration", 2*time.Minute, "time budget (0 = none)")
	fl.IntVar(&f.maxRequests, "max-requests", d.MaxRequests, "request budget")
	fl.DurationVar(&f.timeout, "timeout", d.Timeout, "timeout of one request, to the end of its body")
	fl.BoolVar(&f.noKeepAlive, "no-keepalive", false, "open a new connection for every request")
	fl.IntVar(&f.maxWorkers, "max-workers", d.MaxWorkers, "bound on concurrent requests")
	fl.Int64Var(&f.maxBody, "max-body", d.MaxBody, "bytes of each body read for classification")
	fl.StringVar(&f.via, "via", "", "send through this HTTP forward proxy (URL)")
	fl.StringVar(&f.agent, "agent", "", "send from a meshcheck agent at this URL (meshcheck agent) instead of from here")
	fl.StringVar(&f.classify, "classify", "", "how to read a response's version: json:<path>, regex:<expr>, header:<name> or status")
	fl.StringVar(&f.mapFile, "map", "", "JSON file mapping raw classified values to versions")
	fl.StringVar(&f.expect, "expect", "", "expected split, e.g. v1=75,v2=25 (percents summing to 100)")
	fl.IntVar(&f.expectStatus, "expect-status", 0, "expect this status instead of a split, e.g. 403")
	f.tolerance = verify.DefaultTolerance
	fl.Var(floatRange{&f.tolerance, 0, 1, false, "a number in (0, 1): 0.05 = ±5 points"}, "tolerance", "band half-width, in (0, 1): 0.05 = ±5 points")
	fl.BoolVar(&f.relative, "relative", false, "make the tolerance a fraction of each weight")
	f.alpha = verify.DefaultAlpha
	fl.Var(floatRange{&f.alpha, 0, 0.5, false, "a number in (0, 0.5)"}, "alpha", "bound on the probability of a wrong verdict, in (0, 0.5)")
	f.errorBudget = verify.DefaultErrorBudget
	fl.Var(floatRange{&f.errorBudget, 0, 1, true, "a number in [0, 1): 0.01 = 1% of requests"}, "error-budget", "share of requests that may be errors, in [0, 1)")
	fl.IntVar(&f.unexpectedBudget, "unexpected-budget", 0, "responses from versions not in --expect that are tolerated")
	fl.IntVar(&f.settle, "settle", loadgen.DefaultSettleResponses, "consecutive good responses the unjudged settle phase waits for (0: judge from the first response)")
	fl.DurationVar(&f.settleTimeout, "settle-timeout", loadgen.DefaultSettleTimeout, "bound on the settle phase; past it the probe ends with exit 4")
	fl.StringVar(&f.save, "save", "", "write one NDJSON record per request to this file (meshcheck judge re-reads it)")
	f.report.add(fl)
	return cmd
}

// probeFromFlags builds and validates the probe; its errors are usage errors.
func probeFromFlags(f probeFlags) (loadgen.Probe, error) {
	var p loadgen.Probe
	if f.url == "" {
		return p, errors.New("--url is required: the endpoint to probe, e.g. http://127.0.0.1:8080/echo")
	}
	if err := f.report.check(); err != nil {
		return p, err
	}
	p.Target = loadgen.Target{URL: f.url, Host: f.host, Method: f.method}
	if f.body != "" {
		p.Target.Body = []byte(f.body)
	}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return p, fmt.Errorf(`--header %q: write "Name: value"`, h)
		}
		if p.Target.Header == nil {
			p.Target.Header = http.Header{}
		}
		p.Target.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	p.Options = loadgen.Options{Rate: f.rate, Duration: f.duration, MaxRequests: f.maxRequests, Timeout: f.timeout,
		KeepAlive: !f.noKeepAlive, MaxWorkers: f.maxWorkers, MaxBody: f.maxBody,
		SettleResponses: f.settle, SettleTimeout: f.settleTimeout}
	switch {
	case f.maxRequests < 1:
		return p, fmt.Errorf("--max-requests %d: at least 1", f.maxRequests)
	case f.settle < 0 || f.settle > 10000:
		return p, fmt.Errorf("--settle %d: from 0 (no settle phase) to 10000 consecutive responses", f.settle)
	case f.settleTimeout <= 0:
		return p, fmt.Errorf("--settle-timeout %s: a positive duration such as 60s", f.settleTimeout)
	}
	if f.settle == 0 {
		p.Options.SettleResponses = -1
	}
	if f.via != "" {
		via, err := loadgen.ParseVia(f.via)
		if err != nil {
			return p, fmt.Errorf("--via: %w", err)
		}
		p.Options.Via = via
	}
	if f.classify != "" {
		c, err := loadgen.ParseClassifier(f.classify)
		if err != nil {
			return p, fmt.Errorf("--classify: %w", err)
		}
		p.Classify = c
	}
	if f.mapFile != "" {
		m, err := loadgen.LoadVersionMap(f.mapFile)
		if err != nil {
			return p, fmt.Errorf("--map: %w", err)
		}
		p.Map = m
	}
	exp := verify.Expectation{Status: f.expectStatus, Tolerance: f.tolerance, Relative: f.relative, Alpha: f.alpha,
		ErrorBudget: f.errorBudget, UnexpectedBudget: f.unexpectedBudget}
	switch {
	case f.expect != "" && f.expectStatus != 0:
		return p, errors.New("--expect and --expect-status: give one of them")
	case f.expect == "" && f.expectStatus == 0:
		return p, errors.New("--expect v1=75,v2=25 or --expect-status CODE is required")
	case f.expect != "":
		ws, err := verify.ParseWeights(f.expect)
		if err != nil {
			return p, fmt.Errorf("--expect: %w", err)
		}
		exp.Weights = ws
	}
	p.Expect = exp
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

func runProbe(cmd *cobra.Command, f probeFlags) error {
	p, err := probeFromFlags(f)
	if err != nil {
		return usageError(err)
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var opts []loadgen.RunOption
	var save *os.File
	var rw *loadgen.RecordWriter
	if f.save != "" {
		if save, err = os.Create(f.save); err != nil {
			return usageError(fmt.Errorf("--save: %w", err))
		}
		defer save.Close()
		rw = loadgen.NewRecordWriter(save)
		opts = append(opts, loadgen.OnRecord(rw.Write))
	}
	live := probeIsTerminal(stdout) && probeIsTerminal(stderr)
	if live {
		opts = append(opts, loadgen.OnProgress(time.Second, func(pr loadgen.Progress) {
			fmt.Fprintf(stderr, "\r\033[K%s", probeProgressLine(pr))
		}))
	}

	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var out loadgen.Outcome
	if f.agent != "" {
		out, err = (&loadgen.AgentClient{URL: f.agent}).Run(ctx, p, opts...)
	} else {
		out, err = loadgen.Run(ctx, p, opts...)
	}
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
	if err != nil && !interrupted && out.Stats.Requests == 0 {
		if errors.Is(err, loadgen.ErrNotSettled) && f.host == "" {
			err = fmt.Errorf("%w (no --host: requests carry the URL's host, and a gateway routes by the Host header)", err)
		}
		doc := report.Run{Schema: report.Schema, Command: report.CommandProbe,
			Error: &report.Error{Kind: report.ErrorEnvironment, Message: err.Error()}}
		if werr := f.report.failed(stdout, doc); werr != nil {
			fmt.Fprintf(stderr, "meshcheck: writing the report: %v\n", werr)
		}
		return envError(err)
	}

	rep := report.Probe{Target: p.Target, Result: out.Result, Stats: out.Stats}
	if f.agent != "" {
		rep.Notes = append(rep.Notes, "requests sent by the agent at "+f.agent)
	}
	if f.host == "" {
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
	return verdictError(out.Result.Verdict)
}

// probeProgressLine is the live status: elapsed, requests, rate and each
// line's share with its interval.
func probeProgressLine(p loadgen.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs  %s req  %.1f/s", p.Elapsed.Seconds(), verify.Thousands(p.Requests), p.Rate)
	for _, l := range p.Result.Lines {
		fmt.Fprintf(&b, "  %s %s [%s, %s]", l.Name, verify.Percent(l.Share), verify.Percent(l.Lower), verify.Percent(l.Upper))
	}
	return b.String()
}

// probeIsTerminal reports whether w is a terminal.
func probeIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
