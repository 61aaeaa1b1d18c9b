//go:build controlplane

package authzgen_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/internal/authzgen"
	"github.com/meshcheck/meshcheck/internal/istiodtest"
	"github.com/meshcheck/meshcheck/mesh"
)

// batchSize is how many configs are applied to istiod at once.
const batchSize = 100

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// TestControlPlaneAuthzCorpus judges AUTHZGEN_CONFIGS generated
// authorization configs (seed AUTHZGEN_SEED) by the model (mesh.Model.Access)
// and by istiod: the RBAC filters of the target sidecar's inbound filter
// chain for the request's port and transport, run through
// istiodtest.EvalRBAC, or no chain at all (STRICT refuses plaintext: the
// model's 503). Every disagreement fails the test.
func TestControlPlaneAuthzCorpus(t *testing.T) {
	n := envInt(t, "AUTHZGEN_CONFIGS", 300)
	seed := envInt(t, "AUTHZGEN_SEED", 1)
	start := time.Now()
	configs, err := authzgen.Generate(uint64(seed), n)
	if err != nil {
		t.Fatal(err)
	}
	cp := istiodtest.Start(t)
	ctx := context.Background()
	var requests, agreedRequests, agreedConfigs, bad int
	outcomes := map[string]int{}
	for b := 0; b < len(configs); b += batchSize {
		batch := configs[b:min(b+batchSize, len(configs))]
		var objs []runtime.Object
		for _, c := range batch {
			objs = append(objs, c.Objects...)
		}
		if err := cp.Apply(ctx, objs); err != nil {
			t.Fatalf("batch at config %d: %v", b, err)
		}
		if err := cp.Stamp(objs); err != nil {
			t.Fatal(err)
		}
		snaps, err := readTargets(ctx, cp, batch)
		if err != nil {
			t.Fatal(err)
		}
		for k, c := range batch {
			cfg, err := mesh.NewConfig(c.Objects)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			model := mesh.New(cfg)
			ok := true
			for _, req := range c.Requests {
				requests++
				got := model.Access(req)
				want, detail, err := envoyAccess(snaps[k], req)
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				outcomes[strconv.Itoa(want)]++
				if got.Status == want {
					agreedRequests++
					continue
				}
				ok = false
				bad++
				if bad <= 25 {
					t.Errorf("%s: %s %s%s port %d from %q mTLS=%v headers %v: model %d (%s); istiod %d (%s)",
						c, req.Method, req.Host, req.Path, req.Port, req.Source.Principal(), req.MTLS, req.Headers,
						got.Status, got.Reason, want, detail)
				}
			}
			if ok {
				agreedConfigs++
			}
		}
	}
	t.Logf("authz corpus seed %d: %d configs, %d requests; istiod's outcomes %v; agreement: %d/%d configs (%.2f%%), %d/%d requests (%.2f%%); %s",
		seed, n, requests, outcomes, agreedConfigs, n, 100*float64(agreedConfigs)/float64(n),
		agreedRequests, requests, 100*float64(agreedRequests)/float64(requests), time.Since(start).Round(time.Second))
	if bad > 0 {
		t.Errorf("%d requests disagree", bad)
	}
}

// envoyAccess is istiod's answer for one request: 503 when the target's
// inbound listener has no filter chain for the port and transport (Envoy
// refuses the connection), else 403 or 0 by its RBAC filters.
func envoyAccess(snap *istiodtest.Snapshot, req mesh.AccessRequest) (int, string, error) {
	filters, ok, err := snap.InboundRBAC(req.Port, req.MTLS)
	if err != nil {
		return 0, "", err
	}
	if !ok {
		return 503, fmt.Sprintf("no inbound filter chain for port %d mTLS=%v", req.Port, req.MTLS), nil
	}
	r := istiodtest.RBACRequest{Port: req.Port, Method: req.Method, Authority: req.Host, Path: req.Path, Headers: req.Headers}
	if req.MTLS {
		r.PeerURISAN = req.Source.SPIFFE()
	}
	allowed, policy, err := istiodtest.EvalRBAC(filters, r)
	if err != nil {
		return 0, "", err
	}
	if !allowed {
		return 403, fmt.Sprintf("%d RBAC filters deny (%s)", len(filters), policy), nil
	}
	return 0, fmt.Sprintf("%d RBAC filters allow (%s)", len(filters), policy), nil
}

// readTargets reads the sidecar of every config's target, a few at a time.
func readTargets(ctx context.Context, cp *istiodtest.ControlPlane, batch []authzgen.Config) ([]*istiodtest.Snapshot, error) {
	out := make([]*istiodtest.Snapshot, len(batch))
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []string
	)
	ch := make(chan int)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				snap, err := cp.Read(ctx, cp.SidecarOf(batch[k].Target))
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					out[k] = snap
				}
				mu.Unlock()
			}
		}()
	}
	for k := range batch {
		ch <- k
	}
	close(ch)
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("read %d sidecars: %s", len(errs), strings.Join(errs[:1], ""))
	}
	return out, nil
}
