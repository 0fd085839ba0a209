package kustomization

import (
	"context"
	"errors"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// apply applies the built objects as the Kustomization's identity and
// prunes what left the inventory (engine/internal/apply does the work); a
// Kustomization resumed by a watch only takes over what its wait began
// with.
func (r *Reconciler) apply(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	if s.resume != nil {
		s.applied, s.transforms, s.inventory, s.digest = s.resume.applied, s.resume.transforms, s.resume.inventory, s.resume.digest
		o.Status.Inventory = s.inventory
		return nil
	}
	if s.digest == "" {
		s.digest = buildDigest(s.objects)
	}
	res, err := apply.ApplyKnown(ctx, r.Client, s.cluster, o, s.objects, s.sums)
	if err != nil {
		if pe := (*apply.PruneError)(nil); errors.As(err, &pe) {
			return reconcile.Retry(meta.PruneFailedReason, err)
		}
		return reconcile.Retry(meta.ReconciliationFailedReason, err)
	}
	s.applied, s.inventory, s.changed = res.Applied, res.Inventory, res.Changes != "" || res.Pruned
	o.Status.LastAppliedRevision = s.revision
	if res.Changes != "" && r.Recorder != nil {
		ann := map[string]string{ownerGroup + "/revision": s.revision}
		if len(s.transforms) > 0 {
			ann["weir.dev/transforms"] = strings.Join(s.transforms, ",")
		}
		r.Recorder.AnnotatedEventf(o, ann, "Normal", "Progressing", "%s", res.Changes)
	}
	return nil
}
