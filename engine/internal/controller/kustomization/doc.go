// Package kustomization reconciles kustomize.toolkit.fluxcd.io/v1
// Kustomizations: fetch the source artifact (digest checked), build it with
// kustomize inside an in-memory file system (nothing outside the artifact
// can be read), apply with server-side apply under Flux's field manager,
// record the inventory and prune what left it.
//
// The apply passes fluxcd/pkg/ssa the options Flux does, so the per-object
// policies behave as in Flux: kustomize.toolkit.fluxcd.io/ssa (Override,
// Merge, IfNotPresent, Ignore), /force: enabled (recreate on immutable field
// changes, as spec.force does for all), /prune: disabled and
// /reconcile: disabled.
//
// Objects are applied, pruned, health-checked and deleted as the
// Kustomization's identity (impersonate.go): the engine itself; or
// system:serviceaccount:<namespace>:<spec.serviceAccountName, else the
// engine-wide default>; or, with spec.kubeConfig.secretRef, the user of a
// self-contained kubeconfig (no files, no auth-provider, exec plugins and
// insecure TLS only when the Options allow them), impersonating the account
// there when one is set. Clients are cached per account and kubeconfig.
//
// Deleting a Kustomization carries out spec.deletionPolicy before its
// finalizer goes (delete.go): MirrorPrune (delete if spec.prune), Delete,
// WaitForTermination (delete, then wait, driven by watches and bounded by
// spec.timeout) or Orphan. Health and termination waits never block a
// worker: watches requeue them; on remote clusters, which the engine does
// not watch, they poll.
//
// It must not import other controllers; it reads GitRepositories through the
// API only.
package kustomization
