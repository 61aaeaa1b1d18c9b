package kwait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

func cm(name, v string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string]string{"v": v}}
}

func ready(objs Objects) bool {
	o, ok := objs["ns/a"]
	return ok && o.(*corev1.ConfigMap).Data["v"] == "ready"
}

// script is a Source whose lists and watches are played in order.
type script struct {
	lists   []func() ([]runtime.Object, string, error)
	watches []*watch.FakeWatcher
	rvs     []string
}

func (s *script) source() Source {
	return Source{
		List: func(context.Context) ([]runtime.Object, string, error) {
			f := s.lists[0]
			s.lists = s.lists[1:]
			return f()
		},
		Watch: func(_ context.Context, rv string) (watch.Interface, error) {
			s.rvs = append(s.rvs, rv)
			w := s.watches[0]
			s.watches = s.watches[1:]
			return w, nil
		},
	}
}

func TestUntilFollowsWatchAndRelistsWhenItCloses(t *testing.T) {
	w1, w2 := watch.NewFakeWithChanSize(4, false), watch.NewFakeWithChanSize(4, false)
	w1.Add(cm("b", "x")) // unrelated object
	w1.Stop()            // the server ends the watch: re-list
	w2.Modify(cm("a", "ready"))
	s := &script{
		lists: []func() ([]runtime.Object, string, error){
			func() ([]runtime.Object, string, error) { return []runtime.Object{cm("a", "starting")}, "10", nil },
			func() ([]runtime.Object, string, error) { return []runtime.Object{cm("a", "starting")}, "20", nil },
		},
		watches: []*watch.FakeWatcher{w1, w2},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Until(ctx, s.source(), ready); err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.rvs, ",") != "10,20" {
		t.Errorf("watched from %v, want each list's resourceVersion", s.rvs)
	}
}

func TestUntilRetriesListErrorsAndReportsTheLast(t *testing.T) {
	old := RetryDelay
	RetryDelay = time.Millisecond
	defer func() { RetryDelay = old }()
	s := &script{lists: []func() ([]runtime.Object, string, error){
		func() ([]runtime.Object, string, error) { return nil, "", errors.New("connection refused") },
		func() ([]runtime.Object, string, error) { return []runtime.Object{cm("a", "ready")}, "1", nil },
	}}
	if err := Until(context.Background(), s.source(), ready); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	failing := Source{
		List: func(context.Context) ([]runtime.Object, string, error) {
			return nil, "", errors.New("connection refused")
		},
		Watch: func(context.Context, string) (watch.Interface, error) { return nil, errors.New("unused") },
	}
	err := Until(ctx, failing, ready)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %v, want the deadline with the last API error", err)
	}
}

func TestUntilDeletedObjectsLeaveTheState(t *testing.T) {
	w := watch.NewFakeWithChanSize(4, false)
	w.Delete(cm("a", "ready"))
	w.Add(cm("c", "x"))
	var seen []int
	s := &script{
		lists:   []func() ([]runtime.Object, string, error){func() ([]runtime.Object, string, error) { return []runtime.Object{cm("a", "ready-ish")}, "1", nil }},
		watches: []*watch.FakeWatcher{w},
	}
	err := Until(context.Background(), s.source(), func(o Objects) bool {
		seen = append(seen, len(o))
		_, hasA := o["ns/a"]
		return !hasA && len(o) == 1
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0] != 1 || seen[1] != 0 || seen[2] != 1 {
		t.Errorf("state sizes %v, want [1 0 1]", seen)
	}
}
