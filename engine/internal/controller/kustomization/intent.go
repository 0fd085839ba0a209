package kustomization

import (
	"context"
	"fmt"
	"sort"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
func (r *Reconciler) recordIntent(ctx context.Context, o *kustomizev1.Kustomization, objs []*unstructured.Unstructured) error {
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
		return nil
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
	intent := o.DeepCopy()
	intent.Status.Inventory = &kustomizev1.ResourceInventory{Entries: entries}
	if err := r.Status().Patch(ctx, intent, client.MergeFrom(o), client.FieldOwner(FieldOwner)); err != nil {
		return reconcile.Retry(meta.ReconciliationFailedReason, fmt.Errorf("recording the inventory before apply: %w", err))
	}
	o.Status.Inventory = intent.Status.Inventory
	return nil
}
