package kustomization

import (
	"context"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// sourceObjectKey is the key of k's source, its namespace defaulted.
func sourceObjectKey(k *kustomizev1.Kustomization) client.ObjectKey {
	ns := k.Spec.SourceRef.Namespace
	if ns == "" {
		ns = k.Namespace
	}
	return client.ObjectKey{Namespace: ns, Name: k.Spec.SourceRef.Name}
}

func sourceKey(k *kustomizev1.Kustomization) string {
	ns := k.Spec.SourceRef.Namespace
	if ns == "" {
		ns = k.Namespace
	}
	return ns + "/" + k.Spec.SourceRef.Name
}

func (r *Reconciler) forSource(ctx context.Context, o client.Object) []ctrl.Request {
	return r.list(ctx, sourceIndex, o.GetNamespace()+"/"+o.GetName())
}

func (r *Reconciler) forDependency(ctx context.Context, o client.Object) []ctrl.Request {
	return r.list(ctx, dependIndex, o.GetNamespace()+"/"+o.GetName())
}

func (r *Reconciler) list(ctx context.Context, index, key string) []ctrl.Request {
	return reconcile.Requests(ctx, r, &kustomizev1.KustomizationList{}, client.MatchingFields{index: key})
}

// artifactChanged passes GitRepository updates whose artifact revision or
// digest changed.
type artifactChanged struct{ predicate.Funcs }

func (artifactChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*sourcev1.GitRepository)
	n, ok2 := e.ObjectNew.(*sourcev1.GitRepository)
	if !ok1 || !ok2 || n.Status.Artifact == nil {
		return false
	}
	return o.Status.Artifact == nil || o.Status.Artifact.Digest != n.Status.Artifact.Digest ||
		o.Status.Artifact.Revision != n.Status.Artifact.Revision
}

// readyChanged passes Kustomization updates that became ready.
type readyChanged struct{ predicate.Funcs }

func (readyChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*kustomizev1.Kustomization)
	n, ok2 := e.ObjectNew.(*kustomizev1.Kustomization)
	if !ok1 || !ok2 {
		return false
	}
	return conditions.IsReady(n) && (!conditions.IsReady(o) || o.Status.LastAppliedRevision != n.Status.LastAppliedRevision)
}

// pluginServing passes Plugin updates that change what a transform does:
// a new served digest, Ready turning true, or a new spec.
type pluginServing struct{ predicate.Funcs }

func (pluginServing) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*v1alpha1.Plugin)
	n, ok2 := e.ObjectNew.(*v1alpha1.Plugin)
	if !ok1 || !ok2 {
		return false
	}
	return o.Status.Digest != n.Status.Digest || o.Generation != n.Generation ||
		(conditions.IsReady(n) && !conditions.IsReady(o))
}
