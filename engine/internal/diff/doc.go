// Package diff shows what the next reconciliation of a Kustomization would
// change, without changing anything: it fetches the source's current
// artifact (digest checked), renders it with the build package exactly as
// the Kustomization stage does, asks the API server for a server-side
// dry-run apply of each object with the stage's field manager
// (kustomize-controller), and compares the result with the live object.
// Objects that do not exist yet are reported as created, objects of the
// inventory that the build no longer holds as pruned (when spec.prune is
// set). Secret values are masked.
//
// It talks to the cluster with the caller's credentials. It must not import
// the controllers.
package diff
