package kustomization

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// The per-object policies of Flux, set as labels or annotations in the
// manifests (and, for reconcile and prune, on the in-cluster objects).
var (
	ssaPolicy       = ownerGroup + "/ssa"       // Override (default), Merge, IfNotPresent, Ignore
	forcePolicy     = ownerGroup + "/force"     // enabled: recreate on immutable field changes
	prunePolicy     = ownerGroup + "/prune"     // disabled: never deleted
	reconcilePolicy = ownerGroup + "/reconcile" // disabled: neither applied nor deleted
)

// applyOptions are the apply options Flux's kustomize-controller passes to
// fluxcd/pkg/ssa, so the per-object policies behave the same.
func applyOptions(o *kustomizev1.Kustomization) ssa.ApplyOptions {
	opts := ssa.DefaultApplyOptions()
	opts.Force = o.Spec.Force
	opts.ExclusionSelector = map[string]string{reconcilePolicy: kustomizev1.DisabledValue, ssaPolicy: kustomizev1.IgnoreValue}
	opts.IfNotPresentSelector = map[string]string{ssaPolicy: kustomizev1.IfNotPresentValue}
	opts.ForceSelector = map[string]string{forcePolicy: kustomizev1.EnabledValue}
	// Take over what kubectl and pre-SSA controllers set, unless the object
	// asks for its fields to be merged with theirs.
	opts.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{corev1.LastAppliedConfigAnnotation, ownerGroup + "/checksum", "fluxcd.io/sync-checksum"},
		Labels:      []string{"fluxcd.io/sync-gc-mark"},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationApply},
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: FieldOwner, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
		Exclusions: map[string]string{ssaPolicy: kustomizev1.MergeValue},
	}
	return opts
}

// deleteOptions select what pruning and deletion may remove: only objects
// labelled as o's, never those that opt out.
func deleteOptions(o *kustomizev1.Kustomization) ssa.DeleteOptions {
	return ssa.DeleteOptions{
		PropagationPolicy: metav1.DeletePropagationBackground,
		Inclusions:        map[string]string{ownerGroup + "/name": o.Name, ownerGroup + "/namespace": o.Namespace},
		Exclusions: map[string]string{prunePolicy: kustomizev1.DisabledValue,
			reconcilePolicy: kustomizev1.DisabledValue, ssaPolicy: kustomizev1.IgnoreValue},
	}
}

func (r *Reconciler) apply(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	if s.resume != nil {
		s.applied, s.transforms, s.inventory, s.digest = s.resume.applied, s.resume.transforms, s.resume.inventory, s.resume.digest
		o.Status.Inventory = s.inventory
		return nil
	}
	rm := s.cluster.rm
	s.digest = buildDigest(s.objects)
	prev := o.Status.Inventory
	written, err := r.recordIntent(ctx, o, s.objects)
	if err != nil {
		return err
	}
	cs, err := rm.ApplyAllStaged(ctx, s.objects, applyOptions(o))
	if err != nil {
		// Nothing is recorded as applied; what a staged apply changed
		// before failing is named in the message.
		var partial string
		if cs != nil {
			if c := changes(cs); c != "" {
				partial = "\n" + c
			}
		}
		// The apply got this far: keep in the inventory what it may have
		// created, drop intents it never reached (pruning those would only
		// ask the API server about objects that never existed).
		o.Status.Inventory = mergeInventories(prev, cs)
		r.settle(ctx, written, o.Status.Inventory)
		return reconcile.Retry(meta.ReconciliationFailedReason, fmt.Errorf("apply failed: %w%s", err, partial))
	}
	// Skipped objects are left to their users: not waited on.
	s.applied = object.ObjMetadataSet{}
	for _, e := range cs.Entries {
		if e.Action != ssa.SkippedAction {
			s.applied = append(s.applied, e.ObjMetadata)
		}
	}
	newInv := inventory(cs)
	if o.Spec.Prune && prev != nil {
		// Against the inventory before this revision's intent: that holds
		// every earlier object, intents of interrupted applies included.
		stale, err := staleObjects(prev, newInv)
		if err != nil {
			return reconcile.Retry(meta.PruneFailedReason, err)
		}
		if _, err := rm.DeleteAll(ctx, stale, deleteOptions(o)); err != nil {
			return reconcile.Retry(meta.PruneFailedReason, fmt.Errorf("prune failed: %w", err))
		}
	}
	o.Status.Inventory = newInv
	s.inventory = newInv
	o.Status.LastAppliedRevision = s.revision
	if changed := changes(cs); changed != "" && r.Recorder != nil {
		ann := map[string]string{ownerGroup + "/revision": s.revision}
		if len(s.transforms) > 0 {
			ann["weir.dev/transforms"] = strings.Join(s.transforms, ",")
		}
		r.Recorder.AnnotatedEventf(o, ann, "Normal", "Progressing", "%s", changed)
	}
	return nil
}

// changes lists what the apply changed, one object per line; unchanged and
// skipped objects are left out, so a no-op reconcile records no event.
func changes(cs *ssa.ChangeSet) string {
	var lines []string
	for _, e := range cs.Entries {
		if e.Action != ssa.UnchangedAction && e.Action != ssa.SkippedAction {
			lines = append(lines, e.String())
		}
	}
	return strings.Join(lines, "\n")
}

// inventory records what was applied in Flux's format.
// mergeInventories is prev plus the objects of a (partial) change set.
func mergeInventories(prev *kustomizev1.ResourceInventory, cs *ssa.ChangeSet) *kustomizev1.ResourceInventory {
	if cs == nil || len(cs.Entries) == 0 {
		return prev
	}
	out := inventory(cs)
	seen := map[string]bool{}
	for _, e := range out.Entries {
		seen[e.ID] = true
	}
	if prev != nil {
		for _, e := range prev.Entries {
			if !seen[e.ID] {
				out.Entries = append(out.Entries, e)
			}
		}
	}
	sort.Slice(out.Entries, func(i, j int) bool { return out.Entries[i].ID < out.Entries[j].ID })
	return out
}

func inventory(cs *ssa.ChangeSet) *kustomizev1.ResourceInventory {
	inv := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	for _, e := range cs.Entries {
		inv.Entries = append(inv.Entries, kustomizev1.ResourceRef{ID: e.ObjMetadata.String(), Version: gvVersion(e.GroupVersion)})
	}
	sort.Slice(inv.Entries, func(i, j int) bool { return inv.Entries[i].ID < inv.Entries[j].ID })
	return inv
}

// staleObjects are in old and not in new.
func staleObjects(old, new *kustomizev1.ResourceInventory) ([]*unstructured.Unstructured, error) {
	keep := map[string]bool{}
	for _, e := range new.Entries {
		keep[e.ID] = true
	}
	var out []*unstructured.Unstructured
	for _, e := range old.Entries {
		if keep[e.ID] {
			continue
		}
		m, err := object.ParseObjMetadata(e.ID)
		if err != nil {
			return nil, fmt.Errorf("invalid inventory entry %q: %w", e.ID, err)
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(m.GroupKind.WithVersion(e.Version))
		u.SetNamespace(m.Namespace)
		u.SetName(m.Name)
		out = append(out, u)
	}
	return out, nil
}
