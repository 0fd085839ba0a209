package kustomization

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// Health checking is driven by watches, not by a poll (apply.Waits): a
// requeue by a watch only re-reads health from the cache; the revision is
// not fetched, built or applied again.

// waitState is what a waiting Kustomization needs to resume without
// re-applying.
type waitState struct {
	revision   string
	generation int64
	applied    object.ObjMetadataSet
	start      time.Time
	transforms []string
	inventory  *kustomizev1.ResourceInventory
	digest     string
	requested  string // reconcile.fluxcd.io/requestedAt when the wait began
}

// watch starts watching gvk once for the waits, through the cache health
// is read from: the stubs, and the full cache too for a kind judged from
// whole objects (the two see a change at different moments).
func (r *Reconciler) watch(gvk schema.GroupVersionKind, whole bool) error {
	if err := r.waits.Watch(r.ctrl, r.waitCache(), gvk); err != nil {
		return err
	}
	if whole && r.waitCache() != r.cache {
		return r.waits.Watch(r.ctrl, r.cache, gvk)
	}
	return nil
}

// waitCache is the cache waits watch: the health stubs when there are.
func (r *Reconciler) waitCache() cache.Cache {
	if r.stubs == nil {
		return r.cache
	}
	return r.stubs.Cache()
}

var errHealthFailed = errors.New("health check failed")

// wait judges the health of what the Kustomization waits on. It never
// blocks: while objects progress it returns Pending and a watch on them
// requeues it; it fails on a Failed object or once the timeout has passed.
func (r *Reconciler) wait(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	key := types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
	todo := apply.Checks(o, s.applied)
	if len(todo) == 0 {
		r.waits.Clear(key)
		conditions.Delete(o, meta.HealthyCondition)
		return nil
	}
	exprs, err := apply.CELEvaluators(o)
	if err != nil {
		return reconcile.Stall(meta.HealthCheckFailedReason, err)
	}
	start := time.Now()
	if ws := s.resume; ws != nil {
		start = ws.start
	}
	// Register the wait before reading the cache: an informer updates its
	// store before it calls the handlers, so a change that lands before
	// this point is seen by the reads below, and one that lands after it
	// requeues through the index. Nothing is lost in between.
	r.waits.Set(key, todo, &waitState{revision: s.revision, generation: o.Generation, applied: s.applied,
		start: start, transforms: s.transforms, inventory: s.inventory, digest: s.digest, requested: o.Annotations[meta.ReconcileRequestAnnotation]})
	rep, err := r.health.Judge(ctx, o, s.cluster, todo, apply.Versions(o, s.inventory), exprs, r.watch)
	if err != nil {
		return reconcile.Retry(meta.HealthCheckFailedReason, err)
	}
	timeout := o.GetTimeout()
	switch {
	case len(rep.Failed) > 0:
		r.waits.Clear(key)
		msg := fmt.Sprintf("health check failed after %s: failed: [%s]", time.Since(start).Round(time.Millisecond), strings.Join(rep.Failed, ", "))
		conditions.MarkFalse(o, meta.HealthyCondition, meta.HealthCheckFailedReason, "%s", msg)
		return reconcile.Retry(meta.HealthCheckFailedReason, fmt.Errorf("%w: %s", errHealthFailed, msg))
	case len(rep.Pending) > 0 && time.Since(start) >= timeout:
		r.waits.Clear(key)
		msg := fmt.Sprintf("health check failed after %s: timeout waiting for: [%s]", timeout, strings.Join(rep.Pending, ", "))
		conditions.MarkFalse(o, meta.HealthyCondition, meta.HealthCheckFailedReason, "%s", msg)
		return reconcile.Retry(meta.HealthCheckFailedReason, fmt.Errorf("%w: %s", errHealthFailed, msg))
	case len(rep.Pending) > 0:
		ctrl.LoggerFrom(ctx).V(1).Info("health pending", "pending", rep.Pending)
		msg := fmt.Sprintf("Running health checks for revision %s with a timeout of %s", s.revision, timeout)
		conditions.MarkUnknown(o, meta.HealthyCondition, meta.ProgressingReason, "%s", msg)
		after := timeout - time.Since(start)
		if !s.cluster.Local {
			after = min(after, remotePoll) // no watches on a remote cluster
		}
		return reconcile.Pending(meta.ProgressingReason, msg, after)
	}
	r.waits.Clear(key)
	if s.changed || s.resume != nil || !conditions.IsTrue(o, meta.HealthyCondition) {
		// Left as it is when it already passed and nothing changed since,
		// so a reconcile that changed nothing writes no status.
		conditions.MarkTrue(o, meta.HealthyCondition, meta.SucceededReason, "Health check passed in %s", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
