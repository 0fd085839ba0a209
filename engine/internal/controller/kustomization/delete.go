package kustomization

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// remotePoll is how often a wait on a remote cluster looks again: the
// engine has no watches there, so remote waits poll, as Flux's do.
const remotePoll = 5 * time.Second

// finalize carries out spec.deletionPolicy and only then removes the
// finalizer. A failed deletion keeps the finalizer and is retried; a
// WaitForTermination policy keeps it until the objects are gone or
// spec.timeout has passed since the deletion began, without blocking a
// worker: watches on the terminating objects requeue it.
func (r *Reconciler) finalize(ctx context.Context, o *kustomizev1.Kustomization) (ctrl.Result, error) {
	if apply.DeletesObjects(o) {
		res, err := r.deleteObjects(ctx, o)
		if err != nil || !res.IsZero() {
			return res, err
		}
	}
	r.waits.Clear(client.ObjectKeyFromObject(o))
	r.builds.drop(client.ObjectKeyFromObject(o))
	return ctrl.Result{}, reconcile.RemoveFinalizer(ctx, r.Client, o, finalizer)
}

// deleteObjects deletes the inventory of o on its cluster, as its account.
func (r *Reconciler) deleteObjects(ctx context.Context, o *kustomizev1.Kustomization) (ctrl.Result, error) {
	objs, err := apply.StaleObjects(o.Status.Inventory, nil)
	if err != nil {
		r.event(o, corev1.EventTypeWarning, "unable to delete objects: %v", err)
		return ctrl.Result{}, nil
	}
	c, err := r.clusterFor(ctx, o)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("garbage collecting on delete: %w", err)
	}
	if ok, err := r.accountExists(ctx, o.Namespace, c); err != nil {
		return ctrl.Result{}, fmt.Errorf("garbage collecting on delete: %w", err)
	} else if !ok {
		// Acting as an account that is gone can only fail: leave the
		// objects, say so, and let the Kustomization go, as Flux does.
		r.event(o, corev1.EventTypeWarning, "unable to delete objects, service account '%s/%s' not found:\n%s",
			o.Namespace, c.Account, strings.Join(apply.IDs(objs), "\n"))
		return ctrl.Result{}, nil
	}
	d, err := apply.Delete(ctx, c, o, objs)
	if d.Changes != "" {
		r.event(o, corev1.EventTypeNormal, "%s", d.Changes)
	}
	if err != nil {
		r.event(o, corev1.EventTypeWarning, "pruning for deleted resource failed: %v", err)
		return ctrl.Result{}, fmt.Errorf("garbage collecting on delete: %w", err)
	}
	if o.GetDeletionPolicy() != kustomizev1.DeletionPolicyWaitForTermination {
		return ctrl.Result{}, nil
	}
	return r.awaitTermination(ctx, o, c, append(d.Terminating, d.Deleted...))
}

// awaitTermination requeues o until objs are gone from its cluster, or
// gives up with a warning once spec.timeout has passed since o's deletion
// began.
func (r *Reconciler) awaitTermination(ctx context.Context, o *kustomizev1.Kustomization, c *apply.Cluster, objs []*unstructured.Unstructured) (ctrl.Result, error) {
	if len(objs) == 0 {
		return ctrl.Result{}, nil
	}
	fresh := false
	if c.Local {
		// Register before reading, as wait does: a removal after the
		// reads below requeues through the watch.
		checked := make([]object.ObjMetadata, 0, len(objs))
		kinds := map[schema.GroupVersionKind]bool{}
		for _, u := range objs {
			checked = append(checked, object.UnstructuredToObjMetadata(u))
			kinds[u.GroupVersionKind()] = true
		}
		r.waits.Set(client.ObjectKeyFromObject(o), checked, &waitState{start: o.DeletionTimestamp.Time})
		for gvk := range kinds {
			// A new watch registers its handler asynchronously, and a
			// removal before that leaves nothing to replay: look again
			// soon, once.
			fresh = fresh || !r.waits.Watching(r.waitCache(), gvk)
			if err := r.watch(gvk, false); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	left, err := apply.Remaining(ctx, c, objs)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(left) == 0 {
		return ctrl.Result{}, nil
	}
	timeout := o.GetTimeout()
	remaining := time.Until(o.DeletionTimestamp.Add(timeout))
	if remaining <= 0 {
		// Flux's behaviour: stop waiting, say so, let the Kustomization go.
		msg := fmt.Sprintf("failed to wait for resources termination: timeout after %s waiting for: [%s]", timeout, strings.Join(apply.IDs(left), ", "))
		ctrl.LoggerFrom(ctx).Info("deletion wait timed out", "waiting", len(left), "timeout", timeout)
		r.event(o, corev1.EventTypeWarning, "%s", msg)
		return ctrl.Result{}, nil
	}
	switch {
	case !c.Local:
		remaining = min(remaining, remotePoll)
	case fresh:
		remaining = min(remaining, time.Second)
	}
	return ctrl.Result{RequeueAfter: remaining}, nil
}

// event records an event about o for its last applied revision; its
// reason is o's Ready reason, as Flux's events have.
func (r *Reconciler) event(o *kustomizev1.Kustomization, typ, format string, args ...any) {
	if r.Recorder == nil {
		return
	}
	reason := conditions.GetReason(o, meta.ReadyCondition)
	if reason == "" {
		reason = meta.ProgressingReason
	}
	var ann map[string]string
	if o.Status.LastAppliedRevision != "" {
		ann = map[string]string{ownerGroup + "/revision": o.Status.LastAppliedRevision}
	}
	r.Recorder.AnnotatedEventf(o, ann, typ, reason, format, args...)
}
