// Package testenv gives controller tests a real kube-apiserver and etcd with
// the engine's CRDs installed (see package controlplane), a client, and
// fixture builders for the four kinds. It is imported only from tests.
//
// It must not import the engine's controllers or stages.
package testenv
