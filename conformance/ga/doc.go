// Package ga is a black-box conformance suite for Flux's GA APIs:
// GitRepository (source.toolkit.fluxcd.io/v1), Kustomization
// (kustomize.toolkit.fluxcd.io/v1) and Receiver
// (notification.toolkit.fluxcd.io/v1). In the spirit of testing/fstest's
// TestFS, Run exercises whatever implementation serves these APIs in a
// cluster — Weir, or Flux's own controllers — through the API server
// alone, and reports each case as passed, failed or skipped with a precise
// message, as a readable summary and as JUnit XML.
//
// The suite starts what it needs itself: a git server on an address the
// implementation can reach, a small CRD whose objects' health the suite
// decides, and one namespace per case, all removed at the end.
//
// It must not import the engine: it has to work against any
// implementation of the APIs.
package ga
