package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Inventory records what a change set applied, in Flux's format.
func Inventory(cs *ssa.ChangeSet) *kustomizev1.ResourceInventory {
	inv := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	for _, e := range cs.Entries {
		inv.Entries = append(inv.Entries, kustomizev1.ResourceRef{ID: e.ObjMetadata.String(), Version: gvVersion(e.GroupVersion)})
	}
	sort.Slice(inv.Entries, func(i, j int) bool { return inv.Entries[i].ID < inv.Entries[j].ID })
	return inv
}

// MergeInventories is prev plus the objects of a (partial) change set.
func MergeInventories(prev *kustomizev1.ResourceInventory, cs *ssa.ChangeSet) *kustomizev1.ResourceInventory {
	if cs == nil || len(cs.Entries) == 0 {
		return prev
	}
	out := Inventory(cs)
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

// StaleObjects are the objects in old and not in new, as stubs that name
// them for deletion.
func StaleObjects(old, new *kustomizev1.ResourceInventory) ([]*unstructured.Unstructured, error) {
	keep := map[string]bool{}
	if new != nil {
		for _, e := range new.Entries {
			keep[e.ID] = true
		}
	}
	var out []*unstructured.Unstructured
	if old == nil {
		return out, nil
	}
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

// Changes lists what a change set changed, one object per line; unchanged
// and skipped objects are left out, so a no-op reconcile says nothing.
func Changes(cs *ssa.ChangeSet) string {
	if cs == nil {
		return ""
	}
	var lines []string
	for _, e := range cs.Entries {
		if e.Action != ssa.UnchangedAction && e.Action != ssa.SkippedAction {
			lines = append(lines, e.String())
		}
	}
	return strings.Join(lines, "\n")
}

// IDs names objects as Flux's messages do: Kind/namespace/name, or
// Kind/name for cluster-scoped ones.
func IDs(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, u := range objs {
		out = append(out, ID(u.GetKind(), u.GetNamespace(), u.GetName()))
	}
	return out
}

// ID names one object as Flux's messages do.
func ID(kind, ns, name string) string {
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

func gvVersion(gv string) string {
	if i := strings.LastIndex(gv, "/"); i >= 0 {
		return gv[i+1:]
	}
	return gv
}

// RecordIntent writes the objects about to be applied into
// status.inventory, next to what is there, before anything is applied. If
// the engine dies between an apply and the status write that follows it,
// the next leader, prune and the finalizer still know every object this
// Kustomization may have created, so a later delete leaves no orphan. It
// costs one status patch, only when the revision brings objects the
// inventory does not hold yet.
// It returns the object as written when it wrote one, for Settle.
func RecordIntent(ctx context.Context, c client.Client, o *kustomizev1.Kustomization, objs []*unstructured.Unstructured) (*kustomizev1.Kustomization, error) {
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
	if err := c.Status().Patch(ctx, intent, client.MergeFrom(o), client.FieldOwner(FieldOwner)); err != nil {
		return nil, fmt.Errorf("recording the inventory before apply: %w", err)
	}
	o.Status.Inventory = intent.Status.Inventory
	return intent, nil
}

// Settle replaces a recorded intent with inv after a failed apply: what the
// apply reached stays, intents it never reached go (pruning those would
// only ask the API server about objects that never existed). The status
// patch at the end of the reconcile cannot do it: it diffs against the
// object as read, before the intent was written.
func Settle(ctx context.Context, c client.Client, written *kustomizev1.Kustomization, inv *kustomizev1.ResourceInventory) {
	if written == nil {
		return
	}
	if inv == nil {
		inv = &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	}
	fix := written.DeepCopy()
	fix.Status.Inventory = inv
	if err := c.Status().Patch(ctx, fix, client.MergeFrom(written), client.FieldOwner(FieldOwner)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "settling the inventory after a failed apply")
	}
}
