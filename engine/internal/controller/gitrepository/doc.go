// Package gitrepository reconciles source.toolkit.fluxcd.io/v1
// GitRepositories: it asks the remote for the revision the ref points at,
// skips the clone when the stored artifact already has it, otherwise
// checks the ref out, archives it into a deterministic tarball and records
// status.artifact exactly as source-controller does.
//
// Git and storage are reached through the Fetcher and Storage interfaces,
// implemented by packages source/git and artifact. It must not import other
// controllers.
package gitrepository
