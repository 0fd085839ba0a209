// Package sdk writes Weir plugins in Go: a transform, a health check or a
// notifier is one function registered with HandleTransform, HandleHealth or
// HandleNotify, and built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// Registration happens during package initialization, because a reactor
// module's main function is never run:
//
//	var _ = sdk.HandleTransform(addLabels)
//
// The package implements the module side of package abi (the exports, the
// allocation protocol, the host imports). On other platforms the exports are
// absent and handlers run natively through package sdktest.
//
// It must import only the standard library and package abi: never wazero,
// Kubernetes or the engine.
package sdk
