// Package kustomization reconciles kustomize.toolkit.fluxcd.io/v1
// Kustomizations: fetch the source artifact (digest checked), build it with
// kustomize inside an in-memory file system (engine/internal/build), apply
// with server-side apply under Flux's field manager, record the inventory,
// prune what left it and wait for health (engine/internal/apply). This
// package is the reconcile glue: the steps, conditions, events, requeues
// and the watches that start a reconcile.
//
// Objects are applied, pruned, health-checked and deleted as the
// Kustomization's identity (impersonate.go): the engine itself; or
// system:serviceaccount:<namespace>:<spec.serviceAccountName, else the
// engine-wide default>; or, with spec.kubeConfig.secretRef, the user of a
// self-contained kubeconfig (no files, no auth-provider, exec plugins and
// insecure TLS only when the Options allow them), impersonating the account
// there when one is set; or, with spec.kubeConfig.configMapRef and the
// generic provider, a service account token requested for the remote
// cluster (workload.go). Clients are cached per account and kubeconfig.
//
// Artifacts of the engine's own storage are read in process through
// Options.OpenArtifact; others over HTTP. The digest is checked either way
// and the tarball unpacked by artifact.Untar.
//
// Deleting a Kustomization carries out spec.deletionPolicy before its
// finalizer goes (delete.go): MirrorPrune (delete if spec.prune), Delete,
// WaitForTermination (delete, then wait, driven by watches and bounded by
// spec.timeout) or Orphan. Health and termination waits never block a
// worker: watches requeue them (apply.Waits); on remote clusters, which the
// engine does not watch, they poll.
//
// It must not import other controllers; it reads GitRepositories through the
// API only.
package kustomization
