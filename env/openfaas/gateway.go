package openfaas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env/kube"
)

// The gateway's API, as faas-provider serves it (github.com/openfaas/
// faas-provider serve.go) and faas-netes implements it (pkg/handlers/
// deploy.go, update.go, delete.go, replica_reader.go).
const (
	// GatewayPort is the gateway container's HTTP port (the chart's
	// Service gateway, port 8080).
	GatewayPort = fnapi.GatewayPort
	// BasicAuthSecret is the chart's Secret of the admin credentials, in
	// Namespace (templates/secret.yaml).
	BasicAuthSecret = "basic-auth"
	// basicAuthUserKey and basicAuthPasswordKey are its keys.
	basicAuthUserKey     = "basic-auth-user"
	basicAuthPasswordKey = "basic-auth-password"
	// functionsPath takes POST (deploy: faas-netes deploy.go), PUT (update:
	// update.go) and DELETE (delete.go, body {"functionName": ...}).
	functionsPath = "/system/functions"
	// functionPath + name takes GET: the function's status, with
	// availableReplicas (replica_reader.go).
	functionPath = "/system/function/"
	// DefaultGatewayPoll is how often WaitReady reads the function's status.
	DefaultGatewayPoll = time.Second
	// maxErrorBody bounds the gateway's error text quoted in errors.
	maxErrorBody = 512
)

// Gateway is a client of the OpenFaaS gateway's REST API, authenticated
// with basic auth as faas-cli is.
type Gateway struct {
	// URL is the gateway's base URL (http://127.0.0.1:port through a
	// port-forward).
	URL string
	// User and Password are the basic-auth credentials (BasicAuth).
	User, Password string
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Poll is how often WaitReady reads the status; 0 means
	// DefaultGatewayPoll.
	Poll time.Duration
}

// StatusError is a gateway answer other than the one the call expects.
type StatusError struct {
	// Method and Path are the request's.
	Method, Path string
	// Function is the function the call was about.
	Function string
	// Status is the HTTP status code; Body the start of the answer's text.
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("OpenFaaS gateway: %s %s for function %s: %d %s", e.Method, e.Path, e.Function, e.Status, http.StatusText(e.Status))
	if e.Status == http.StatusUnauthorized {
		msg += " (the credentials of Secret " + Namespace + "/" + BasicAuthSecret + " were refused)"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// BasicAuth reads the admin credentials from the chart's Secret basic-auth
// in Namespace (keys basic-auth-user, "admin" when absent, and
// basic-auth-password).
func BasicAuth(ctx context.Context, client kubernetes.Interface) (user, password string, err error) {
	sec, err := client.CoreV1().Secrets(Namespace).Get(ctx, BasicAuthSecret, metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read the OpenFaaS gateway's credentials (Secret %s/%s): %w", Namespace, BasicAuthSecret, err)
	}
	pw := string(sec.Data[basicAuthPasswordKey])
	if pw == "" {
		return "", "", fmt.Errorf("Secret %s/%s has no key %s", Namespace, BasicAuthSecret, basicAuthPasswordKey)
	}
	user = string(sec.Data[basicAuthUserKey])
	if user == "" {
		user = "admin"
	}
	return user, pw, nil
}

// GatewayPod returns a ready pod of the gateway Deployment (label
// app=gateway in Namespace), the target of the port-forward.
func GatewayPod(ctx context.Context, client kubernetes.Interface) (string, error) {
	pods, err := client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + GatewayDeployment})
	if err != nil {
		return "", fmt.Errorf("find the OpenFaaS gateway pod in namespace %s: %w", Namespace, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && kube.PodReady(p) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no ready OpenFaaS gateway pod (label app=%s) in namespace %s (%d pods)", GatewayDeployment, Namespace, len(pods.Items))
}

// Deploy creates the function name, or updates it when it exists: POST
// /system/functions when GET /system/function/<name> answers 404, else
// PUT. body is the FunctionDeployment JSON (faas-provider
// types.FunctionDeployment), sent as it marshals.
func (g *Gateway) Deploy(ctx context.Context, name string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("OpenFaaS function %s: encode the deployment: %w", name, err)
	}
	_, err = g.status(ctx, name)
	method := http.MethodPut
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		method = http.MethodPost
	case err != nil:
		return err
	}
	// faas-netes answers 202 Accepted to both (deploy.go, update.go).
	_, err = g.do(ctx, method, functionsPath, nil, name, data, http.StatusAccepted, http.StatusOK)
	return err
}

// functionStatus is the part of faas-provider's types.FunctionStatus
// meshcheck reads.
type functionStatus struct {
	Name              string `json:"name"`
	Replicas          uint64 `json:"replicas"`
	AvailableReplicas uint64 `json:"availableReplicas"`
}

func (g *Gateway) status(ctx context.Context, name string) (functionStatus, error) {
	q := url.Values{"namespace": {FunctionNamespace}}
	data, err := g.do(ctx, http.MethodGet, functionPath+url.PathEscape(name), q, name, nil, http.StatusOK)
	if err != nil {
		return functionStatus{}, err
	}
	var st functionStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return functionStatus{}, fmt.Errorf("OpenFaaS gateway: GET %s%s: read the status of function %s: %w", functionPath, name, name, err)
	}
	return st, nil
}

// WaitReady polls the function's status until it has at least one
// available replica, within timeout. A status call that fails other than
// with 404 (the function not listed yet) ends the wait with its error.
func (g *Gateway) WaitReady(ctx context.Context, name string, timeout time.Duration) error {
	poll := g.Poll
	if poll <= 0 {
		poll = DefaultGatewayPoll
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(poll)
	defer t.Stop()
	last := "not checked yet"
	for {
		st, err := g.status(ctx, name)
		var se *StatusError
		switch {
		case err == nil && st.AvailableReplicas >= 1:
			return nil
		case err == nil:
			last = fmt.Sprintf("%d of %d replicas available", st.AvailableReplicas, st.Replicas)
		case errors.As(err, &se) && se.Status == http.StatusNotFound:
			last = "not listed by the gateway yet"
		case ctx.Err() != nil:
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("OpenFaaS function %s is not ready after %s (%s): %w", name, timeout, last, ctx.Err())
		case <-t.C:
		}
	}
}

// Delete removes the function: DELETE /system/functions with
// {"functionName": name} (faas-provider types.DeleteFunctionRequest). A
// function that does not exist is not an error.
func (g *Gateway) Delete(ctx context.Context, name string) error {
	data, err := json.Marshal(map[string]string{"functionName": name, "namespace": FunctionNamespace})
	if err != nil {
		return fmt.Errorf("OpenFaaS function %s: %w", name, err)
	}
	q := url.Values{"namespace": {FunctionNamespace}}
	_, err = g.do(ctx, http.MethodDelete, functionsPath, q, name, data, http.StatusAccepted, http.StatusOK, http.StatusNotFound)
	return err
}

// do sends one request and returns the answer's body when its status is
// one of ok.
func (g *Gateway) do(ctx context.Context, method, path string, q url.Values, fn string, body []byte, ok ...int) ([]byte, error) {
	u := strings.TrimSuffix(g.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("OpenFaaS gateway: %s %s for function %s: %w", method, path, fn, err)
	}
	req.SetBasicAuth(g.User, g.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := g.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("OpenFaaS gateway: %s %s for function %s: %w", method, path, fn, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("OpenFaaS gateway: %s %s for function %s: read the answer: %w", method, path, fn, err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return data, nil
		}
	}
	text := strings.TrimSpace(string(data))
	if len(text) > maxErrorBody {
		text = text[:maxErrorBody] + "..."
	}
	return nil, &StatusError{Method: method, Path: path, Function: fn, Status: resp.StatusCode, Body: text}
}
