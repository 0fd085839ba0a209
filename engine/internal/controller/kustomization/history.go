package kustomization

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// buildDigest is the sha256 of the objects about to be applied, after
// substitution and transforms: two reconciles with the same digest applied
// the same thing.
func buildDigest(objs []*unstructured.Unstructured) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, u := range objs {
		_ = enc.Encode(u.Object)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// recordHistory adds the reconcile to status.history as Flux does: one
// snapshot per build digest and outcome, newest first, with the revision in
// its metadata. A wait still in progress is recorded when it settles.
func recordHistory(s *state, started time.Time) reconcile.BeforePatch[*kustomizev1.Kustomization] {
	return func(o *kustomizev1.Kustomization) {
		if s.digest == "" || conditions.IsUnknown(o, meta.ReadyCondition) {
			return
		}
		o.Status.History.Upsert(s.digest, time.Now(), time.Since(started),
			conditions.GetReason(o, meta.ReadyCondition), map[string]string{"revision": s.revision})
	}
}
