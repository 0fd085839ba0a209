// Package oci moves plugin modules through OCI registries: it pushes a Wasm
// module as a CNCF Wasm artifact (one application/vnd.wasm.content.layer.v1+wasm
// layer, an application/vnd.wasm.config.v1+json config, annotations from the
// module's metadata), pulls one back by digest under size caps, and signs and
// verifies artifacts with cosign keys in cosign's standard layout (a
// sha256-<hex>.sig tag in the same repository), so that the cosign CLI
// verifies what Weir signs and Weir verifies what cosign signs.
//
// Every pull is by digest: callers resolve a tag once, verify the signature
// on that digest, and pull exactly that digest, so a tag moved after
// verification never changes what runs.
//
// It must not import Kubernetes, controller-runtime, wazero or the
// controllers: it deals in references, bytes and keys.
package oci
