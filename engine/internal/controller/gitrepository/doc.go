// Package gitrepository reconciles source.toolkit.fluxcd.io/v1
// GitRepositories: it asks the remote for the revision the ref points at,
// skips the clone when the stored artifact already has it (with the same
// ignore rules, sparse directories, included artifacts and verification),
// otherwise checks the ref out, verifies it, copies the included
// artifacts in, archives it into a deterministic tarball and records
// status.artifact exactly as source-controller does.
//
//   - spec.verify checks the OpenPGP or SSH signature of the HEAD commit,
//     the tag object, or both (modes HEAD, Tag, TagAndHEAD) against the
//     keys of verify.secretRef: entries ending in .sshpub hold SSH public
//     keys in authorized_keys format, every other entry an armored OpenPGP
//     key ring. A missing or bad signature leaves SourceVerified False and
//     keeps the last verified artifact.
//   - spec.sparseCheckout checks out only the listed directories; each
//     must exist in the commit. Entries are matched as whole directories,
//     so "app" never takes "app2/" or "app.yaml".
//   - spec.include copies another GitRepository's artifact (its fromPath
//     subtree) to toPath, merging with the checkout. A missing include sets
//     IncludeUnavailable. An index on the included names and a watch on
//     artifact changes rebuild the including GitRepositories as soon as an
//     included one has a new artifact; include cycles stall.
//
// With Options.Selector set (a shard), only matching GitRepositories are
// reconciled; the cache holds the others for the Kustomizations that
// consume them.
//
// Git and storage are reached through the Fetcher and Storage interfaces,
// implemented by source/git.Client and artifact.Storage. It must not import
// other controllers.
package gitrepository
