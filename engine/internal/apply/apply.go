package apply

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Result is what an Apply did.
type Result struct {
	// Applied are the objects applied; skipped ones are left to their
	// users and not waited on.
	Applied object.ObjMetadataSet
	// Inventory is the new status.inventory.
	Inventory *kustomizev1.ResourceInventory
	// Changes lists the objects the apply changed, one a line.
	Changes string
	// Pruned: objects that left the inventory were deleted.
	Pruned bool
}

// PruneError is a failure to prune what left the inventory; the apply
// itself succeeded.
type PruneError struct{ Err error }

func (e *PruneError) Error() string { return e.Err.Error() }
func (e *PruneError) Unwrap() error { return e.Err }

// Apply records the intent in status (through c, the engine's client),
// applies objs on cl in Flux's stages (CRDs, Namespaces and cluster roles
// first, then class objects, then the rest) and, with spec.prune, deletes
// what left the inventory. It keeps o.Status.Inventory current: on a
// failed apply it holds what the apply may have created, and nothing is
// recorded as applied.
func Apply(ctx context.Context, c client.Client, cl *Cluster, o *kustomizev1.Kustomization, objs []*unstructured.Unstructured) (*Result, error) {
	return ApplyKnown(ctx, c, cl, o, objs, nil)
}

// Digests are the manifest digests (Digest) of objects, already known:
// a cached build computes them once, not at every reconcile.
type Digests map[*unstructured.Unstructured][sha256.Size]byte

// ApplyKnown is Apply with the digests of some of objs known. Each must be
// Digest of its object as it is now: an object changed since is not
// covered.
func ApplyKnown(ctx context.Context, c client.Client, cl *Cluster, o *kustomizev1.Kustomization, objs []*unstructured.Unstructured, known Digests) (*Result, error) {
	prev := o.Status.Inventory
	written, err := RecordIntent(ctx, c, o, objs)
	if err != nil {
		return nil, err
	}
	cs, reached, err := cl.applyAll(ctx, objs, known, ApplyOptions(o))
	if err != nil {
		// What a staged apply changed before failing is named in the
		// message.
		var partial string
		if ch := Changes(cs); ch != "" {
			partial = "\n" + ch
		}
		// The apply got this far: keep in the inventory what it may have
		// created, drop intents it never reached.
		o.Status.Inventory = MergeInventories(prev, cs)
		o.Status.Inventory = MergeInventories(o.Status.Inventory, reachedSet(reached))
		Settle(ctx, c, written, o.Status.Inventory)
		return nil, fmt.Errorf("apply failed: %w%s", err, partial)
	}
	res := &Result{Applied: object.ObjMetadataSet{}, Inventory: Inventory(cs), Changes: Changes(cs)}
	for _, e := range cs.Entries {
		if e.Action != ssa.SkippedAction {
			res.Applied = append(res.Applied, e.ObjMetadata)
		}
	}
	if o.Spec.Prune && prev != nil {
		// Against the inventory before this revision's intent: that holds
		// every earlier object, intents of interrupted applies included.
		stale, err := StaleObjects(prev, res.Inventory)
		if err != nil {
			return nil, &PruneError{err}
		}
		if cl.ledger != nil {
			cl.ledger.forget(cl.id, stale)
		}
		dcs, err := cl.RM.DeleteAll(ctx, stale, DeleteOptions(o))
		if err != nil {
			return nil, &PruneError{fmt.Errorf("prune failed: %w", err)}
		}
		for _, e := range dcs.Entries {
			res.Pruned = res.Pruned || e.Action == ssa.DeletedAction
		}
	}
	o.Status.Inventory = res.Inventory
	return res, nil
}

// applyAll applies objs in Flux's stages, leaving out those the ledger
// proves untouched since this process applied them; those are reported
// unchanged. On a failure, reached lists objects of the failed stage that
// the change set does not name and that may have been written.
func (cl *Cluster) applyAll(ctx context.Context, objs []*unstructured.Unstructured, known Digests, opts ssa.ApplyOptions) (*ssa.ChangeSet, []*unstructured.Unstructured, error) {
	if cl.ledger == nil {
		return cl.applyStaged(ctx, objs, opts)
	}
	same, rest, digests := cl.ledger.unchanged(ctx, cl.id, cl.fingerprints, objs, known)
	cs := ssa.NewChangeSet()
	if len(rest) > 0 {
		ctx, seen := withSeen(ctx)
		applied, reached, err := cl.applyStaged(ctx, rest, opts)
		if err != nil {
			return applied, reached, err
		}
		cl.ledger.record(cl.id, applied, digests, seen)
		cs.Append(applied.Entries)
	}
	cs.Append(same)
	return cs, nil, nil
}

// applyStaged applies objs in the stages of ssa's ApplyAllStaged: CRDs,
// Namespaces and cluster roles, waited for; class objects, waited for;
// the configured custom kinds; the rest. Each stage goes through
// applyStage.
func (cl *Cluster) applyStaged(ctx context.Context, objs []*unstructured.Unstructured, opts ssa.ApplyOptions) (*ssa.ChangeSet, []*unstructured.Unstructured, error) {
	var defs, classes, custom, rest []*unstructured.Unstructured
	for _, u := range objs {
		switch {
		case utils.IsClusterDefinition(u):
			defs = append(defs, u)
		case utils.IsClassDefinition(u):
			classes = append(classes, u)
		case utils.IsCustomStage(u, opts.CustomStageKinds):
			custom = append(custom, u)
		default:
			rest = append(rest, u)
		}
	}
	cs := ssa.NewChangeSet()
	for i, stage := range [][]*unstructured.Unstructured{defs, classes, custom, rest} {
		// ssa applies the last stage even when it is empty; an empty stage
		// sends nothing.
		if len(stage) == 0 {
			continue
		}
		got, reached, err := cl.applyStage(ctx, stage, opts)
		if got != nil {
			cs.Append(got.Entries)
		}
		if err != nil {
			return cs, reached, err
		}
		if i < 2 {
			wait := ssa.WaitOptions{Interval: opts.WaitInterval, Timeout: opts.WaitTimeout}
			if err := cl.RM.WaitForSet(got.ToObjMetadataSet(), wait); err != nil {
				return cs, nil, err
			}
		}
	}
	return cs, nil, nil
}

// reachedSet names objects an apply may have written, for the inventory.
func reachedSet(objs []*unstructured.Unstructured) *ssa.ChangeSet {
	cs := ssa.NewChangeSet()
	for _, u := range objs {
		cs.Add(changeEntry(u, ssa.UnknownAction))
	}
	return cs
}
