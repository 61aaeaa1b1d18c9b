package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meshcheck/meshcheck/verify"
)

func mustCheck(t *testing.T, spec HeaderCheckSpec) HeaderCheck {
	t.Helper()
	c, err := NewHeaderCheck(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewHeaderCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		spec HeaderCheckSpec
		msg  string
	}{
		{HeaderCheckSpec{In: "request", Present: []string{"a"}}, "want response"},
		{HeaderCheckSpec{In: "body:", Present: []string{"a"}}, "dotted path"},
		{HeaderCheckSpec{In: "response"}, "give present"},
		{HeaderCheckSpec{In: "response", Present: []string{"x b"}}, "not a header name"},
		{HeaderCheckSpec{In: "response", Present: []string{"X-A", "x-a"}}, "given twice"},
		{HeaderCheckSpec{In: "response", Match: map[string]string{"a:b": "x"}}, "not a header name"},
		{HeaderCheckSpec{In: "response", Match: map[string]string{"a": "("}}, "not an RE2 expression"},
		{HeaderCheckSpec{In: "response", Match: map[string]string{"a": strings.Repeat("a", 2000)}}, "limit"},
	} {
		if _, err := NewHeaderCheck(tc.spec); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: err %v, want one containing %q", tc.spec, err, tc.msg)
		}
	}
}

func TestHeaderCheckUnmet(t *testing.T) {
	body := mustCheck(t, HeaderCheckSpec{In: "body:headers", Present: []string{"X-B3-TraceId"},
		Match: map[string]string{"x-forwarded-client-cert": `URI=spiffe://cluster\.local/ns/openfaas/sa/gw(;|,|$)`}})
	resp := mustCheck(t, HeaderCheckSpec{In: "response", Present: []string{"x-envoy-upstream-service-time"}})
	h := http.Header{"X-Envoy-Upstream-Service-Time": {"3"}}
	for _, tc := range []struct {
		c    HeaderCheck
		body string
		want string // "" for met
	}{
		{body, `{"headers":{"x-b3-traceid":"a","x-forwarded-client-cert":"By=spiffe://x;Hash=1;URI=spiffe://cluster.local/ns/openfaas/sa/gw"}}`, ""},
		{body, `{"headers":{"X-B3-TRACEID":"a","x-forwarded-client-cert":"URI=spiffe://cluster.local/ns/openfaas/sa/gw;By=x"}}`, ""},
		{body, `{"headers":{"x-forwarded-client-cert":"URI=spiffe://cluster.local/ns/openfaas/sa/gw"}}`, "header x-b3-traceid absent (in body:headers)"},
		{body, `{"headers":{"x-b3-traceid":"a","x-forwarded-client-cert":"URI=spiffe://cluster.local/ns/other/sa/gw"}}`, `header x-forwarded-client-cert is "URI=spiffe://cluster.local/ns/other/sa/gw"`},
		{body, `{"headers":{"x-b3-traceid":"a"}}`, "header x-forwarded-client-cert absent"},
		{body, `no healthy upstream`, "the body is not JSON (status 200)"},
		{body, `{"headers":"x"}`, "no JSON object there"},
		{resp, ``, ""},
	} {
		got := tc.c.unmet(200, h, []byte(tc.body))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s on %s: got %q, want %q", tc.c, tc.body, got, tc.want)
		}
	}
	if got := resp.unmet(200, http.Header{}, nil); !strings.Contains(got, "x-envoy-upstream-service-time absent (in response)") {
		t.Errorf("response check without the header: %q", got)
	}
	if s := body.String(); !strings.Contains(s, "x-b3-traceid present") || !strings.Contains(s, "(in body:headers)") {
		t.Errorf("String %q", s)
	}
	if !(HeaderCheck{}).IsZero() || body.IsZero() {
		t.Error("IsZero")
	}
}

// A status expectation with a header condition counts only the responses
// that meet it: a server whose every 10th response lacks the header fails,
// one that always sends it passes, and the failing condition is sampled.
func TestHeaderCheckJudged(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{"x-request-id": "r"}
		if n.Add(1)%10 != 0 || r.URL.Path == "/always" {
			h["x-b3-traceid"] = "t"
		}
		b, _ := json.Marshal(map[string]any{"headers": h})
		w.Write(b)
	}))
	defer srv.Close()
	exp := statusExpect(200)
	exp.Condition = "headers"
	check := mustCheck(t, HeaderCheckSpec{In: "body:headers", Present: []string{"x-b3-traceid"}})
	o := fastOptions(20000)
	o.SettleResponses = -1
	out, err := runJudged(context.Background(), judgedProbe{Target: Target{URL: srv.URL + "/sometimes"}, Options: o, Check: check, Expect: exp})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Verdict != verify.Fail || out.Stats.Unmet == 0 {
		t.Fatalf("verdict %v with %d unmet, want FAIL", out.Result.Verdict, out.Stats.Unmet)
	}
	s := out.Stats.UnmetSamples
	if len(s) != 1 || s[0].Text != "header x-b3-traceid absent (in body:headers)" || !strings.Contains(s[0].Body, "x-request-id") {
		t.Fatalf("samples %+v", s)
	}
	out, err = runJudged(context.Background(), judgedProbe{Target: Target{URL: srv.URL + "/always"}, Options: o, Check: check, Expect: exp})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Verdict != verify.Pass || out.Stats.Unmet != 0 {
		t.Fatalf("verdict %v with %d unmet, want PASS", out.Result.Verdict, out.Stats.Unmet)
	}
}

// The agent protocol carries the check.
func TestHeaderCheckAgentSpec(t *testing.T) {
	check := mustCheck(t, HeaderCheckSpec{In: "response", Match: map[string]string{"x-a": "^b$"}})
	s := specOf(Probe{Target: Target{URL: "http://a/"}, Options: DefaultOptions(), Check: check})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseAgentSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Check == nil || back.Check.In != "response" || back.Check.Match["x-a"] != "^b$" {
		t.Fatalf("spec %s read back as %+v", b, back.Check)
	}
	bad := strings.Replace(string(b), `"^b$"`, `"("`, 1)
	s2, err := ParseAgentSpec([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.resolve(DefaultAgentLimits()); err == nil || !strings.Contains(err.Error(), "RE2") {
		t.Fatalf("bad expression: %v", err)
	}
}

// FuzzHeaderCheck: any spec either fails NewHeaderCheck with an error or
// yields a check that judges any response without panicking.
func FuzzHeaderCheck(f *testing.F) {
	f.Add("body:headers", "x-b3-traceid", "x-forwarded-client-cert", `URI=spiffe://cluster\.local/ns/openfaas/sa/x`, `{"headers":{"x-b3-traceid":"1"}}`)
	f.Add("response", "x-a", "x-b", "(", "")
	f.Add("body:a.0.b", "", "a", ".*", `{"a":[{"b":{"A":["1","2"]}}]}`)
	f.Fuzz(func(t *testing.T, in, present, matchName, matchExpr, body string) {
		spec := HeaderCheckSpec{In: in}
		if present != "" {
			spec.Present = []string{present}
		}
		if matchName != "" {
			spec.Match = map[string]string{matchName: matchExpr}
		}
		c, err := NewHeaderCheck(spec)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		got := c.unmet(200, http.Header{"X-A": {"1"}}, []byte(body))
		if got != "" && !strings.Contains(got, c.Spec().In) {
			t.Fatalf("unmet %q does not say where headers were read (%s)", got, c.Spec().In)
		}
		_ = fmt.Sprint(c)
	})
}
