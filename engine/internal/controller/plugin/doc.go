// Package plugin reconciles weir.dev/v1alpha1 Plugin objects: it resolves
// the OCI tag to a digest, verifies the cosign signatures on that digest
// against the keys in spec.verify, pulls exactly that digest under size
// caps, checks the module's ABI metadata, compiles it and swaps it into the
// catalog the stages read from. A new digest replaces the old one only once
// it is verified and compiled; until then the old one keeps serving.
// Nothing unverified is ever compiled.
//
// It imports the oci and plugin (wasm host) packages, never another
// controller.
package plugin
