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
	// Checkout clones the reference into dir and returns its revision.
	Checkout(ctx context.Context, dir string, req FetchRequest) (string, error)
}

// Storage stores artifacts and serves them over HTTP.
type Storage interface {
	// Archive packs dir (without what ignore excludes) into a deterministic
	// tarball for the object and returns the artifact for revision.
	Archive(ctx context.Context, kind, namespace, name, dir, ignore, revision string) (*meta.Artifact, error)
	// Has reports whether the artifact's file is still stored.
	Has(a *meta.Artifact) bool
	// GC keeps the newest keep artifacts of the object.
	GC(kind, namespace, name string, keep int) error
	// Remove deletes every artifact of the object.
	Remove(kind, namespace, name string) error
}
