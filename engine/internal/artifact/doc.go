// Package artifact stores source artifacts: it archives a directory into a
// deterministic tar.gz (entries sorted, times zeroed, owners cleared,
// modes normalized to 0644/0755, only regular files and directories, with
// Flux's default exclusions, spec.ignore and .sourceignore files applied),
// names it by its sha256 digest, keeps the newest few of each object,
// serves them read-only over HTTP, and opens them again for in-process
// consumers (Open, CopyToPath), checking the digest as they are read.
//
// Artifacts are laid out as <kind>/<namespace>/<name>/<digest>.tar.gz below
// the storage root, as source-controller lays them out, and described by
// Flux's meta.Artifact.
//
// It must not import controllers, controller-runtime or git packages.
package artifact
