package kustomization

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
//
// Unlike Flux, a reconcile that changed nothing (the same digest and
// outcome as the newest snapshot, no object applied) does not rewrite the
// snapshot's lastReconciled until refresh has passed since it was written:
// rewriting it is the only status write such a reconcile would make, and
// at 1000 Kustomizations it would be most of the engine's API traffic. Those
// reconciles are counted in memory and added to totalReconciliations at the
// next write (a restart loses the count).
func (r *Reconciler) recordHistory(s *state, started time.Time) reconcile.BeforePatch[*kustomizev1.Kustomization] {
	return func(o *kustomizev1.Kustomization) {
		if s.digest == "" || conditions.IsUnknown(o, meta.ReadyCondition) {
			return
		}
		reason := conditions.GetReason(o, meta.ReadyCondition)
		key := client.ObjectKeyFromObject(o)
		if h := o.Status.History; len(h) > 0 && !s.changed && h[0].Digest == s.digest && h[0].LastReconciledStatus == reason &&
			h[0].Metadata["revision"] == s.revision && time.Since(h[0].LastReconciled.Time) < r.HistoryRefresh {
			r.quiet.add(key, s.digest, reason)
			return
		}
		o.Status.History.Upsert(s.digest, time.Now(), time.Since(started), reason, map[string]string{"revision": s.revision})
		if q, ok := r.quiet.take(key); ok {
			for i := range o.Status.History {
				if h := &o.Status.History[i]; h.Digest == q.digest && h.LastReconciledStatus == q.status {
					h.TotalReconciliations += q.n
				}
			}
		}
	}
}

// quietCounts counts, per Kustomization, the reconciles recordHistory did
// not write.
type quietCounts struct {
	mu sync.Mutex
	m  map[types.NamespacedName]quietCount
}

type quietCount struct {
	digest, status string
	n              int64
}

func (q *quietCounts) add(k types.NamespacedName, digest, status string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.m == nil {
		q.m = map[types.NamespacedName]quietCount{}
	}
	c := q.m[k]
	if c.digest != digest || c.status != status {
		c = quietCount{digest: digest, status: status}
	}
	c.n++
	q.m[k] = c
}

func (q *quietCounts) take(k types.NamespacedName) (quietCount, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, ok := q.m[k]
	delete(q.m, k)
	return c, ok
}
