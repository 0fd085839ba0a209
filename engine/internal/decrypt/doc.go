// Package decrypt implements the SOPS decryption of a Kustomization
// (spec.decryption.provider: sops), with the behaviour of Flux's
// kustomize-controller for the key types Weir supports: age identities from
// Secret keys ending in ".agekey" and armored OpenPGP private keys from keys
// ending in ".asc".
//
// It decrypts at two points of a build:
//
//   - before kustomize runs, DecryptSources decrypts, in an in-memory
//     kustomize file system, the files that secretGenerator entries (files,
//     envs) and patches of the kustomization tree refer to;
//   - after kustomize runs, DecryptObjects decrypts objects that are whole
//     SOPS documents (a top-level "sops" key, as `sops --encrypt` writes a
//     Secret manifest) and Secret data entries that hold a SOPS document.
//
// EnsureDecrypted is the check for the other case: a build that has no
// decryption configured, or an object that opted out with the
// kustomize.toolkit.fluxcd.io/decrypt: disabled annotation, must not apply
// a SOPS-encrypted Secret.
//
// Keys and plaintext stay in memory: the package never writes a file, never
// runs a program (no gpg, no age plugins) and never reads the environment or
// the user's key files. Errors name the object or file and the reason, never
// a value, a key or a MAC. Cloud KMS and Vault key types are not supported
// and are reported as such.
//
// The package uses the SOPS library (github.com/getsops/sops/v3) for the
// document formats and the tree cipher, and filippo.io/age and
// github.com/ProtonMail/go-crypto for the master keys. It must not import
// controllers, controller-runtime or a Kubernetes client: it works on
// objects and file systems handed to it.
package decrypt
