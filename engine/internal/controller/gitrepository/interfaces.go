package gitrepository

import (
	"context"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
)

// FetchRequest is what the Fetcher needs from a GitRepository and its
// Secrets.
type FetchRequest struct {
	URL       string
	Reference *sourcev1.GitRepositoryRef
	// Auth is the data of spec.secretRef's Secret, keyed as Flux names it.
	Auth map[string][]byte
	// ProxyURL comes from spec.proxySecretRef (address, username, password).
	ProxyURL string
	// RecurseSubmodules and SparseCheckout mirror the spec.
	RecurseSubmodules bool
	SparseCheckout    []string
}

// Fetcher talks to the git remote.
type Fetcher interface {
	// Latest returns the revision the reference points at, in Flux's
	// format, with one round trip and no clone. It may return "" when the
	// reference kind cannot be resolved without a clone (a semver range or
	// a bare commit), which forces a checkout.
	Latest(ctx context.Context, req FetchRequest) (string, error)
	// Checkout clones the reference into dir (only the SparseCheckout
	// directories when there are any) and returns what it checked out.
	Checkout(ctx context.Context, dir string, req FetchRequest) (Checkout, error)
}

// Checkout is the result of Fetcher.Checkout.
type Checkout struct {
	// Revision is in Flux's format, e.g. main@sha1:<hex>.
	Revision string
	// Commit is the checked out commit.
	Commit SignedObject
	// Tag is the tag object the reference resolved through (spec.ref.tag,
	// semver, or a refs/tags/ name); nil for other references. A
	// lightweight tag has a Name but no Hash and no Signature.
	Tag *SignedObject
}

// SignedObject is a git commit or annotated tag with its detached
// signature, as git stores it, and the exact bytes it signs.
type SignedObject struct {
	// Hash is the object's SHA-1 in hex; empty for a lightweight tag.
	Hash string
	// Name is the tag name; empty for commits.
	Name string
	// Signature is the armored OpenPGP or SSH signature; empty if unsigned.
	Signature string
	// Payload is the object encoded without its signature.
	Payload []byte
}

// Storage stores artifacts and serves them over HTTP.
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
}
