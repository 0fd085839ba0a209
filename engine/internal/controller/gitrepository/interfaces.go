package gitrepository

import (
	"context"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/weir-gitops/weir/engine/internal/artifact"
	"github.com/weir-gitops/weir/engine/internal/source/git"
)

// Fetcher talks to the git remote; git.Client implements it.
type Fetcher interface {
	// Latest returns the revision the reference points at, in Flux's
	// format, with one round trip and no clone. It may return "" when the
	// reference kind cannot be resolved without a clone (a semver range or
	// a bare commit), which forces a checkout.
	Latest(ctx context.Context, req git.Request) (string, error)
	// Checkout clones the reference into dir (only the SparseCheckout
	// directories when there are any) and returns what it checked out.
	Checkout(ctx context.Context, dir string, req git.Request) (git.Checkout, error)
}

var _ Fetcher = git.Client{}

// Storage stores artifacts and serves them over HTTP; artifact.Storage
// implements it.
type Storage interface {
	// Archive packs dir (without what ignore excludes) into a deterministic
	// tarball for the object and returns the artifact for revision.
	Archive(ctx context.Context, kind, namespace, name, dir, ignore, revision string) (*meta.Artifact, error)
	// Has reports whether the artifact's file is still stored.
	Has(a *meta.Artifact) bool
	// CopyToPath extracts the part of the artifact under fromPath (all of
	// it when empty) into toPath below root, merging with what is there
	// and never writing through a symbolic link. The artifact's digest is
	// checked while it is read.
	CopyToPath(ctx context.Context, a *meta.Artifact, fromPath, root, toPath string) error
	// GC keeps the newest keep artifacts of the object.
	GC(kind, namespace, name string, keep int) error
	// Remove deletes every artifact of the object.
	Remove(kind, namespace, name string) error
	// Holds reports whether any artifact of the object is stored.
	Holds(kind, namespace, name string) bool
	// Serves reports whether the artifact's URL is this storage's.
	Serves(a *meta.Artifact) bool
}

var _ Storage = (*artifact.Storage)(nil)
