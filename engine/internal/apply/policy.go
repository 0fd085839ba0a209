package apply

import (
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// FieldOwner is Flux's field manager, so objects pass between Flux and
	// Weir without conflicts.
	FieldOwner = "kustomize-controller"
	// OwnerGroup prefixes the labels and annotations of Flux's policies.
	OwnerGroup = "kustomize.toolkit.fluxcd.io"
)

// Owner is the ssa owner the engine applies as.
var Owner = ssa.Owner{Field: FieldOwner, Group: OwnerGroup}

// The per-object policies of Flux, set as labels or annotations in the
// manifests (and, for reconcile and prune, on the in-cluster objects).
const (
	SSAPolicy       = OwnerGroup + "/ssa"       // Override (default), Merge, IfNotPresent, Ignore
	ForcePolicy     = OwnerGroup + "/force"     // enabled: recreate on immutable field changes
	PrunePolicy     = OwnerGroup + "/prune"     // disabled: never deleted
	ReconcilePolicy = OwnerGroup + "/reconcile" // disabled: neither applied nor deleted
)

// ApplyOptions are the apply options Flux's kustomize-controller passes to
// fluxcd/pkg/ssa, so the per-object policies behave the same.
func ApplyOptions(o *kustomizev1.Kustomization) ssa.ApplyOptions {
	opts := ssa.DefaultApplyOptions()
	opts.Force = o.Spec.Force
	opts.ExclusionSelector = map[string]string{ReconcilePolicy: kustomizev1.DisabledValue, SSAPolicy: kustomizev1.IgnoreValue}
	opts.IfNotPresentSelector = map[string]string{SSAPolicy: kustomizev1.IfNotPresentValue}
	opts.ForceSelector = map[string]string{ForcePolicy: kustomizev1.EnabledValue}
	// Take over what kubectl and pre-SSA controllers set, unless the object
	// asks for its fields to be merged with theirs.
	opts.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{corev1.LastAppliedConfigAnnotation, OwnerGroup + "/checksum", "fluxcd.io/sync-checksum"},
		Labels:      []string{"fluxcd.io/sync-gc-mark"},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationApply},
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: FieldOwner, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
		Exclusions: map[string]string{SSAPolicy: kustomizev1.MergeValue},
	}
	return opts
}

// DeleteOptions select what pruning and deletion may remove: only objects
// labelled as o's, never those that opt out.
func DeleteOptions(o *kustomizev1.Kustomization) ssa.DeleteOptions {
	return ssa.DeleteOptions{
		PropagationPolicy: metav1.DeletePropagationBackground,
		Inclusions:        OwnerLabels(o),
		Exclusions: map[string]string{PrunePolicy: kustomizev1.DisabledValue,
			ReconcilePolicy: kustomizev1.DisabledValue, SSAPolicy: kustomizev1.IgnoreValue},
	}
}

// OwnerLabels are the labels that mark an object as applied by o.
func OwnerLabels(o *kustomizev1.Kustomization) map[string]string {
	return map[string]string{OwnerGroup + "/name": o.Name, OwnerGroup + "/namespace": o.Namespace}
}
