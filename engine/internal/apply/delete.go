package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DeletesObjects tells whether deleting o deletes what it applied: never
// while suspended, else as spec.deletionPolicy says (by default, mirroring
// spec.prune).
func DeletesObjects(o *kustomizev1.Kustomization) bool {
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

// Deletion is what Delete did.
type Deletion struct {
	// Deleted were deleted now; Terminating were already going.
	Deleted, Terminating []*unstructured.Unstructured
	// Changes lists the deletions, one a line.
	Changes string
}

// Delete deletes objs (an inventory's stubs) on c, as c's identity, with
// o's delete options. Objects already terminating are not deleted again,
// so a requeue while waiting for termination only looks. A failed delete
// still reports what it deleted before failing.
func Delete(ctx context.Context, c *Cluster, o *kustomizev1.Kustomization, objs []*unstructured.Unstructured) (Deletion, error) {
	var d Deletion
	var live []*unstructured.Unstructured
	for _, u := range objs {
		cur, err := getLive(ctx, c.Reader, u)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return d, err
		case cur.GetDeletionTimestamp() != nil:
			d.Terminating = append(d.Terminating, u)
		default:
			live = append(live, u)
		}
	}
	cs, err := c.RM.DeleteAll(ctx, live, DeleteOptions(o))
	if cs != nil {
		byID := map[string]*unstructured.Unstructured{}
		for _, u := range live {
			byID[object.UnstructuredToObjMetadata(u).String()] = u
		}
		var lines []string
		for _, e := range cs.Entries {
			if e.Action == ssa.DeletedAction {
				d.Deleted = append(d.Deleted, byID[e.ObjMetadata.String()])
				lines = append(lines, e.String())
			}
		}
		d.Changes = strings.Join(lines, "\n")
	}
	return d, err
}

// Remaining returns the objs that still exist on c.
func Remaining(ctx context.Context, c *Cluster, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var left []*unstructured.Unstructured
	for _, u := range objs {
		if _, err := getLive(ctx, c.Reader, u); err == nil {
			left = append(left, u)
		} else if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("waiting for termination: %w", err)
		}
	}
	return left, nil
}

func getLive(ctx context.Context, rd client.Reader, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(u.GroupVersionKind())
	return cur, rd.Get(ctx, client.ObjectKeyFromObject(u), cur)
}
