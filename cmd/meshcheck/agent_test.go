package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAgentCommand starts `meshcheck agent` in-process on a free port, checks
// readiness and a limit, and shuts it down through its context.
func TestAgentCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logR, logW := io.Pipe()
	cmd := newRootCommand()
	cmd.SetArgs([]string{"agent", "--listen", "127.0.0.1:0", "--max-rate", "10"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(logW)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		logW.Close()
	}()

	addrs := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="agent listening" addr=(\S+)`)
		sc := bufio.NewScanner(logR)
		for sc.Scan() { // drain the log to its end
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("agent ended before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not log its address")
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}
	resp, err = http.Post(base+"/v1/probe", "application/json",
		bytes.NewReader([]byte(`{"target":{"url":"http://127.0.0.1:1/"},"rate":11}`)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "at most 10 requests per second") {
		t.Fatalf("over --max-rate: %s %s", resp.Status, body)
	}

	cancel()
	select {
	case err := <-done:
		if code := exitCode(err); code != ExitPass {
			t.Fatalf("agent after shutdown: exit %d (%v)", code, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not shut down")
	}
}

func TestAgentCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"agent", "--max-concurrent", "0"}, ExitUsage, "max concurrent"},
		{[]string{"agent", "--listen", "127.0.0.1:99999"}, ExitEnvironment, "--listen"},
		{[]string{"agent", "extra"}, ExitUsage, "unknown command"},
	} {
		code, _, errOut := probeExec(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
