// Package kwait waits for a condition over one kind of Kubernetes object by
// listing and then watching from the list's resourceVersion, re-listing when
// the watch ends. It needs no informer machinery (and so no WatchList
// support from the server or a fake clientset).
package kwait

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Source lists and watches the objects a condition is about.
type Source struct {
	// List returns the objects and the list's resourceVersion.
	List func(ctx context.Context) (objs []runtime.Object, resourceVersion string, err error)
	// Watch watches from resourceVersion.
	Watch func(ctx context.Context, resourceVersion string) (watch.Interface, error)
}

// Objects is the current state: objects by "namespace/name" (or "name").
type Objects map[string]runtime.Object

// RetryDelay is the pause before re-listing after a failed List or Watch
// (an API server that is still starting refuses connections).
var RetryDelay = time.Second

// Until calls done with the current objects after the first list and after
// every watch event, and returns nil as soon as done returns true. It returns
// ctx's error, wrapped with the last API error if any, when ctx ends first.
func Until(ctx context.Context, src Source, done func(Objects) bool) error {
	var lastErr error
	for {
		objs, rv, err := src.List(ctx)
		if err == nil {
			state := Objects{}
			for _, o := range objs {
				state[key(o)] = o
			}
			if done(state) {
				return nil
			}
			var finished bool
			finished, err = follow(ctx, src, rv, state, done)
			if finished {
				return nil
			}
		}
		if err != nil {
			lastErr = err
		}
		if ctx.Err() != nil {
			if lastErr != nil {
				return fmt.Errorf("%w (last API error: %v)", ctx.Err(), lastErr)
			}
			return ctx.Err()
		}
		if err != nil {
			t := time.NewTimer(RetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
}

// follow applies watch events to state until done, the watch ends (nil
// error: re-list) or fails.
func follow(ctx context.Context, src Source, rv string, state Objects, done func(Objects) bool) (bool, error) {
	w, err := src.Watch(ctx, rv)
	if err != nil {
		return false, err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				state[key(ev.Object)] = ev.Object
			case watch.Deleted:
				delete(state, key(ev.Object))
			case watch.Error:
				return false, fmt.Errorf("watch: %v", ev.Object)
			default:
				continue
			}
			if done(state) {
				return true, nil
			}
		}
	}
}

func key(o runtime.Object) string {
	m, err := meta.Accessor(o)
	if err != nil {
		return fmt.Sprintf("%T", o)
	}
	if m.GetNamespace() == "" {
		return m.GetName()
	}
	return m.GetNamespace() + "/" + m.GetName()
}

// ListWatch makes a Source from a typed client's List and Watch methods, such
// as client.CoreV1().Nodes().List and .Watch.
func ListWatch[L runtime.Object](
	list func(context.Context, metav1.ListOptions) (L, error),
	watchFrom func(context.Context, metav1.ListOptions) (watch.Interface, error),
) Source {
	return Source{
		List: func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := list(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			objs, err := meta.ExtractList(l)
			if err != nil {
				return nil, "", fmt.Errorf("reading the list: %w", err)
			}
			acc, err := meta.ListAccessor(l)
			if err != nil {
				return nil, "", fmt.Errorf("reading the list: %w", err)
			}
			return objs, acc.GetResourceVersion(), nil
		},
		Watch: func(ctx context.Context, rv string) (watch.Interface, error) {
			return watchFrom(ctx, metav1.ListOptions{ResourceVersion: rv})
		},
	}
}
