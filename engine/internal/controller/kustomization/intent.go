package kustomization

import (
	"context"
	"fmt"
	"sort"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// recordIntent writes the objects about to be applied into
// status.inventory, next to what is there, before anything is applied. If
// the engine dies between an apply and the status write that follows it,
// the next leader, prune and the finalizer still know every object this
// Kustomization may have created, so a later delete leaves no orphan. It
// costs one status patch, only when the revision brings objects the
// inventory does not hold yet.
// It returns the object as written when it wrote one, for settle.
func (r *Reconciler) recordIntent(ctx context.Context, o *kustomizev1.Kustomization, objs []*unstructured.Unstructured) (*kustomizev1.Kustomization, error) {
	have := map[string]bool{}
	var entries []kustomizev1.ResourceRef
	if o.Status.Inventory != nil {
		for _, e := range o.Status.Inventory.Entries {
			have[e.ID] = true
			entries = append(entries, e)
		}
	}
	added := 0
	for _, u := range objs {
		m := object.UnstructuredToObjMetadata(u)
		if m.Name == "" || have[m.String()] {
			continue
		}
		have[m.String()] = true
		entries = append(entries, kustomizev1.ResourceRef{ID: m.String(), Version: u.GroupVersionKind().Version})
		added++
	}
	if added == 0 {
		return nil, nil
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
	intent := o.DeepCopy()
	intent.Status.Inventory = &kustomizev1.ResourceInventory{Entries: entries}
	if err := r.Status().Patch(ctx, intent, client.MergeFrom(o), client.FieldOwner(FieldOwner)); err != nil {
		return nil, reconcile.Retry(meta.ReconciliationFailedReason, fmt.Errorf("recording the inventory before apply: %w", err))
	}
	o.Status.Inventory = intent.Status.Inventory
	return intent, nil
}

// settle replaces a recorded intent with inv after a failed apply: what the
// apply reached stays, intents it never reached go (pruning those would
// only ask the API server about objects that never existed). The status
// patch at the end of the reconcile cannot do it: it diffs against the
// object as read, before the intent was written.
func (r *Reconciler) settle(ctx context.Context, written *kustomizev1.Kustomization, inv *kustomizev1.ResourceInventory) {
	if written == nil {
		return
	}
	if inv == nil {
		inv = &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	}
	fix := written.DeepCopy()
	fix.Status.Inventory = inv
	if err := r.Status().Patch(ctx, fix, client.MergeFrom(written), client.FieldOwner(FieldOwner)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "settling the inventory after a failed apply")
	}
}
