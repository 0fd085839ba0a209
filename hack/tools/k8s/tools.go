//go:build tools

// Package tools pins the control-plane binaries that envtest and `engine dev`
// start: kube-apiserver and etcd, built from the Go module proxy because no
// prebuilt Kubernetes binaries can be downloaded where Weir is developed.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
