// Package build renders a Flux Kustomization: kustomize build confined to
// an in-memory copy of the source (no remote bases, no exec or KRM plugins,
// no path escapes), a generated kustomization.yaml for plain YAML, the
// spec's overlays (targetNamespace, prefix/suffix, patches, images,
// components, commonMetadata), SOPS decryption in memory, and Flux's own
// post-build substitution. Fetch downloads and unpacks a source artifact
// after checking its digest; Label and Decryptor are the stage's other steps
// around a build. The Kustomization stage, `engine build` and `engine diff`
// share it, so they render the same objects.
//
// It must not import the controllers.
package build
