// Package v1alpha1 holds the engine's own API kinds (group weir.dev): today
// only Plugin, which names a cosign-signed Wasm module in an OCI registry and
// the extension points it serves. The Flux kinds Weir implements are not
// redefined here; they come unchanged from Flux's API modules.
//
// This package must import only API machinery (k8s.io/apimachinery,
// apiextensions types, Flux's meta API) and never engine code.
//
// +kubebuilder:object:generate=true
// +groupName=weir.dev
package v1alpha1
