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
	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	if deletesObjects(o) {
		res, err := r.deleteObjects(ctx, o)
		if err != nil || !res.IsZero() {
			return res, err
		}
	}
	r.waiters.clear(client.ObjectKeyFromObject(o))
	return ctrl.Result{}, reconcile.RemoveFinalizer(ctx, r.Client, o, finalizer)
}

// deletesObjects tells whether deleting o deletes what it applied: never
// while suspended, else as spec.deletionPolicy says (by default, mirroring
// spec.prune).
func deletesObjects(o *kustomizev1.Kustomization) bool {
	if o.Spec.Suspend || o.Status.Inventory == nil || len(o.Status.Inventory.Entries) == 0 {
		return false
	}
	switch o.GetDeletionPolicy() {
	case kustomizev1.DeletionPolicyMirrorPrune:
		return o.Spec.Prune
	case kustomizev1.DeletionPolicyDelete, kustomizev1.DeletionPolicyWaitForTermination:
		return true
	default:
		return false
	}
}

// deleteObjects deletes the inventory of o on its cluster, as its account.
// Objects already terminating are not deleted again, so a requeue while
// waiting for termination only looks.
func (r *Reconciler) deleteObjects(ctx context.Context, o *kustomizev1.Kustomization) (ctrl.Result, error) {
	objs, err := staleObjects(o.Status.Inventory, &kustomizev1.ResourceInventory{})
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
			o.Namespace, c.account, strings.Join(ids(objs), "\n"))
		return ctrl.Result{}, nil
	}
	var live, terminating []*unstructured.Unstructured
	for _, u := range objs {
		cur, err := getLive(ctx, c.reader, u)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return ctrl.Result{}, fmt.Errorf("garbage collecting on delete: %w", err)
		case cur.GetDeletionTimestamp() != nil:
			terminating = append(terminating, u)
		default:
			live = append(live, u)
		}
	}
	cs, err := c.rm.DeleteAll(ctx, live, deleteOptions(o))
	var deleted []*unstructured.Unstructured
	if cs != nil {
		byID := map[string]*unstructured.Unstructured{}
		for _, u := range live {
			byID[object.UnstructuredToObjMetadata(u).String()] = u
		}
		var lines []string
		for _, e := range cs.Entries {
			if e.Action == ssa.DeletedAction {
				deleted = append(deleted, byID[e.ObjMetadata.String()])
				lines = append(lines, e.String())
			}
		}
		if len(lines) > 0 {
			r.event(o, corev1.EventTypeNormal, "%s", strings.Join(lines, "\n"))
		}
	}
	if err != nil {
		r.event(o, corev1.EventTypeWarning, "pruning for deleted resource failed: %v", err)
		return ctrl.Result{}, fmt.Errorf("garbage collecting on delete: %w", err)
	}
	if o.GetDeletionPolicy() != kustomizev1.DeletionPolicyWaitForTermination {
		return ctrl.Result{}, nil
	}
	return r.awaitTermination(ctx, o, c, append(terminating, deleted...))
}

// awaitTermination requeues o until objs are gone from its cluster, or
// gives up with a warning once spec.timeout has passed since o's deletion
// began.
func (r *Reconciler) awaitTermination(ctx context.Context, o *kustomizev1.Kustomization, c *cluster, objs []*unstructured.Unstructured) (ctrl.Result, error) {
	if len(objs) == 0 {
		return ctrl.Result{}, nil
	}
	fresh := false
	if c.local {
		// Register before reading, as wait does: a removal after the
		// reads below requeues through the watch.
		checked := make([]object.ObjMetadata, 0, len(objs))
		kinds := map[schema.GroupVersionKind]bool{}
		for _, u := range objs {
			checked = append(checked, object.UnstructuredToObjMetadata(u))
			kinds[u.GroupVersionKind()] = true
		}
		r.waiters.set(client.ObjectKeyFromObject(o), &waitState{checked: checked, start: o.DeletionTimestamp.Time})
		for gvk := range kinds {
			// A new watch registers its handler asynchronously, and a
			// removal before that leaves nothing to replay: look again
			// soon, once.
			fresh = fresh || !r.waiters.watching(gvk)
			if err := r.ensureWatch(gvk); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	var left []*unstructured.Unstructured
	for _, u := range objs {
		if _, err := getLive(ctx, c.reader, u); err == nil {
			left = append(left, u)
		} else if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("waiting for termination: %w", err)
		}
	}
	if len(left) == 0 {
		return ctrl.Result{}, nil
	}
	timeout := o.GetTimeout()
	remaining := time.Until(o.DeletionTimestamp.Add(timeout))
	if remaining <= 0 {
		// Flux's behaviour: stop waiting, say so, let the Kustomization go.
		msg := fmt.Sprintf("failed to wait for resources termination: timeout after %s waiting for: [%s]", timeout, strings.Join(ids(left), ", "))
		ctrl.LoggerFrom(ctx).Info("deletion wait timed out", "waiting", len(left), "timeout", timeout)
		r.event(o, corev1.EventTypeWarning, "%s", msg)
		return ctrl.Result{}, nil
	}
	switch {
	case !c.local:
		remaining = min(remaining, remotePoll)
	case fresh:
		remaining = min(remaining, time.Second)
	}
	return ctrl.Result{RequeueAfter: remaining}, nil
}

func getLive(ctx context.Context, rd client.Reader, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(u.GroupVersionKind())
	return cur, rd.Get(ctx, client.ObjectKeyFromObject(u), cur)
}

func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, u := range objs {
		id := u.GetKind() + "/" + u.GetName()
		if u.GetNamespace() != "" {
			id = u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
		}
		out = append(out, id)
	}
	return out
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
