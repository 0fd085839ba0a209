package apply

import (
	"context"
	"fmt"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Waits drives health and termination waits by watch events, not by a
// poll: the first time an object waits on a kind, Watch starts an informer
// for it; while it waits, an index from each object it waits on back to it
// lets any change of that object requeue it at once. S is what the waiting
// object needs to resume (the controller's business).
type Waits[S any] struct {
	mu      sync.Mutex
	state   map[types.NamespacedName]wait[S]
	byObj   map[string]map[types.NamespacedName]bool
	watched map[watchKey]bool
}

// watchKey is a kind watched through one cache.
type watchKey struct {
	ca  cache.Cache
	gvk schema.GroupVersionKind
}

type wait[S any] struct {
	checked []object.ObjMetadata
	state   S
}

// NewWaits returns an empty index.
func NewWaits[S any]() *Waits[S] {
	return &Waits[S]{state: map[types.NamespacedName]wait[S]{},
		byObj: map[string]map[types.NamespacedName]bool{}, watched: map[watchKey]bool{}}
}

func objKey(gk schema.GroupKind, ns, name string) string {
	return gk.Group + "/" + gk.Kind + "/" + ns + "/" + name
}

// Get returns the state k waits with.
func (w *Waits[S]) Get(k types.NamespacedName) (S, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.state[k]
	return s.state, ok
}

// Set makes k wait on checked, replacing what it waited on before.
func (w *Waits[S]) Set(k types.NamespacedName, checked []object.ObjMetadata, s S) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(k)
	w.state[k] = wait[S]{checked: checked, state: s}
	for _, o := range checked {
		key := objKey(o.GroupKind, o.Namespace, o.Name)
		if w.byObj[key] == nil {
			w.byObj[key] = map[types.NamespacedName]bool{}
		}
		w.byObj[key][k] = true
	}
}

// Clear ends k's wait.
func (w *Waits[S]) Clear(k types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(k)
}

func (w *Waits[S]) clearLocked(k types.NamespacedName) {
	s, ok := w.state[k]
	if !ok {
		return
	}
	for _, o := range s.checked {
		key := objKey(o.GroupKind, o.Namespace, o.Name)
		delete(w.byObj[key], k)
		if len(w.byObj[key]) == 0 {
			delete(w.byObj, key)
		}
	}
	delete(w.state, k)
}

// WaitingOn returns who waits on the object.
func (w *Waits[S]) WaitingOn(gk schema.GroupKind, ns, name string) []types.NamespacedName {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []types.NamespacedName
	for k := range w.byObj[objKey(gk, ns, name)] {
		out = append(out, k)
	}
	return out
}

// InNamespace returns who waits in ns.
func (w *Waits[S]) InNamespace(ns string) []types.NamespacedName {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []types.NamespacedName
	for k := range w.state {
		if k.Namespace == ns {
			out = append(out, k)
		}
	}
	return out
}

// Watching tells whether Watch started a watch on gvk from ca.
func (w *Waits[S]) Watching(ca cache.Cache, gvk schema.GroupVersionKind) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watched[watchKey{ca, gvk}]
}

// Watch starts watching gvk through c once, from the informer cache ca, so
// changes of objects of that kind requeue whoever waits on them.
func (w *Waits[S]) Watch(c controller.Controller, ca cache.Cache, gvk schema.GroupVersionKind) error {
	k := watchKey{ca, gvk}
	w.mu.Lock()
	if w.watched[k] {
		w.mu.Unlock()
		return nil
	}
	w.watched[k] = true
	w.mu.Unlock()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := c.Watch(source.Kind[client.Object](ca, u, handler.EnqueueRequestsFromMapFunc(
		func(ctx context.Context, o client.Object) []ctrl.Request {
			var reqs []ctrl.Request
			for _, k := range w.WaitingOn(gvk.GroupKind(), o.GetNamespace(), o.GetName()) {
				reqs = append(reqs, ctrl.Request{NamespacedName: k})
			}
			if len(reqs) > 0 {
				ctrl.LoggerFrom(ctx).V(1).Info("health watch requeue", "object", o.GetNamespace()+"/"+o.GetName(), "kustomizations", len(reqs), "rv", o.GetResourceVersion())
			}
			return reqs
		})))
	if err != nil {
		w.mu.Lock()
		delete(w.watched, k)
		w.mu.Unlock()
		return fmt.Errorf("watching %s: %w", gvk, err)
	}
	return nil
}
