// Package controlplane starts a real kube-apiserver and etcd from the
// binaries that `make tools` builds into bin/k8s, installs the engine's CRDs
// and hands back a rest.Config and a kubeconfig. `engine dev` and the test
// environment both use it, so tests run against the same control plane users
// get from `make run`.
//
// It must not import the engine's controllers or stages.
package controlplane
