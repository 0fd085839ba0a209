// Package kustomization reconciles kustomize.toolkit.fluxcd.io/v1
// Kustomizations: fetch the source artifact (digest checked), build it with
// kustomize inside an in-memory file system (nothing outside the artifact
// can be read), apply with server-side apply under Flux's field manager,
// record the inventory and prune what left it.
//
// It must not import other controllers; it reads GitRepositories through the
// API only.
package kustomization
