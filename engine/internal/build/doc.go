// Package build renders a Flux Kustomization: kustomize build on an
// in-memory copy of the source (no KRM or exec plugins, no path escapes;
// kustomize itself fetches HTTP resources and runs git for remote bases
// unless Options.NoRemoteBases refuses them), a generated kustomization.yaml
// for plain YAML, the spec's overlays (targetNamespace, prefix/suffix,
// patches, images, components) written into the path's kustomization file
// as Flux's generator writes them, SOPS decryption in memory, Flux's own
// post-build substitution and commonMetadata on the objects' metadata. Fetch downloads and unpacks a source artifact
// after checking its digest; Label and Decryptor are the stage's other steps
// around a build. The Kustomization stage, `engine build` and `engine diff`
// share it, so they render the same objects.
//
// It must not import the controllers.
package build
