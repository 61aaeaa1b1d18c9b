package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/meshcheck/meshcheck/mesh"
)

// Defaults and bounds of Options.
const (
	// defaultRate is the rate of the command line and of scenarios that do
	// not set one, in requests per second.
	defaultRate = 200
	// MaxRate bounds Options.Rate.
	MaxRate = 1_000_000
	// defaultTimeout bounds one request, from sending to the end of the body.
	defaultTimeout = 10 * time.Second
	// defaultMaxWorkers bounds the goroutines (and so the connections) an
	// attack uses; slow responses beyond it lower the achieved rate.
	defaultMaxWorkers = 1024
	// defaultMaxBody is how many bytes of each body are read for
	// classification; the rest is discarded.
	defaultMaxBody = 64 << 10
	// defaultMaxRequests is the request budget of a probe that gives none:
	// the budget at which the verdict engine's error rates are simulated
	// (verify.DefaultMaxRequests).
	defaultMaxRequests = 50_000
)

// Target is the request a probe sends, the same for every hit.
type Target struct {
	// URL is where requests go, http or https.
	URL string `json:"url"`
	// Host, when set, is the Host header (how a gateway picks its route).
	// It may not carry a port: Istio answers such requests 404.
	Host string `json:"host,omitempty"`
	// Method defaults to GET.
	Method string `json:"method,omitempty"`
	// Header holds further request headers; set the Host through Host.
	Header http.Header `json:"header,omitempty"`
	// Body is sent with every request.
	Body []byte `json:"body,omitempty"`
}

// Validate checks the URL, the Host, the method and the headers.
func (t Target) Validate() error {
	u, err := url.Parse(t.URL)
	switch {
	case t.URL == "":
		return errors.New("target: no URL: give the endpoint to probe, e.g. http://127.0.0.1:8080/echo")
	case err != nil:
		return fmt.Errorf("target URL %q: %w", t.URL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("target URL %q: the scheme must be http or https", t.URL)
	case u.Host == "":
		return fmt.Errorf("target URL %q has no host", t.URL)
	case u.User != nil:
		return fmt.Errorf("target URL %q carries credentials: send them as a header instead", t.URL)
	}
	if err := validateHost(t.Host); err != nil {
		return err
	}
	if t.Method != "" && !validToken(t.Method) {
		return fmt.Errorf("target method %q is not an HTTP method token", t.Method)
	}
	for name, values := range t.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("target header %q is not a header name", name)
		}
		if http.CanonicalHeaderKey(name) == "Host" {
			return errors.New("target header Host: set the Host through the host field (--host), not as a header")
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("target header %s: value %q has control characters", name, v)
			}
		}
	}
	return nil
}

// validateHost checks a Host header value. It rejects a port, for the reason
// mesh.HostPortRule gives.
func validateHost(host string) error {
	if host == "" {
		return nil
	}
	if strings.ContainsAny(host, " \t\r\n/?#@") {
		return fmt.Errorf("host %q: a Host header is a name such as echo.local, without a scheme, path or spaces", host)
	}
	if _, port, err := net.SplitHostPort(host); err == nil {
		return fmt.Errorf("host %q carries a port: drop it (--host %s); "+mesh.HostPortRule,
			host, strings.TrimSuffix(host, ":"+port))
	}
	if strings.Contains(host, ":") && !(strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")) {
		return fmt.Errorf("host %q: write an IPv6 address in brackets, e.g. [::1]", host)
	}
	if !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("host %q is not a valid Host header", host)
	}
	return nil
}

func validToken(s string) bool {
	for _, c := range []byte(s) {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return s != ""
}

// Options bound and shape an attack. Zero values select the defaults: a
// 10 s Timeout, 1,024 MaxWorkers, a 64 KiB MaxBody and 50,000 MaxRequests;
// a zero Duration means no time budget.
type Options struct {
	// Rate is the constant request rate per second; it must be > 0 (vegeta
	// would read 0 as "as fast as possible").
	Rate int
	// Duration is the time budget of the attack.
	Duration time.Duration
	// MaxRequests is the request budget of the attack, settle phase
	// included.
	MaxRequests int
	// Timeout bounds one request, from sending to the end of the body.
	Timeout time.Duration
	// KeepAlive reuses connections; without it every request opens one.
	// DefaultOptions turns it on.
	KeepAlive bool
	// MaxWorkers bounds concurrent requests.
	MaxWorkers int
	// MaxBody bounds the bytes of each body read for classification.
	MaxBody int64
	// Via sends requests through this HTTP forward proxy.
	Via *url.URL
	// SettleResponses is how many consecutive good responses an unjudged
	// settle phase waits for before the judged requests start (0:
	// DefaultSettleResponses; negative: no settle phase).
	SettleResponses int
	// SettleTimeout bounds the settle phase (0: DefaultSettleTimeout).
	SettleTimeout time.Duration
	// SettleAnyStatus makes every response below 500 a good one in the
	// settle phase, classified or not: for probes that expect a status
	// (such as 403) rather than versions. Without it a good response is
	// successful (100–399) and classified.
	SettleAnyStatus bool
}

// DefaultOptions returns the options of the command line: 200 requests per
// second, no time budget, 50,000 requests, keep-alive on and the default
// timeout, worker and body bounds.
func DefaultOptions() Options {
	return Options{Rate: defaultRate, MaxRequests: defaultMaxRequests, Timeout: defaultTimeout,
		KeepAlive: true, MaxWorkers: defaultMaxWorkers, MaxBody: defaultMaxBody}
}

// Validate checks every bound, naming the field and what is allowed.
func (o Options) Validate() error {
	switch {
	case o.Rate <= 0:
		return fmt.Errorf("rate %d: it must be at least 1 request per second", o.Rate)
	case o.Rate > MaxRate:
		return fmt.Errorf("rate %d: at most %d requests per second", o.Rate, MaxRate)
	case o.Duration < 0:
		return fmt.Errorf("duration %s: it must not be negative (0 = no time budget)", o.Duration)
	case o.MaxRequests < 0:
		return fmt.Errorf("max requests %d: it must not be negative (0 = %d)", o.MaxRequests, defaultMaxRequests)
	case o.Timeout < 0:
		return fmt.Errorf("timeout %s: it must not be negative (0 = %s)", o.Timeout, defaultTimeout)
	case o.MaxWorkers < 0:
		return fmt.Errorf("max workers %d: it must not be negative (0 = %d)", o.MaxWorkers, defaultMaxWorkers)
	case o.MaxBody < 0:
		return fmt.Errorf("max body %d: it must not be negative (0 = %d bytes)", o.MaxBody, defaultMaxBody)
	case o.SettleTimeout < 0:
		return fmt.Errorf("settle timeout %s: it must not be negative (0 = %s)", o.SettleTimeout, DefaultSettleTimeout)
	}
	if o.Via != nil {
		if err := validateVia(o.Via); err != nil {
			return err
		}
	}
	return nil
}

func validateVia(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("via %q: want the URL of an HTTP forward proxy, e.g. http://127.0.0.1:15001", u)
	}
	return nil
}

// ParseVia parses the URL of a forward proxy (--via).
func ParseVia(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("via %q: %w", s, err)
	}
	if err := validateVia(u); err != nil {
		return nil, err
	}
	return u, nil
}

// withDefaults fills the zero values that select defaults.
func (o Options) withDefaults() Options {
	if o.MaxRequests == 0 {
		o.MaxRequests = defaultMaxRequests
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = defaultMaxWorkers
	}
	if o.MaxBody == 0 {
		o.MaxBody = defaultMaxBody
	}
	if o.SettleResponses == 0 {
		o.SettleResponses = DefaultSettleResponses
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = DefaultSettleTimeout
	}
	return o
}

// Probe is one attack: what to send, how much and how to read each
// response. What to expect of the responses is the caller's: loadgen
// classifies and orders, the caller's Sink decides.
type Probe struct {
	Target   Target
	Options  Options
	Classify Classifier
	// Map turns raw classified values into versions; nil takes raw values
	// as versions.
	Map VersionMap
	// Check, when set, tests each response's headers; a response that
	// fails it carries the failed condition in Record.Unmet.
	Check HeaderCheck
}

// Validate checks the whole probe.
func (p Probe) Validate() error {
	if err := p.Target.Validate(); err != nil {
		return err
	}
	if err := p.Options.Validate(); err != nil {
		return err
	}
	if p.Map != nil && p.Classify.IsZero() {
		return errors.New("version map: it maps classified values, but no classifier is set")
	}
	return p.Map.Validate()
}
