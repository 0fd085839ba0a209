//go:build tools

// Package tools pins Flux's source-controller, kustomize-controller and
// notification-controller, built from the Go module proxy so that the GA
// conformance suite and benchmark B1 can run against stock Flux next to Weir
// on the same local control plane.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/notification-controller"
	_ "github.com/fluxcd/source-controller"
)
