package openfaas

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGateway is a loopback stand-in of the gateway API as faas-netes
// serves it: basic auth, POST/PUT/DELETE /system/functions, GET
// /system/function/<name>?namespace=openfaas-fn. A function becomes
// available after readyAfter status reads.
type fakeGateway struct {
	mu         sync.Mutex
	readyAfter int
	fns        map[string][]byte
	reads      map[string]int
	calls      []string
	fail       map[string]int // "METHOD path" -> status to answer
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "secret" {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	if st := f.fail[r.Method+" "+r.URL.Path]; st != 0 {
		http.Error(w, "injected failure", st)
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.URL.Path == functionsPath && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		var fd struct {
			Service   string `json:"service"`
			Namespace string `json:"namespace"`
		}
		if err := json.Unmarshal(body, &fd); err != nil || fd.Service == "" {
			http.Error(w, "validation failed", http.StatusBadRequest)
			return
		}
		_, exists := f.fns[fd.Service]
		if r.Method == http.MethodPost && exists {
			http.Error(w, "already exists", http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodPut && !exists {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		f.fns[fd.Service] = body
		w.WriteHeader(http.StatusAccepted)
	case r.URL.Path == functionsPath && r.Method == http.MethodDelete:
		var req struct {
			FunctionName string `json:"functionName"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.FunctionName == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, ok := f.fns[req.FunctionName]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.fns, req.FunctionName)
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(r.URL.Path, functionPath) && r.Method == http.MethodGet:
		if ns := r.URL.Query().Get("namespace"); ns != FunctionNamespace {
			http.Error(w, "namespace must be: openfaas-fn", http.StatusBadRequest)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, functionPath)
		if _, ok := f.fns[name]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		f.reads[name]++
		avail := 0
		if f.reads[name] > f.readyAfter {
			avail = 1
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "replicas": 1, "availableReplicas": avail})
	default:
		http.NotFound(w, r)
	}
}

func newFake(t *testing.T, readyAfter int) (*fakeGateway, *Gateway) {
	t.Helper()
	f := &fakeGateway{readyAfter: readyAfter, fns: map[string][]byte{}, reads: map[string]int{}, fail: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Gateway{URL: srv.URL, User: "admin", Password: "secret", HTTP: srv.Client(), Poll: time.Millisecond}
}

type deployment struct {
	Service   string            `json:"service"`
	Image     string            `json:"image"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

func TestGatewayDeployWaitDelete(t *testing.T) {
	f, g := newFake(t, 2)
	ctx := context.Background()
	body := deployment{Service: "hello-v1", Image: "fixture:1", Namespace: FunctionNamespace, Labels: map[string]string{"version": "v1"}}
	if err := g.Deploy(ctx, "hello-v1", body); err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	if err := g.WaitReady(ctx, "hello-v1", time.Minute); err != nil {
		t.Fatalf("WaitReady = %v", err)
	}
	// Deploying again updates (PUT), not a second POST.
	body.Image = "fixture:2"
	if err := g.Deploy(ctx, "hello-v1", body); err != nil {
		t.Fatalf("Deploy again = %v", err)
	}
	if !strings.Contains(string(f.fns["hello-v1"]), `"fixture:2"`) {
		t.Errorf("function after update = %s", f.fns["hello-v1"])
	}
	if err := g.Delete(ctx, "hello-v1"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if err := g.Delete(ctx, "hello-v1"); err != nil {
		t.Fatalf("Delete of a deleted function = %v, want nil", err)
	}
	want := []string{
		"GET /system/function/hello-v1", "POST /system/functions",
		"GET /system/function/hello-v1", "GET /system/function/hello-v1", "GET /system/function/hello-v1",
		"GET /system/function/hello-v1", "PUT /system/functions",
		"DELETE /system/functions", "DELETE /system/functions",
	}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestGatewayErrorsNameFunctionAndStatus(t *testing.T) {
	ctx := context.Background()
	_, g := newFake(t, 0)
	g.Password = "wrong"
	err := g.Deploy(ctx, "hello-v1", deployment{Service: "hello-v1"})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "hello-v1") || !strings.Contains(err.Error(), "Secret openfaas/basic-auth") {
		t.Errorf("Deploy with a wrong password = %v, want a 401 naming the function and the Secret", err)
	}

	f, g := newFake(t, 0)
	f.fail["POST /system/functions"] = http.StatusBadRequest
	err = g.Deploy(ctx, "hello-v2", deployment{Service: "hello-v2"})
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "POST /system/functions for function hello-v2: 400 Bad Request: injected failure") {
		t.Errorf("Deploy answered 400 = %v", err)
	}
	f.fail = map[string]int{"GET /system/function/hello-v2": http.StatusInternalServerError}
	err = g.WaitReady(ctx, "hello-v2", time.Minute)
	if !errors.As(err, &se) || se.Status != http.StatusInternalServerError || !strings.Contains(err.Error(), "hello-v2") {
		t.Errorf("WaitReady answered 500 = %v, want the 500 at once", err)
	}
	f.fail = map[string]int{"DELETE /system/functions": http.StatusBadGateway}
	if err := g.Delete(ctx, "hello-v2"); !errors.As(err, &se) || se.Status != http.StatusBadGateway {
		t.Errorf("Delete answered 502 = %v", err)
	}
}

func TestGatewayWaitReadyTimeout(t *testing.T) {
	_, g := newFake(t, 1<<30) // never available
	ctx := context.Background()
	if err := g.Deploy(ctx, "slow", deployment{Service: "slow"}); err != nil {
		t.Fatal(err)
	}
	err := g.WaitReady(ctx, "slow", 20*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "slow is not ready after 20ms (0 of 1 replicas available)") {
		t.Errorf("WaitReady = %v, want a timeout naming the function and its replicas", err)
	}
	if err := g.WaitReady(ctx, "absent", 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not listed by the gateway yet") {
		t.Errorf("WaitReady(absent) = %v", err)
	}
}
