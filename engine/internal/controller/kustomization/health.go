package kustomization

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/cel"
	"github.com/fluxcd/pkg/runtime/conditions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// Health checking is driven by watches, not by a poll: the first time a
// Kustomization waits on a kind, the controller starts an informer for it;
// while a Kustomization waits, an index from each object it waits on back to
// it lets any change of that object requeue it at once. A requeue only
// re-reads health from the cache: the revision is not fetched, built or
// applied again.

// waitState is what a waiting Kustomization needs to resume without
// re-applying.
type waitState struct {
	revision   string
	generation int64
	applied    object.ObjMetadataSet
	checked    []object.ObjMetadata
	start      time.Time
	transforms []string
	inventory  *kustomizev1.ResourceInventory
	digest     string
	requested  string // reconcile.fluxcd.io/requestedAt when the wait began
}

// waiters tracks the waiting Kustomizations and the objects they wait on.
type waiters struct {
	mu      sync.Mutex
	state   map[types.NamespacedName]*waitState
	byObj   map[string]map[types.NamespacedName]bool
	watched map[schema.GroupVersionKind]bool
}

func newWaiters() *waiters {
	return &waiters{state: map[types.NamespacedName]*waitState{},
		byObj: map[string]map[types.NamespacedName]bool{}, watched: map[schema.GroupVersionKind]bool{}}
}

func objKey(gk schema.GroupKind, ns, name string) string {
	return gk.Group + "/" + gk.Kind + "/" + ns + "/" + name
}

func (w *waiters) get(k types.NamespacedName) (*waitState, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.state[k]
	return s, ok
}

func (w *waiters) set(k types.NamespacedName, s *waitState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(k)
	w.state[k] = s
	for _, o := range s.checked {
		key := objKey(o.GroupKind, o.Namespace, o.Name)
		if w.byObj[key] == nil {
			w.byObj[key] = map[types.NamespacedName]bool{}
		}
		w.byObj[key][k] = true
	}
}

func (w *waiters) clear(k types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clearLocked(k)
}

func (w *waiters) clearLocked(k types.NamespacedName) {
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

func (w *waiters) waitingOn(gk schema.GroupKind, ns, name string) []types.NamespacedName {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []types.NamespacedName
	for k := range w.byObj[objKey(gk, ns, name)] {
		out = append(out, k)
	}
	return out
}

func (w *waiters) inNamespace(ns string) []types.NamespacedName {
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

func (w *waiters) watching(gvk schema.GroupVersionKind) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watched[gvk]
}

// ensureWatch starts watching gvk once, so changes of objects of that kind
// requeue the Kustomizations waiting on them.
func (r *Reconciler) ensureWatch(gvk schema.GroupVersionKind) error {
	r.waiters.mu.Lock()
	if r.waiters.watched[gvk] {
		r.waiters.mu.Unlock()
		return nil
	}
	r.waiters.watched[gvk] = true
	r.waiters.mu.Unlock()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := r.ctrl.Watch(source.Kind[client.Object](r.cache, u, handler.EnqueueRequestsFromMapFunc(
		func(ctx context.Context, o client.Object) []ctrl.Request {
			var reqs []ctrl.Request
			for _, k := range r.waiters.waitingOn(gvk.GroupKind(), o.GetNamespace(), o.GetName()) {
				reqs = append(reqs, ctrl.Request{NamespacedName: k})
			}
			if len(reqs) > 0 {
				ctrl.LoggerFrom(ctx).V(1).Info("health watch requeue", "object", o.GetNamespace()+"/"+o.GetName(), "kustomizations", len(reqs), "rv", o.GetResourceVersion())
			}
			return reqs
		})))
	if err != nil {
		r.waiters.mu.Lock()
		delete(r.waiters.watched, gvk)
		r.waiters.mu.Unlock()
		return fmt.Errorf("watching %s: %w", gvk, err)
	}
	return nil
}

// alwaysCurrent kinds are healthy once applied: kstatus has nothing to wait
// for, so they need no informer.
var alwaysCurrent = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}: true, {Kind: "Secret"}: true, {Kind: "ServiceAccount"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}: true, {Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}: true, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: true,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}: true, {Kind: "LimitRange"}: true,
}

// checks returns what the Kustomization waits on: every applied object with
// wait, else spec.healthChecks.
func checks(o *kustomizev1.Kustomization, applied object.ObjMetadataSet) []object.ObjMetadata {
	if o.Spec.Wait {
		return applied
	}
	out := make([]object.ObjMetadata, 0, len(o.Spec.HealthChecks))
	for _, hc := range o.Spec.HealthChecks {
		gv, err := schema.ParseGroupVersion(hc.APIVersion)
		if err != nil {
			continue
		}
		ns := hc.Namespace
		out = append(out, object.ObjMetadata{GroupKind: schema.GroupKind{Group: gv.Group, Kind: hc.Kind}, Namespace: ns, Name: hc.Name})
	}
	return out
}

// healthPlugins maps apiVersion/kind to the health Plugin of the namespace
// that claims it (the first by name when several do).
func (r *Reconciler) healthPlugins(ctx context.Context, ns string) (map[string]*v1alpha1.Plugin, error) {
	var list v1alpha1.PluginList
	if err := r.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	out := map[string]*v1alpha1.Plugin{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.Health == nil || p.Spec.Suspend {
			continue
		}
		for _, k := range p.Spec.Health.Kinds {
			if _, taken := out[k.APIVersion+"/"+k.Kind]; !taken {
				out[k.APIVersion+"/"+k.Kind] = p
			}
		}
	}
	return out, nil
}

// verdict is the health of one object.
type verdict struct {
	status  status.Status
	message string
}

// objectHealth reads obj and judges it with a health plugin, a
// healthCheckExprs expression or kstatus, in that order. The engine's own
// identity reads the cache; an impersonated account or a remote cluster
// reads live, as that identity.
func (r *Reconciler) objectHealth(ctx context.Context, c *cluster, m object.ObjMetadata, version string,
	plugins map[string]*v1alpha1.Plugin, exprs map[schema.GroupKind]*cel.StatusEvaluator) verdict {
	gvk := m.GroupKind.WithVersion(version)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	key := client.ObjectKey{Namespace: m.Namespace, Name: m.Name}
	var err error
	if c.cached {
		// Outside the cache's namespaces, fall back to the live read.
		if err = r.cache.Get(ctx, key, u); err != nil && !apierrors.IsNotFound(err) {
			err = c.reader.Get(ctx, key, u)
		}
	} else {
		err = c.reader.Get(ctx, key, u)
	}
	if apierrors.IsNotFound(err) {
		return verdict{status.InProgressStatus, "not found"}
	} else if err != nil {
		return verdict{status.UnknownStatus, err.Error()}
	}
	if p, ok := plugins[gvk.GroupVersion().String()+"/"+gvk.Kind]; ok {
		e, loaded := r.Plugins.Get(wasm.Key{Namespace: p.Namespace, Name: p.Name})
		if !loaded {
			return verdict{status.InProgressStatus, fmt.Sprintf("health plugin '%s/%s' is not ready", p.Namespace, p.Name)}
		}
		res, err := e.Plugin.Health(ctx, u.Object)
		if err != nil {
			return verdict{status.FailedStatus, fmt.Sprintf("health plugin '%s/%s': %v", p.Namespace, p.Name, err)}
		}
		return verdict{status.Status(res.Status), res.Message}
	}
	if ev, ok := exprs[m.GroupKind]; ok {
		res, err := ev.Evaluate(ctx, u)
		if err != nil {
			return verdict{status.FailedStatus, err.Error()}
		}
		return verdict{res.Status, res.Message}
	}
	res, err := status.Compute(u)
	if err != nil {
		return verdict{status.UnknownStatus, err.Error()}
	}
	return verdict{res.Status, res.Message}
}

func celEvaluators(o *kustomizev1.Kustomization) (map[schema.GroupKind]*cel.StatusEvaluator, error) {
	out := map[schema.GroupKind]*cel.StatusEvaluator{}
	for _, hc := range o.Spec.HealthCheckExprs {
		gv, err := schema.ParseGroupVersion(hc.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("healthCheckExprs: %w", err)
		}
		ev, err := cel.NewStatusEvaluator(&hc.HealthCheckExpressions)
		if err != nil {
			return nil, fmt.Errorf("healthCheckExprs for %s/%s: %w", hc.APIVersion, hc.Kind, err)
		}
		out[schema.GroupKind{Group: gv.Group, Kind: hc.Kind}] = ev
	}
	return out, nil
}

// versions maps each group/kind to the version it was applied with (from
// the inventory this reconcile wrote, never a possibly stale cached status)
// and adds the versions spec.healthChecks names, for typed cache reads.
func versions(o *kustomizev1.Kustomization, inv *kustomizev1.ResourceInventory) map[schema.GroupKind]string {
	out := map[schema.GroupKind]string{}
	if inv != nil {
		for _, e := range inv.Entries {
			if m, err := object.ParseObjMetadata(e.ID); err == nil {
				out[m.GroupKind] = e.Version
			}
		}
	}
	for _, hc := range o.Spec.HealthChecks {
		if gv, err := schema.ParseGroupVersion(hc.APIVersion); err == nil {
			out[schema.GroupKind{Group: gv.Group, Kind: hc.Kind}] = gv.Version
		}
	}
	return out
}

var errHealthFailed = errors.New("health check failed")

// wait judges the health of what the Kustomization waits on. It never
// blocks: while objects progress it returns Pending and a watch on them
// requeues it; it fails on a Failed object or once the timeout has passed.
func (r *Reconciler) wait(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	key := types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
	todo := checks(o, s.applied)
	if len(todo) == 0 {
		r.waiters.clear(key)
		conditions.Delete(o, meta.HealthyCondition)
		return nil
	}
	plugins := map[string]*v1alpha1.Plugin{}
	if r.Plugins != nil {
		var err error
		if plugins, err = r.healthPlugins(ctx, o.Namespace); err != nil {
			return reconcile.Retry(meta.HealthCheckFailedReason, err)
		}
	}
	exprs, err := celEvaluators(o)
	if err != nil {
		return reconcile.Stall(meta.HealthCheckFailedReason, err)
	}
	vers := versions(o, s.inventory)
	start := time.Now()
	if ws := s.resume; ws != nil {
		start = ws.start
	}
	// Register the wait before reading the cache: an informer updates its
	// store before it calls the handlers, so a change that lands before
	// this point is seen by the reads below, and one that lands after it
	// requeues through waitingOn. Nothing is lost in between.
	r.waiters.set(key, &waitState{revision: s.revision, generation: o.Generation, applied: s.applied,
		checked: todo, start: start, transforms: s.transforms, inventory: s.inventory, digest: s.digest, requested: o.Annotations[meta.ReconcileRequestAnnotation]})
	var pending, failed []string
	for _, m := range todo {
		_, claimed := plugins[m.GroupKind.WithVersion(vers[m.GroupKind]).GroupVersion().String()+"/"+m.GroupKind.Kind]
		if alwaysCurrent[m.GroupKind] && !claimed {
			continue
		}
		if s.cluster.local {
			if err := r.ensureWatch(m.GroupKind.WithVersion(vers[m.GroupKind])); err != nil {
				return reconcile.Retry(meta.HealthCheckFailedReason, err)
			}
		}
		v := r.objectHealth(ctx, s.cluster, m, vers[m.GroupKind], plugins, exprs)
		id := m.GroupKind.Kind + "/" + m.Name
		if m.Namespace != "" {
			id = m.GroupKind.Kind + "/" + m.Namespace + "/" + m.Name
		}
		switch v.status {
		case status.CurrentStatus:
		case status.FailedStatus:
			failed = append(failed, fmt.Sprintf("%s: %s", id, v.message))
		default:
			pending = append(pending, fmt.Sprintf("%s: %s", id, strings.TrimSpace(string(v.status)+" "+v.message)))
		}
	}
	timeout := o.GetTimeout()
	switch {
	case len(failed) > 0:
		r.waiters.clear(key)
		msg := fmt.Sprintf("health check failed after %s: failed: [%s]", time.Since(start).Round(time.Millisecond), strings.Join(failed, ", "))
		conditions.MarkFalse(o, meta.HealthyCondition, meta.HealthCheckFailedReason, "%s", msg)
		return reconcile.Retry(meta.HealthCheckFailedReason, fmt.Errorf("%w: %s", errHealthFailed, msg))
	case len(pending) > 0 && time.Since(start) >= timeout:
		r.waiters.clear(key)
		msg := fmt.Sprintf("health check failed after %s: timeout waiting for: [%s]", timeout, strings.Join(pending, ", "))
		conditions.MarkFalse(o, meta.HealthyCondition, meta.HealthCheckFailedReason, "%s", msg)
		return reconcile.Retry(meta.HealthCheckFailedReason, fmt.Errorf("%w: %s", errHealthFailed, msg))
	case len(pending) > 0:
		ctrl.LoggerFrom(ctx).V(1).Info("health pending", "pending", pending)
		msg := fmt.Sprintf("Running health checks for revision %s with a timeout of %s", s.revision, timeout)
		conditions.MarkUnknown(o, meta.HealthyCondition, meta.ProgressingReason, "%s", msg)
		after := timeout - time.Since(start)
		if !s.cluster.local {
			after = min(after, remotePoll) // no watches on a remote cluster
		}
		return reconcile.Pending(meta.ProgressingReason, msg, after)
	}
	r.waiters.clear(key)
	conditions.MarkTrue(o, meta.HealthyCondition, meta.SucceededReason, "Health check passed in %s", time.Since(start).Round(time.Millisecond))
	return nil
}
