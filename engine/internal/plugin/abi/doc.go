// Package abi is the engine's copy of the Weir plugin ABI v1 contract, kept
// byte-identical to plugins/sdk/abi (a test enforces it). The SDK is its own
// Go module; once the root module requires it, this copy is replaced by an
// import of github.com/weir-gitops/weir/plugins/sdk/abi.
//
// It must import nothing but the standard library.
package abi
