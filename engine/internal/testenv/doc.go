// Package testenv gives controller tests a real kube-apiserver and etcd with
// the engine's CRDs installed (see package controlplane), a client, and
// fixture builders for the four kinds. For side-by-side runs it also starts
// Flux's own source-controller and kustomize-controller (built by
// `make flux`) as processes, and a stand-in Deployment controller, since
// the control plane has no kubelet. It is imported only from tests and from
// the fluxup harness (`make flux-up`).
//
// It must not import the engine's controllers or stages.
package testenv
