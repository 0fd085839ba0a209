package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A stage whose objects are all new takes a shorter path than
// fluxcd/pkg/ssa's ApplyAll, which reads each object, dry-runs it and then
// applies the drifted ones one at a time: for 5,000 new ConfigMaps that is
// 15,000 requests, the last third in series. When the informer cache says
// that none of the stage's objects exists, there is nothing to read and
// nothing to compare against, so the stage is:
//
//  1. every object dry-run (at the stage's concurrency), before anything is
//     written, so that one invalid object still fails the stage with
//     nothing applied, as in ssa;
//  2. the objects applied kind by kind in ssa's order (ssa.ReconcileOrder:
//     a Service before what uses it, webhooks last), the objects of one
//     kind at the stage's concurrency.
//
// The cache can be behind (an object created a moment ago) and holds only
// objects with Flux's owner label (not one about to be adopted), so a
// dry-run that answers with an existing object, or fails, sends the whole
// stage back through ssa, which reads, forces and reports as Flux does.

// AbsentObjects tells which objects the cluster does not hold, without a
// request to the API server.
type AbsentObjects interface {
	// Synced waits until what Absent reads for the kind is current, or
	// ctx is done (false).
	Synced(ctx context.Context, gvk schema.GroupVersionKind) bool
	// Absent answers false when it does not know.
	Absent(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) bool
}

// syncWait bounds the wait for a kind's informer on its first use: the
// first apply after a start would otherwise always take the long path.
const syncWait = 5 * time.Second

// errNotNew: a stage's dry-run found an object that exists, or failed;
// ssa takes the stage.
var errNotNew = fmt.Errorf("stage holds objects that exist or do not validate")

// applyStage applies one stage's objects: by the path above when all are
// new, else through ssa's ApplyAll. reached lists objects the apply may
// have written when it failed after writing began.
func (cl *Cluster) applyStage(ctx context.Context, objs []*unstructured.Unstructured, opts ssa.ApplyOptions) (cs *ssa.ChangeSet, reached []*unstructured.Unstructured, err error) {
	if cs, reached, err := cl.createStage(ctx, objs, opts); err != errNotNew {
		return cs, reached, err
	}
	cs, err = cl.RM.ApplyAll(ctx, objs, opts)
	if err != nil {
		// ssa validates the whole stage by dry-run before it writes
		// anything, then applies one object at a time and on a failure
		// returns no change set: any object of the stage may exist.
		if dre := (*ssaerrors.DryRunErr)(nil); !errors.As(err, &dre) {
			reached = objs
		}
		return nil, reached, err
	}
	return cs, nil, nil
}

// createStage is the all-new path; errNotNew when it does not apply.
func (cl *Cluster) createStage(ctx context.Context, objs []*unstructured.Unstructured, opts ssa.ApplyOptions) (*ssa.ChangeSet, []*unstructured.Unstructured, error) {
	absent, ok := cl.fingerprints.(AbsentObjects)
	if !ok || len(objs) == 0 {
		return nil, nil, errNotNew
	}
	sort.Sort(ssa.SortableUnstructureds(objs))
	kinds := map[schema.GroupVersionKind]bool{}
	for _, u := range objs {
		if gvk := u.GroupVersionKind(); !kinds[gvk] {
			kinds[gvk] = true
			sctx, cancel := context.WithTimeout(ctx, syncWait)
			synced := absent.Synced(sctx, gvk)
			cancel()
			if !synced {
				return nil, nil, errNotNew
			}
		}
	}
	entries := make([]ssa.ChangeSetEntry, len(objs))
	var todo []int
	for i, u := range objs {
		if !absent.Absent(ctx, u.GroupVersionKind(), u.GetNamespace(), u.GetName()) {
			return nil, nil, errNotNew
		}
		utils.RemoveCABundleFromCRD(u)
		if utils.AnyInMetadata(u, opts.ExclusionSelector) {
			// Left to its users, and it does not exist: nothing to do.
			entries[i] = changeEntry(u, ssa.SkippedAction)
			continue
		}
		todo = append(todo, i)
	}
	c := cl.RM.Client()
	limit := max(cl.concurrency, 1)

	// 1. Validate all.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, i := range todo {
		g.Go(func() error {
			dry := objs[i].DeepCopy()
			err := c.Patch(gctx, dry, client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner(FieldOwner))
			if err != nil || dry.GetResourceVersion() != "" {
				return errNotNew
			}
			entries[i] = changeEntry(dry, ssa.CreatedAction)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, errNotNew
	}

	// 2. Apply, one kind after the other.
	done := make([]bool, len(objs))
	for i := range objs {
		done[i] = entries[i].Action == ssa.SkippedAction
	}
	changes := func() *ssa.ChangeSet {
		cs := ssa.NewChangeSet()
		for i := range objs {
			if done[i] {
				cs.Add(entries[i])
			}
		}
		return cs
	}
	var reached []*unstructured.Unstructured
	for start := 0; start < len(todo); {
		gk := objs[todo[start]].GroupVersionKind().GroupKind()
		end := start
		for end < len(todo) && objs[todo[end]].GroupVersionKind().GroupKind() == gk {
			end++
		}
		group := todo[start:end]
		for _, i := range group {
			reached = append(reached, objs[i])
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(limit)
		for _, i := range group {
			g.Go(func() error {
				applied := objs[i].DeepCopy()
				if err := c.Patch(gctx, applied, client.Apply, client.ForceOwnership, client.FieldOwner(FieldOwner)); err != nil {
					return fmt.Errorf("%s apply failed: %w", utils.FmtUnstructured(applied), err)
				}
				done[i] = true
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return changes(), reached, err
		}
		start = end
	}
	return changes(), nil, nil
}

// changeEntry is the change set entry ssa records for o.
func changeEntry(o *unstructured.Unstructured, action ssa.Action) ssa.ChangeSetEntry {
	return ssa.ChangeSetEntry{
		ObjMetadata:  object.UnstructuredToObjMetadata(o),
		GroupVersion: o.GroupVersionKind().Version,
		Subject:      utils.FmtUnstructured(o),
		Action:       action,
	}
}
