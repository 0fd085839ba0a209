// Package apply puts a Kustomization's objects on a cluster and judges
// them, with fluxcd/pkg/ssa underneath, as Flux's kustomize-controller
// does: server-side apply under Flux's field manager with Flux's per-object
// policies (policy.go), status.inventory in Flux's id format with the
// intent recorded before anything is applied (inventory.go), prune of what
// left the inventory, deletion of the inventory by deletionPolicy
// (delete.go), and health judged by a health plugin, a healthCheckExprs
// expression or kstatus, driven by watch events rather than a poll
// (health.go, waits.go).
//
// Everything here acts as a Cluster, an identity on a cluster that the
// caller resolves (the engine, an impersonated account, a remote
// kubeconfig). Conditions, events and requeue decisions stay with the
// controller: this package reports what happened and returns errors that
// say which step failed.
//
// It must not import the controllers or the reconcile skeleton.
package apply
